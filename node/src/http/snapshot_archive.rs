//! Snapshot archives (`GET/PUT /v1/snapshot`, `concord snapshot save|restore|inspect`): Consul's
//! container, gzip(tar[`meta.json`, `state.bin`, `SHA256SUMS`]), so tools that move Consul's
//! snapshot bytes around (py-consul, curl, `tar tzf`) handle Concord's unchanged. `meta.json` is
//! Raft's SnapshotMeta as JSON plus `ConcordFormat`; `state.bin` is
//! `StateMachine::to_snapshot_bytes`; `SHA256SUMS` holds `<hex>  <name>` lines. Reading checks
//! every hash and refuses extra files and a `state.bin` that is not Concord's (a Consul
//! snapshot's state is a Go msgpack stream Concord cannot read).

use concord_core::agent::RaftServer;
use concord_core::state::{RESTORE_SIZE_BYTES_MAX, SNAPSHOT_MAGIC};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;

/// Largest archive read (the body limit of `PUT /v1/snapshot`): the largest state a restore
/// takes, plus room for gzip's and tar's framing and `meta.json` (deflate grows incompressible
/// data by well under 1%, tar adds 512-byte headers).
pub const SNAPSHOT_ARCHIVE_BYTES_MAX: usize = RESTORE_SIZE_BYTES_MAX + ARCHIVE_OVERHEAD_BYTES_MAX;
const ARCHIVE_OVERHEAD_BYTES_MAX: usize = 1024 * 1024;
/// `meta.json` lists the servers: far below this.
const META_BYTES_MAX: usize = 256 * 1024;
/// Two lines of 64 hex digits and a name.
const SUMS_BYTES_MAX: usize = 4 * 1024;
/// Bytes read out of the gzip stream at most (the files plus tar headers and padding), so a
/// small archive that inflates without end is cut off.
const INFLATED_BYTES_MAX: u64 =
    (RESTORE_SIZE_BYTES_MAX + META_BYTES_MAX + SUMS_BYTES_MAX + 64 * 1024) as u64;

pub const META_NAME: &str = "meta.json";
pub const STATE_NAME: &str = "state.bin";
pub const SUMS_NAME: &str = "SHA256SUMS";

/// Why a `state.bin` is refused: it is not Concord's.
pub const NOT_CONCORD: &str =
    "state.bin is not a Concord snapshot (Consul snapshots cannot be restored into Concord)";

/// Raft's SnapshotMeta as Consul writes it into `meta.json` (Go's field order), plus
/// `ConcordFormat`, the version of `state.bin`'s encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveMeta {
    pub version: u32,
    #[serde(rename = "ID")]
    pub id: String,
    pub index: u64,
    pub term: u64,
    /// Raft's legacy peer list; Concord writes `null` (Go decodes it as no bytes).
    #[serde(default)]
    pub peers: Option<String>,
    #[serde(default)]
    pub configuration: ArchiveConfiguration,
    #[serde(default)]
    pub configuration_index: u64,
    /// Bytes of `state.bin`.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concord_format: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveConfiguration {
    #[serde(default)]
    pub servers: Vec<ArchiveServer>,
}

/// One Raft server; `Suffrage` is Go raft's number (0 voter, 1 nonvoter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveServer {
    pub suffrage: u8,
    #[serde(rename = "ID")]
    pub id: String,
    pub address: String,
}

/// A checked archive: its metadata and the state (`StateMachine::from_snapshot_bytes` reads it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    pub meta: ArchiveMeta,
    pub state: Vec<u8>,
}

impl ArchiveMeta {
    /// The metadata of `state` taken at `index` of `term` (`ID` is Raft's
    /// `<term>-<index>-<unix ms>`).
    pub fn new(
        state: &[u8],
        index: u64,
        term: u64,
        servers: &[RaftServer],
        now_unix_ms: u64,
    ) -> ArchiveMeta {
        let servers = servers
            .iter()
            .map(|s| ArchiveServer {
                suffrage: if s.voter { 0 } else { 1 },
                id: s.id.clone(),
                address: s.address.clone(),
            })
            .collect();
        ArchiveMeta {
            version: 1,
            id: format!("{term}-{index}-{now_unix_ms}"),
            index,
            term,
            peers: None,
            configuration: ArchiveConfiguration { servers },
            configuration_index: 0,
            size: state.len() as u64,
            concord_format: concord_format(state),
        }
    }
}

