//! Restoring a snapshot archive as a Raft operation every server applies: the archive's state
//! goes through the log in chunks (`Begin`, `Chunk`s, `Commit`), so each server replaces its
//! state at the same log index, and followers that were down catch up by the log or a Raft
//! snapshot like any other write.

use super::{StateMachine, TableId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// A restore's bytes as they arrive, kept in the state (so a snapshot taken between chunks
/// carries them, and every server commits the same bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRestore {
    pub id: u64,
    pub total_bytes: u64,
    pub sha256: [u8; 32],
    pub bytes: Vec<u8>,
}

impl StateMachine {
    /// Applies one step of a restore at `index`. Returns false (changing nothing but the
    /// staged bytes) for a step that does not fit: a restore too large, a chunk of another
    /// restore or out of order, a commit of incomplete or damaged bytes.
    pub(super) fn apply_restore(&mut self, index: u64, command: &RestoreCommand) -> bool {
        match command {
            RestoreCommand::Begin {
                id,
                total_bytes,
                sha256,
            } => {
                // A restore begun earlier and not committed is dropped either way.
                self.staged_restore = None;
                if *total_bytes > RESTORE_SIZE_BYTES_MAX as u64 {
                    return false;
                }
                self.staged_restore = Some(StagedRestore {
                    id: *id,
                    total_bytes: *total_bytes,
                    sha256: *sha256,
                    bytes: Vec::new(),
                });
                true
            }
            RestoreCommand::Chunk { id, offset, bytes } => self.stage_chunk(*id, *offset, bytes),
            RestoreCommand::Commit { id } => self.commit_restore(index, *id),
        }
    }

    fn stage_chunk(&mut self, id: u64, offset: u64, bytes: &[u8]) -> bool {
        let Some(staged) = self.staged_restore.as_mut().filter(|s| s.id == id) else {
            return false;
        };
        let staged_bytes = staged.bytes.len() as u64;
        let fits = staged_bytes + bytes.len() as u64 <= staged.total_bytes;
        if offset != staged_bytes || !fits || bytes.len() > RESTORE_CHUNK_BYTES_MAX {
            return false;
        }
        staged.bytes.extend_from_slice(bytes);
        true
    }

    /// Replaces the state with the staged one if it is complete, its hash matches and it
    /// decodes to a consistent state; then every index is brought to `index` (see
    /// `clamp_and_raise`). A refused commit drops the staged bytes and leaves the state.
    fn commit_restore(&mut self, index: u64, id: u64) -> bool {
        if self.staged_restore.as_ref().is_none_or(|s| s.id != id) {
            return false;
        }
        let staged = self.staged_restore.take().expect("checked just now");
        let complete = staged.bytes.len() as u64 == staged.total_bytes;
        let hash: [u8; 32] = Sha256::digest(&staged.bytes).into();
        if !complete || hash != staged.sha256 {
            return false;
        }
        let Ok(mut restored) = StateMachine::from_snapshot_bytes(&staged.bytes) else {
            return false;
        };
        restored.staged_restore = None;
        restored.clamp_and_raise(index);
        restored.planted.bug = self.planted.bug;
        *self = restored;
        debug_assert_eq!(self.check_invariants(), Ok(()));
        true
    }

    /// The restored state at raft index `index`: every object index above `index` is lowered
    /// to it (a snapshot from a longer log), then every table index and watch index is raised
    /// to it, so no blocking read's index goes backwards and every one wakes.
    fn clamp_and_raise(&mut self, index: u64) {
        self.kv.clamp_and_raise(index);
        self.catalog.clamp_and_raise(index);
        self.sessions.clamp_indexes(index);
        if let Some(config) = self.autopilot.as_mut() {
            config.create_index = config.create_index.min(index);
            config.modify_index = index;
        }
        for table in TableId::ALL.into_iter().filter(|t| *t != TableId::Kv) {
            self.table_indexes.insert(table, index);
        }
    }
}
