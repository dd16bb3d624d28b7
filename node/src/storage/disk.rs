//! The only door to files: everything the storage reads or writes goes through [`Disk`], so the
//! same log code runs on a real directory ([`FileDisk`]), in memory for `-dev` ([`MemDisk`]), and
//! under the simulator with modelled crashes ([`super::SimDisk`]).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Flat, synchronous file access by name (no directories: a name is one file of the store).
///
/// Durability contract, which the log relies on:
/// - `append` makes bytes visible to later `read`s at once, but durable only after `sync`.
/// - `write_atomic` and `truncate` are durable when they return.
/// - A crash keeps every synced byte; of the unsynced tail it keeps some prefix (maybe none).
pub trait Disk: Send + Sync + 'static {
    /// The whole file, or `None` if it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Appends to the file, creating it if needed. Not durable until `sync`.
    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes every byte appended so far durable (fsync).
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Replaces the file with `bytes`, all or nothing, durably (temp file, fsync, rename, fsync
    /// the directory).
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Cuts the file to `len_bytes`, durably.
    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()>;
}

/// What a disk was asked to do: for benchmarks and for tests that count fsyncs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub appends: u64,
    pub bytes_appended: u64,
    pub syncs: u64,
    pub atomic_writes: u64,
    pub truncates: u64,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind, never a half-done file
    // operation we could repair, so poisoning carries no information worth failing on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A name must stay inside the store's directory.
pub(crate) fn check_name(name: &str) {
    assert!(
        !name.is_empty() && !name.contains(['/', '\\']),
        "bad file name {name:?}"
    );
    assert!(name != "." && name != "..", "bad file name {name:?}");
}

pub(crate) fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name:?}"))
}

/// Files in one directory on the real file system, with real fsyncs.
pub struct FileDisk {
    dir: PathBuf,
    state: Mutex<FileDiskState>,
}

#[derive(Default)]
struct FileDiskState {
    /// Open append handles: reopening the log for every persist would cost a syscall or two.
    appenders: BTreeMap<String, File>,
    stats: DiskStats,
}

impl FileDisk {
    /// Opens (creating if needed) the directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FileDisk> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(FileDisk {
            dir,
            state: Mutex::new(FileDiskState::default()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> DiskStats {
        lock(&self.state).stats
    }

    fn path(&self, name: &str) -> PathBuf {
        check_name(name);
        self.dir.join(name)
    }

    /// A new or renamed directory entry is durable only once the directory itself is synced.
    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn appender<'a>(&self, state: &'a mut FileDiskState, name: &str) -> io::Result<&'a mut File> {
        if !state.appenders.contains_key(name) {
            let path = self.path(name);
            let created = !path.exists();
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            if created {
                self.sync_dir()?;
            }
            state.appenders.insert(name.to_string(), file);
        }
        Ok(state.appenders.get_mut(name).expect("inserted above"))
    }
}

impl Disk for FileDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        self.appender(&mut state, name)?.write_all(bytes)?;
        state.stats.appends += 1;
        state.stats.bytes_appended += bytes.len() as u64;
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let mut state = lock(&self.state);
        // fdatasync is enough: it also flushes the file size, which is all an append changes.
        self.appender(&mut state, name)?.sync_data()?;
        state.stats.syncs += 1;
        Ok(())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name);
        let temp = self.path(&format!("{name}.tmp"));
        let mut state = lock(&self.state);
        // The handle would keep appending to the old file after the rename.
        state.appenders.remove(name);
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, &path)?;
        self.sync_dir()?;
        state.stats.atomic_writes += 1;
        Ok(())
    }

    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        let mut state = lock(&self.state);
        let file = OpenOptions::new().write(true).open(self.path(name))?;
        file.set_len(len_bytes)?;
        file.sync_all()?;
        state.stats.truncates += 1;
        Ok(())
    }
}

/// Files in memory, for `-dev` agents: nothing touches the disk, everything is lost on exit.
/// Clones share the same files, so a test can "restart" on the same contents.
#[derive(Clone, Default)]
pub struct MemDisk {
    state: Arc<Mutex<MemDiskState>>,
}

#[derive(Default)]
struct MemDiskState {
    files: BTreeMap<String, Vec<u8>>,
    stats: DiskStats,
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    pub fn stats(&self) -> DiskStats {
        lock(&self.state).stats
    }
}

impl Disk for MemDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        check_name(name);
        Ok(lock(&self.state).files.get(name).cloned())
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        state
            .files
            .entry(name.to_string())
            .or_default()
            .extend_from_slice(bytes);
        state.stats.appends += 1;
        state.stats.bytes_appended += bytes.len() as u64;
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        if !state.files.contains_key(name) {
            return Err(not_found(name));
        }
        state.stats.syncs += 1;
        Ok(())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        state.files.insert(name.to_string(), bytes.to_vec());
        state.stats.atomic_writes += 1;
        Ok(())
    }

    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        // Like set_len: shorter cuts, longer pads with zeros.
        file.resize(
            usize::try_from(len_bytes).expect("length fits in memory"),
            0,
        );
        state.stats.truncates += 1;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh directory under the system temp dir; removed when dropped.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(label: &str) -> TempDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("concord-{label}-{}-{unique}", std::process::id());
            let dir = std::env::temp_dir().join(name);
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The contract every implementation must keep, short of crashes.
    fn check_contract(disk: &dyn Disk) {
        assert_eq!(disk.read("a").unwrap(), None);
        disk.append("a", b"hello ").unwrap();
        disk.append("a", b"world").unwrap();
        disk.sync("a").unwrap();
        assert_eq!(
            disk.read("a").unwrap().as_deref(),
            Some(&b"hello world"[..])
        );
        disk.truncate("a", 5).unwrap();
        disk.append("a", b"!").unwrap();
        assert_eq!(disk.read("a").unwrap().as_deref(), Some(&b"hello!"[..]));
        disk.write_atomic("a", b"new").unwrap();
        disk.append("a", b"er").unwrap();
        assert_eq!(disk.read("a").unwrap().as_deref(), Some(&b"newer"[..]));
    }

    #[test]
    fn file_disk_keeps_the_contract_and_survives_reopen() {
        let dir = TempDir::new("disk");
        let disk = FileDisk::open(&dir.0).unwrap();
        check_contract(&disk);
        assert_eq!(disk.stats().syncs, 1);
        let reopened = FileDisk::open(&dir.0).unwrap();
        assert_eq!(reopened.read("a").unwrap().as_deref(), Some(&b"newer"[..]));
    }

    #[test]
    fn mem_disk_keeps_the_contract() {
        let disk = MemDisk::new();
        check_contract(&disk);
        assert_eq!(disk.stats().atomic_writes, 1);
    }

    #[test]
    #[should_panic(expected = "bad file name")]
    fn names_cannot_escape_the_directory() {
        let _ = MemDisk::new().read("../etc/passwd");
    }
}
