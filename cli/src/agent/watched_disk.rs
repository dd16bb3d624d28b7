//! The agent's data dir as the node's [`Disk`]: every error names the file's full path (the
//! storage layer knows only file names), and the first failed write is remembered, so that the
//! agent can tell a storage failure from a graceful leave when the node stops, and exit
//! non-zero for the one and zero for the other.

use concord_node::storage::{Disk, FileDisk};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// What the agent keeps to ask, once the node has stopped, whether its storage failed.
#[derive(Clone, Debug)]
pub struct StorageWatch {
    dir: PathBuf,
    failure: Arc<OnceLock<String>>,
}

impl StorageWatch {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first failed write, with the path and the reason.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }
}

pub struct WatchedDisk {
    inner: FileDisk,
    watch: StorageWatch,
}

impl WatchedDisk {
    pub fn open(dir: &Path) -> io::Result<(WatchedDisk, StorageWatch)> {
        let watch = StorageWatch {
            dir: dir.to_path_buf(),
            failure: Arc::new(OnceLock::new()),
        };
        let inner = FileDisk::open(dir)?;
        let disk = WatchedDisk {
            inner,
            watch: watch.clone(),
        };
        Ok((disk, watch))
    }

    /// The same error, with the path in its message.
    fn named(&self, name: &str, error: io::Error) -> io::Error {
        let path = self.watch.dir.join(name);
        io::Error::new(error.kind(), format!("{}: {error}", path.display()))
    }

    /// A failed write stops the node (the log refuses further writes), so it is remembered.
    fn write_result<T>(&self, name: &str, result: io::Result<T>) -> io::Result<T> {
        result.map_err(|error| {
            let error = self.named(name, error);
            let _ = self.watch.failure.set(error.to_string());
            error
        })
    }
}

impl Disk for WatchedDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.inner.read(name).map_err(|e| self.named(name, e))
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.write_result(name, self.inner.append(name, bytes))
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        self.write_result(name, self.inner.sync(name))
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.write_result(name, self.inner.write_atomic(name, bytes))
    }

    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        self.write_result(name, self.inner.truncate(name, len_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn a_failed_write_is_remembered_with_its_path() {
        let dir = TempDir::new("watched");
        let (disk, watch) = WatchedDisk::open(&dir.0).unwrap();
        disk.append("raft.log", b"abc").unwrap();
        assert_eq!(watch.failure(), None);
        // Truncating a file that does not exist fails as a real write error would.
        let err = disk.truncate("missing.log", 0).unwrap_err();
        let path = dir.0.join("missing.log").display().to_string();
        assert!(err.to_string().starts_with(&path), "{err}");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(watch.failure().unwrap().starts_with(&path));
        assert_eq!(disk.read("raft.log").unwrap().unwrap(), b"abc");
    }
}