/// The format version in a Concord `state.bin`'s header, `None` if it is not Concord's.
fn concord_format(state: &[u8]) -> Option<u32> {
    let rest = state.strip_prefix(&SNAPSHOT_MAGIC[..])?;
    let version: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(version))
}

/// The archive of `state` with `meta` (files dated `mtime_unix_secs`). Refuses a state that is
/// not Concord's or larger than a restore takes (it could never be restored).
pub fn write_archive(
    meta: &ArchiveMeta,
    state: &[u8],
    mtime_unix_secs: u64,
) -> Result<Vec<u8>, String> {
    if concord_format(state).is_none() {
        return Err(format!("cannot archive: {NOT_CONCORD}"));
    }
    if state.len() > RESTORE_SIZE_BYTES_MAX {
        return Err(format!(
            "cannot archive: the state is {} bytes, over the {RESTORE_SIZE_BYTES_MAX}-byte \
             maximum a restore takes",
            state.len()
        ));
    }
    let mut meta_json =
        serde_json::to_vec(meta).map_err(|e| format!("cannot encode meta.json: {e}"))?;
    meta_json.push(b'\n'); // Go's json.Encoder ends with a newline
    let sums = format!(
        "{}  {META_NAME}\n{}  {STATE_NAME}\n",
        sha256_hex(&meta_json),
        sha256_hex(state)
    );
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (name, data) in [
        (META_NAME, &meta_json[..]),
        (STATE_NAME, state),
        (SUMS_NAME, sums.as_bytes()),
    ] {
        let mut header = tar::Header::new_ustar();
        header
            .set_path(name)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime_unix_secs);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder
            .append(&header, data)
            .map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    let gzip = builder
        .into_inner()
        .map_err(|e| format!("cannot write the archive: {e}"))?;
    gzip.finish()
        .map_err(|e| format!("cannot write the archive: {e}"))
}

/// Reads and checks an archive: exactly the three files, every hash in `SHA256SUMS` right and
/// every file hashed, `meta.json` readable, `state.bin` Concord's and of `meta.json`'s size.
pub fn read_archive(bytes: &[u8]) -> Result<Archive, String> {
    if bytes.len() > SNAPSHOT_ARCHIVE_BYTES_MAX {
        return Err(format!(
            "snapshot archive is {} bytes, over the maximum of {SNAPSHOT_ARCHIVE_BYTES_MAX} bytes",
            bytes.len()
        ));
    }
    let files = read_files(bytes)?;
    verify_sums(&files).map_err(|e| format!("failed checking integrity of snapshot: {e}"))?;
    let meta: ArchiveMeta = serde_json::from_slice(&files.meta)
        .map_err(|e| format!("failed to read {META_NAME} of the snapshot: {e}"))?;
    if concord_format(&files.state).is_none() {
        return Err(NOT_CONCORD.to_string());
    }
    if meta.size != files.state.len() as u64 {
        return Err(format!(
            "{META_NAME} gives a Size of {} bytes but {STATE_NAME} has {} bytes",
            meta.size,
            files.state.len()
        ));
    }
    Ok(Archive {
        meta,
        state: files.state,
    })
}

/// The three files of an archive.
struct Files {
    meta: Vec<u8>,
    state: Vec<u8>,
    sums: Vec<u8>,
}

