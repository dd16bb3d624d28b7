//! Durable storage of the node: the Raft hard state, log entries and snapshot.
//!
//! All file access goes through the [`Disk`] trait, so the same write-ahead log runs on a real
//! directory ([`FileDisk`]), in memory for `-dev` ([`MemDisk`]), and in the simulator with
//! crashes that lose or tear unsynced writes ([`SimDisk`]). [`RaftStorage`] is the log itself:
//! group commit, torn-tail repair, refusal of mid-log corruption, snapshot and compaction.

mod disk;
mod error;
mod record;
mod sim_disk;
mod wal;

#[cfg(test)]
mod tests;

pub use disk::{Disk, DiskStats, FileDisk, MemDisk};
pub use error::{Corruption, StorageError};
pub use record::{RECORD_HEADER_BYTES, RECORD_SIZE_BYTES_MAX, SNAPSHOT_FRAME_BYTES_MAX};
pub use sim_disk::{CrashReport, SimDisk};
pub use wal::{RaftStorage, Recovered, StorageStats, LOG_FILE, LOG_WRITE_BYTES_MAX, SNAPSHOT_FILE};
