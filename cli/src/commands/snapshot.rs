//! `concord snapshot save | restore | inspect FILE`, as Consul's: `save` writes the archive of
//! `GET /v1/snapshot` to `FILE.unverified`, reads it back and checks every hash before renaming
//! it to FILE; `restore` sends FILE to `PUT /v1/snapshot` (the servers check it and apply it
//! through the Raft log); `inspect` checks FILE and prints its metadata and what it holds. The
//! archive is read by the node's own reader (`snapshot_archive::read_archive`), one definition.

use super::{fail, HttpArgs};
use crate::http_client::Reply;
use clap::{Args, Subcommand};
use concord_core::state::StateMachine;
use concord_node::http::snapshot_archive::{read_archive, Archive};
use std::path::Path;

/// Consul's suffix for the file `save` writes before it has checked it.
const UNVERIFIED_SUFFIX: &str = ".unverified";
/// Consul's inspect table (Go's tabwriter with padding 6, minimum width 8).
const TAB_PADDING: usize = 6;
const TAB_WIDTH_MIN: usize = 8;

#[derive(Subcommand, Clone, Debug)]
pub enum SnapshotCommand {
    /// Save a snapshot of the servers' state to FILE (checked before it is kept).
    Save(SaveArgs),
    /// Restore the servers' state from the snapshot in FILE.
    Restore(RestoreArgs),
    /// Check the snapshot in FILE and print what it holds.
    Inspect(InspectArgs),
}

#[derive(Args, Clone, Debug)]
pub struct SaveArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Take the snapshot from any server, even without a leader.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub stale: Option<bool>,
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

#[derive(Args, Clone, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

#[derive(Args, Clone, Debug)]
pub struct InspectArgs {
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

pub fn run(command: &SnapshotCommand) -> i32 {
    let result = match command {
        SnapshotCommand::Save(args) => one_file(&args.files).and_then(|f| save(args, f)),
        SnapshotCommand::Restore(args) => one_file(&args.files).and_then(|f| restore(args, f)),
        SnapshotCommand::Inspect(args) => one_file(&args.files).and_then(inspect),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(why) => fail(why),
    }
}

/// Consul's argument checks: exactly one FILE.
fn one_file(files: &[String]) -> Result<&str, String> {
    match files {
        [] => Err("Missing FILE argument".to_string()),
        [file] => Ok(file),
        _ => Err(format!(
            "Too many arguments (expected 1, got {})",
            files.len()
        )),
    }
}

fn save(args: &SaveArgs, file: &str) -> Result<String, String> {
    let client = args.http.client()?;
    let query: &[(&str, &str)] = if args.stale.unwrap_or(false) {
        &[("stale", "")]
    } else {
        &[]
    };
    let reply = client
        .get("/v1/snapshot", query)
        .and_then(Reply::success)
        .map_err(|e| format!("Error saving snapshot: {e}"))?;
    let unverified = format!("{file}{UNVERIFIED_SUFFIX}");
    let kept = write_verified(&reply.body, &unverified, file);
    if kept.is_err() {
        let _ = std::fs::remove_file(&unverified);
    }
    kept?;
    Ok(format!(
        "Saved and verified snapshot to index {}",
        reply.consul_index()
    ))
}

/// Writes `bytes` to `unverified` (mode 0600: a snapshot holds every secret in the KV store),
/// reads the file back, checks it, and renames it to `file`.
fn write_verified(bytes: &[u8], unverified: &str, file: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(unverified)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()).map(|()| f))
        .map_err(|e| format!("Error writing unverified snapshot file {unverified}: {e}"))?;
    out.flush()
        .map_err(|e| format!("Error writing unverified snapshot file {unverified}: {e}"))?;
    read_file(unverified).map_err(|e| format!("Error verifying snapshot file: {e}"))?;
    std::fs::rename(unverified, file)
        .map_err(|e| format!("Error renaming {unverified:?} to {file:?}: {e}"))
}

