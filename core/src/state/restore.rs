//! Restoring a snapshot archive as a Raft operation every server applies: the archive's state
//! goes through the log in chunks (`Begin`, `Chunk`s, `Commit`), so each server replaces its
//! state at the same log index, and followers that were down catch up by the log or a Raft
//! snapshot like any other write.

use serde::{Deserialize, Serialize};

/// Largest state a restore may carry: 64 MiB.
pub const RESTORE_SIZE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Largest chunk of a restore in one log entry: 512 KiB (a value's maximum, so a chunk
/// entry fits every bound a KV write does).
pub const RESTORE_CHUNK_BYTES_MAX: usize = 512 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreCommand {
    /// A restore of `total_bytes` of state (`StateMachine::to_snapshot_bytes`) whose SHA-256 is
    /// `sha256` begins; a restore begun earlier and not committed is dropped.
    Begin {
        id: u64,
        total_bytes: u64,
        sha256: [u8; 32],
    },
    /// The bytes at `offset` of restore `id`.
    Chunk {
        id: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// Replace the state with the staged bytes, if they are complete and their hash matches.
    Commit { id: u64 },
}