/// Unpacks the archive, bounding each file by its own maximum before reading it.
fn read_files(bytes: &[u8]) -> Result<Files, String> {
    let bad = |e: std::io::Error| format!("snapshot archive is not a gzip-compressed tar: {e}");
    let mut archive = tar::Archive::new(GzDecoder::new(bytes).take(INFLATED_BYTES_MAX));
    let (mut meta, mut state, mut sums) = (None, None, None);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let (slot, size_max) = match name.as_str() {
            META_NAME => (&mut meta, META_BYTES_MAX),
            STATE_NAME => (&mut state, RESTORE_SIZE_BYTES_MAX),
            SUMS_NAME => (&mut sums, SUMS_BYTES_MAX),
            _ => return Err(format!("unexpected file {name:?} in snapshot")),
        };
        if slot.is_some() || !entry.header().entry_type().is_file() {
            return Err(format!(
                "unexpected file {name:?} in snapshot (twice, or not a file)"
            ));
        }
        let size = entry.header().size().map_err(bad)?;
        if size > size_max as u64 {
            return Err(format!(
                "{name} in snapshot is {size} bytes, over the maximum of {size_max} bytes"
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(bad)?;
        *slot = Some(data);
    }
    let missing = |name: &str| format!("snapshot archive has no {name}");
    Ok(Files {
        meta: meta.ok_or_else(|| missing(META_NAME))?,
        state: state.ok_or_else(|| missing(STATE_NAME))?,
        sums: sums.ok_or_else(|| missing(SUMS_NAME))?,
    })
}

/// Consul's check: every line names a file we read with its right hash, and every file we read
/// (but SHA256SUMS itself) has a line.
fn verify_sums(files: &Files) -> Result<(), String> {
    let text = std::str::from_utf8(&files.sums).map_err(|_| format!("{SUMS_NAME} is not text"))?;
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, name) = line
            .split_once("  ")
            .ok_or_else(|| format!("malformed line in {SUMS_NAME}: {line:?}"))?;
        let data = match name {
            META_NAME => &files.meta,
            STATE_NAME => &files.state,
            _ => return Err(format!("list missing hash for {name:?}")),
        };
        if !hash.eq_ignore_ascii_case(&sha256_hex(data)) {
            return Err(format!("hash check failed for {name:?}"));
        }
        seen.push(name);
    }
    match [META_NAME, STATE_NAME]
        .into_iter()
        .find(|n| !seen.contains(n))
    {
        Some(name) => Err(format!("file missing for {name:?}")),
        None => Ok(()),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn state(body: &[u8]) -> Vec<u8> {
        let mut bytes = SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&5u32.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    fn servers() -> Vec<RaftServer> {
        vec![RaftServer {
            id: "s1".into(),
            node: "s1".into(),
            address: "127.0.0.1:8300".into(),
            leader: true,
            voter: true,
        }]
    }

    fn archive_of(state: &[u8]) -> Vec<u8> {
        let meta = ArchiveMeta::new(state, 42, 3, &servers(), 1_700_000_000_000);
        write_archive(&meta, state, 1_700_000_000).unwrap()
    }

    /// A gzip(tar) of the given files, as another tool (or an attacker) could write it.
    fn raw_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (name, data) in files {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).unwrap();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut tar = tar::Archive::new(GzDecoder::new(archive));
        let entries = tar.entries().unwrap().map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.path().unwrap().display().to_string(), data)
        });
        entries.collect()
    }

    #[test]
    fn an_archive_reads_back_with_its_meta() {
        let state = state(&[0, 1, 2, 255, 7]);
        let archive = read_archive(&archive_of(&state)).unwrap();
        assert_eq!(archive.state, state);
        let meta = archive.meta;
        assert_eq!((meta.index, meta.term, meta.version), (42, 3, 1));
        assert_eq!(meta.id, "3-42-1700000000000");
        assert_eq!(
            (meta.size, meta.concord_format),
            (state.len() as u64, Some(5))
        );
        assert_eq!(meta.configuration.servers[0].address, "127.0.0.1:8300");
        assert_eq!(meta.configuration.servers[0].suffrage, 0);
    }

    #[test]
    fn the_container_is_consuls() {
        let state = state(b"x");
        let files = entries(&archive_of(&state));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [META_NAME, STATE_NAME, SUMS_NAME]);
        let meta: serde_json::Value = serde_json::from_slice(&files[0].1).unwrap();
        let keys: Vec<&str> = meta
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // serde_json's map sorts keys; the set is Go's SnapshotMeta's plus ConcordFormat.
        assert_eq!(
            keys,
            [
                "ConcordFormat",
                "Configuration",
                "ConfigurationIndex",
                "ID",
                "Index",
                "Peers",
                "Size",
                "Term",
                "Version"
            ]
        );
        assert_eq!(meta["Configuration"]["Servers"][0]["ID"], "s1");
        let sums = String::from_utf8(files[2].1.clone()).unwrap();
        let lines: Vec<&str> = sums.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], format!("{}  state.bin", sha256_hex(&state)));
        assert_eq!(lines[0].len(), 64 + 2 + META_NAME.len());
    }

    #[test]
    fn a_tampered_file_fails_its_hash() {
        let state = state(b"original");
        let files = entries(&archive_of(&state));
        let tampered = raw_archive(&[
            (META_NAME, &files[0].1),
            (STATE_NAME, &self::state(b"tampered")),
            (SUMS_NAME, &files[2].1),
        ]);
        let err = read_archive(&tampered).unwrap_err();
        assert_eq!(
            err,
            "failed checking integrity of snapshot: hash check failed for \"state.bin\""
        );
    }

    #[test]
    fn missing_extra_and_unhashed_files_are_refused() {
        let files = entries(&archive_of(&state(b"s")));
        let (meta, st, sums) = (&files[0].1[..], &files[1].1[..], &files[2].1[..]);
        let extra = raw_archive(&[
            (META_NAME, meta),
            (STATE_NAME, st),
            (SUMS_NAME, sums),
            ("x", b""),
        ]);
        assert_eq!(
            read_archive(&extra).unwrap_err(),
            "unexpected file \"x\" in snapshot"
        );
        let no_sums = raw_archive(&[(META_NAME, meta), (STATE_NAME, st)]);
        assert_eq!(
            read_archive(&no_sums).unwrap_err(),
            "snapshot archive has no SHA256SUMS"
        );
        let one_line = format!("{}  state.bin\n", sha256_hex(st));
        let unhashed = raw_archive(&[
            (META_NAME, meta),
            (STATE_NAME, st),
            (SUMS_NAME, one_line.as_bytes()),
        ]);
        assert!(read_archive(&unhashed)
            .unwrap_err()
            .ends_with("file missing for \"meta.json\""));
        let twice = raw_archive(&[
            (META_NAME, meta),
            (META_NAME, meta),
            (STATE_NAME, st),
            (SUMS_NAME, sums),
        ]);
        assert!(read_archive(&twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn a_consul_state_is_refused_with_the_reason() {
        // A Consul snapshot: the same container, a msgpack state, valid hashes.
        let consul_state = b"\x00\x83\xa4Node\xa2n1".to_vec();
        let meta = br#"{"Version":1,"ID":"2-10-1","Index":10,"Term":2,"Peers":null,"Configuration":{"Servers":[]},"ConfigurationIndex":1,"Size":9}"#;
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            sha256_hex(meta),
            sha256_hex(&consul_state)
        );
        let archive = raw_archive(&[
            (META_NAME, meta),
            (STATE_NAME, &consul_state),
            (SUMS_NAME, sums.as_bytes()),
        ]);
        assert_eq!(read_archive(&archive).unwrap_err(), NOT_CONCORD);
        let meta = ArchiveMeta::new(&consul_state, 1, 1, &[], 0);
        assert!(write_archive(&meta, &consul_state, 0)
            .unwrap_err()
            .contains(NOT_CONCORD));
    }

    #[test]
    fn garbage_and_bombs_are_refused_without_panics() {
        assert!(read_archive(b"not gzip")
            .unwrap_err()
            .contains("not a gzip-compressed tar"));
        assert!(read_archive(&[]).is_err());
        // A state.bin declared over the restore maximum is refused before it is read.
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        let mut header = tar::Header::new_ustar();
        header.set_path(STATE_NAME).unwrap();
        header.set_size(RESTORE_SIZE_BYTES_MAX as u64 + 1);
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        gz.write_all(&[0u8; 4096]).unwrap();
        let err = read_archive(&gz.finish().unwrap()).unwrap_err();
        assert!(err.contains("over the maximum"), "{err}");
        let mut big = vec![0u8; SNAPSHOT_ARCHIVE_BYTES_MAX + 1];
        big[0] = 0x1f;
        assert!(read_archive(&big).unwrap_err().contains("over the maximum"));
    }
}