/// Reads and checks the archive in `path`.
fn read_file(path: &str) -> Result<Archive, String> {
    let bytes = std::fs::read(Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
    read_archive(&bytes)
}

fn restore(args: &RestoreArgs, file: &str) -> Result<String, String> {
    let client = args.http.client()?;
    let bytes =
        std::fs::read(file).map_err(|e| format!("Error opening snapshot file {file}: {e}"))?;
    client
        .put("/v1/snapshot", &[], &bytes)
        .and_then(Reply::success)
        .map_err(|e| format!("Error restoring snapshot: {e}"))?;
    Ok("Restored snapshot".to_string())
}

fn inspect(file: &str) -> Result<String, String> {
    let archive = read_file(file).map_err(|e| format!("Error verifying snapshot: {e}"))?;
    let state = StateMachine::from_snapshot_bytes(&archive.state)
        .map_err(|e| format!("Error reading the snapshot's state: {e}"))?;
    Ok(inspect_text(&archive, &counts(&state)))
}

/// What the state holds, by type: most first, as Consul sorts its table.
fn counts(state: &StateMachine) -> Vec<(&'static str, usize)> {
    let catalog = state.catalog();
    let nodes = catalog.nodes();
    let services = nodes
        .iter()
        .filter_map(|n| catalog.node(&n.name))
        .map(|(_, services)| services.len())
        .sum();
    let mut counts = vec![
        ("KVS", state.kv().len()),
        ("Session", state.sessions().len()),
        ("Node", nodes.len()),
        ("Service", services),
        ("Check", catalog.checks_in_state(None).len()),
    ];
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
}

/// Consul's `snapshot inspect` output: the metadata, then the table of types.
pub fn inspect_text(archive: &Archive, counts: &[(&str, usize)]) -> String {
    let meta = &archive.meta;
    let head = [
        vec![" ID".to_string(), meta.id.clone()],
        vec![" Size".to_string(), meta.size.to_string()],
        vec![" Index".to_string(), meta.index.to_string()],
        vec![" Term".to_string(), meta.term.to_string()],
        vec![" Version".to_string(), meta.version.to_string()],
    ];
    let dashes = || vec![" ----".to_string(), "----".into(), "----".into()];
    let mut table = vec![
        vec![" Type".to_string(), "Count".into(), "Size".into()],
        dashes(),
    ];
    for (name, count) in counts {
        table.push(vec![format!(" {name}"), count.to_string(), String::new()]);
    }
    table.push(dashes());
    table.push(vec![
        " Total".to_string(),
        String::new(),
        byte_size(meta.size),
    ]);
    format!("{}\n\n{}", tabwrite(&head, false), tabwrite(&table, true))
}

/// Go's tabwriter: each column padded to its widest cell plus the padding; `terminated` cells
/// (every cell ends in a tab) pad the last column too.
fn tabwrite(rows: &[Vec<String>], terminated: bool) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let aligned = if terminated { columns } else { columns - 1 };
    let widths: Vec<usize> = (0..aligned)
        .map(|i| {
            let widest = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0);
            (widest + TAB_PADDING).max(TAB_WIDTH_MIN)
        })
        .collect();
    let line = |row: &Vec<String>| {
        let cells = row.iter().enumerate().map(|(i, cell)| match widths.get(i) {
            Some(width) => format!("{cell:<width$}"),
            None => cell.clone(),
        });
        cells.collect::<String>()
    };
    rows.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// Go's `ByteSize` of Consul's inspect: `4.7KB`, `313B`, `0`.
fn byte_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TB"),
        (1 << 30, "GB"),
        (1 << 20, "MB"),
        (1 << 10, "KB"),
    ];
    if bytes == 0 {
        return "0".to_string();
    }
    let (divisor, unit) = UNITS
        .iter()
        .copied()
        .find(|(size, _)| bytes >= *size)
        .unwrap_or((1, "B"));
    let text = format!("{:.1}", bytes as f64 / divisor as f64);
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_node::http::snapshot_archive::{write_archive, ArchiveMeta};

    fn archive_file(dir: &Path, name: &str, state: &StateMachine) -> String {
        let bytes = state.to_snapshot_bytes();
        let meta = ArchiveMeta::new(&bytes, 42, 3, &[], 1_700_000_000_000);
        let path = dir.join(name);
        std::fs::write(&path, write_archive(&meta, &bytes, 0).unwrap()).unwrap();
        path.display().to_string()
    }

    fn scratch(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("concord-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn file_arguments_are_checked_as_consul_does() {
        assert_eq!(one_file(&[]).unwrap_err(), "Missing FILE argument");
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            one_file(&two).unwrap_err(),
            "Too many arguments (expected 1, got 2)"
        );
    }

    #[test]
    fn inspect_prints_consuls_table() {
        let dir = scratch("inspect");
        let path = archive_file(&dir, "s.snap", &StateMachine::new());
        let text = inspect(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Go's tabwriter: " Version" (8) plus padding 6 sets the first column's width.
        assert_eq!(lines[0], format!("{:<14}3-42-1700000000000", " ID"));
        assert_eq!(lines[2], format!("{:<14}42", " Index"));
        assert_eq!(lines[4], format!("{:<14}1", " Version"));
        assert_eq!(lines[5], "");
        assert!(lines[6].starts_with(" Type"), "{text}");
        assert!(
            text.contains(" KVS ") && text.contains(" Session "),
            "{text}"
        );
        assert!(lines.last().unwrap().starts_with(" Total"), "{text}");
    }

    #[test]
    fn a_tampered_or_unverifiable_save_is_not_kept() {
        let dir = scratch("save");
        let good = archive_file(&dir, "good.snap", &StateMachine::new());
        let unverified = dir.join("bad.snap.unverified").display().to_string();
        let target = dir.join("bad.snap").display().to_string();
        // An agent answering something else than an archive (a proxy's error page, say).
        let err = write_verified(b"<html>502</html>", &unverified, &target).unwrap_err();
        assert!(err.starts_with("Error verifying snapshot file: "), "{err}");
        assert!(
            !Path::new(&target).exists(),
            "an unverified archive is never renamed"
        );
        let bytes = std::fs::read(&good).unwrap();
        write_verified(&bytes, &unverified, &target).unwrap();
        assert!(Path::new(&target).exists() && !Path::new(&unverified).exists());
    }

    #[test]
    fn byte_sizes_read_like_go() {
        assert_eq!(byte_size(0), "0");
        assert_eq!(byte_size(313), "313B");
        assert_eq!(byte_size(4813), "4.7KB");
        assert_eq!(byte_size(2048), "2KB");
    }
}
