//! Claiming the data dir before anything is served: one agent per directory (an exclusive
//! lock, which the kernel drops when the process dies, however it dies), and a directory this
//! process can really write to (a probe file created, written and fsynced), so that a bad
//! directory stops the start instead of the first Raft write a second later.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Holds the lock and the PID of its holder, for the next agent's error message.
pub const LOCK_FILE: &str = "concord.lock";
/// Created, written, fsynced and removed at start. The PID keeps two starting agents apart.
const PROBE_FILE_PREFIX: &str = ".concord-write-probe";
/// What the probe writes: big enough to be a real write, small enough to cost nothing.
const PROBE_SIZE_BYTES: usize = 512;

/// The data dir, locked for this process until dropped (or the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    path: PathBuf,
    // The lock lives as long as this open file description.
    _file: File,
}

impl DataDirLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates `dir` if needed, takes its lock and checks it is writable. Errors name the path.
pub fn claim(dir: &Path) -> Result<DataDirLock, String> {
    fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data_dir {}: {e}", dir.display()))?;
    let lock = lock(dir)?;
    probe(dir)?;
    Ok(lock)
}

/// Takes the exclusive lock on `dir/concord.lock` and writes our PID into it.
pub fn lock(dir: &Path) -> Result<DataDirLock, String> {
    let path = dir.join(LOCK_FILE);
    // No truncate on open: the holder's PID must survive a failed attempt to read it.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            let why = match e.kind() {
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => "is not writable",
                _ => "is not usable",
            };
            format!(
                "data_dir {} {why}: cannot open the lock file {}: {e}",
                dir.display(),
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use(dir, &path, &mut file)),
        Err(TryLockError::Error(e)) => {
            return Err(format!(
                "cannot lock data_dir {} ({}): {e}",
                dir.display(),
                path.display()
            ))
        }
    }
    let pid = format!("{}\n", std::process::id());
    let write = |file: &mut File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(pid.as_bytes())?;
        file.sync_all()
    };
    write(&mut file).map_err(|e| {
        format!(
            "data_dir {} is not writable: cannot write {}: {e}",
            dir.display(),
            path.display()
        )
    })?;
    Ok(DataDirLock { path, _file: file })
}

fn in_use(dir: &Path, path: &Path, file: &mut File) -> String {
    let mut text = String::new();
    let holder = match file
        .read_to_string(&mut text)
        .ok()
        .and_then(|_| text.trim().parse::<u32>().ok())
    {
        Some(pid) => format!("another agent (PID {pid})"),
        None => "another agent".to_string(),
    };
    format!(
        "data_dir {} is in use by {holder}, which holds the lock {}: stop that agent, or give this one its own -data-dir",
        dir.display(),
        path.display()
    )
}

/// Creates, writes and fsyncs a probe file in `dir`, then removes it.
pub fn probe(dir: &Path) -> Result<(), String> {
    let path = dir.join(format!("{PROBE_FILE_PREFIX}-{}", std::process::id()));
    let attempt = || -> std::io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(&[0u8; PROBE_SIZE_BYTES])?;
        file.sync_all()?;
        fs::remove_file(&path)
    };
    attempt().map_err(|e| {
        let _ = fs::remove_file(&path);
        format!(
            "data_dir {} is not writable: probe file {}: {e}",
            dir.display(),
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn a_second_claim_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = TempDir::new("lock");
        let first = claim(&dir.0).unwrap();
        let pid = fs::read_to_string(first.path()).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        let err = claim(&dir.0).unwrap_err();
        let want = format!(
            "data_dir {} is in use by another agent (PID {})",
            dir.0.display(),
            std::process::id()
        );
        assert!(err.starts_with(&want), "{err}");
        drop(first);
        assert!(claim(&dir.0).is_ok(), "the lock goes with its holder");
    }

    #[test]
    fn a_data_dir_that_cannot_be_created_names_the_path() {
        let dir = TempDir::new("probe");
        let file = dir.write("plain-file", "x");
        let inside = file.join("data");
        let err = claim(&inside).unwrap_err();
        assert!(err.contains(&inside.display().to_string()), "{err}");
        assert!(probe(&file).unwrap_err().contains("is not writable"));
        probe(&dir.0).unwrap();
        assert_eq!(
            fs::read_dir(&dir.0).unwrap().count(),
            1,
            "the probe is removed"
        );
    }
}
