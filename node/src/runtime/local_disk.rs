//! The agent's own services and checks on disk: `Action::PersistLocal` bytes written
//! atomically to `LOCAL_STATE_FILE` beside the Raft files, read back at start. The disk is
//! shared with Raft's storage (`SharedDisk`), so `-dev`'s memory disk keeps nothing across a
//! restart, as the rest of a `-dev` agent.

use crate::storage::Disk;
use std::io;
use std::sync::Arc;

pub const LOCAL_STATE_FILE: &str = "local-state.bin";

/// One disk for Raft's storage and the local state.
pub struct SharedDisk(pub Arc<dyn Disk>);

impl Disk for SharedDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.0.read(name)
    }
    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.append(name, bytes)
    }
    fn sync(&self, name: &str) -> io::Result<()> {
        self.0.sync(name)
    }
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.write_atomic(name, bytes)
    }
    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        self.0.truncate(name, len_bytes)
    }
}
