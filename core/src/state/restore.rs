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
/// What a chunk's command adds to its bytes: the command tags, id, offset and length.
const RESTORE_CHUNK_OVERHEAD_BYTES_MAX: usize = 64;
// A chunk entry is no larger than the largest KV command, so every bound sized for that
// (an entry in a WAL record, a forwarded or replicated entry in a frame) holds a chunk too.
const _: () = assert!(
    RESTORE_CHUNK_BYTES_MAX + RESTORE_CHUNK_OVERHEAD_BYTES_MAX <= crate::kv::COMMAND_SIZE_BYTES_MAX
);

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

/// A restore's bytes as they arrive, kept in the state (so a Raft snapshot taken between
/// chunks carries them, and every server commits the same bytes). Only the leader that
/// proposed the `Begin` proposes its chunks and commit, all in its term: an entry of a later
/// term means that leader is gone and the rest will never come, so the bytes are dropped
/// (`StateMachine::observe_term`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRestore {
    pub id: u64,
    /// The term of the `Begin`'s log entry: its chunks and commit must be of this term.
    pub term: u64,
    pub total_bytes: u64,
    pub sha256: [u8; 32],
    pub bytes: Vec<u8>,
}

impl StateMachine {
    /// An entry of `term` is applied: a restore staged in an earlier term will never get
    /// its remaining chunks or its commit (its leader is gone), so its bytes are dropped.
    /// Called for every entry, commands or not (a new leader's first entry is a no-op).
    pub fn observe_term(&mut self, term: u64) {
        if self.staged_restore.as_ref().is_some_and(|s| s.term < term) {
            self.staged_restore = None;
        }
    }

    /// Applies one step of a restore at `index` in `term`. Refuses (changing nothing but the
    /// staged bytes) a step that does not fit, saying why: a restore too large, a chunk of
    /// another restore, of another term or out of order, a commit of incomplete or damaged
    /// bytes.
    pub(super) fn apply_restore(
        &mut self,
        index: u64,
        term: u64,
        command: &RestoreCommand,
    ) -> Result<(), String> {
        match command {
            RestoreCommand::Begin {
                id,
                total_bytes,
                sha256,
            } => {
                // A restore begun earlier and not committed is dropped either way.
                self.staged_restore = None;
                if *total_bytes > RESTORE_SIZE_BYTES_MAX as u64 {
                    return Err(format!(
                        "restore of {total_bytes} bytes is over RESTORE_SIZE_BYTES_MAX \
                         ({RESTORE_SIZE_BYTES_MAX} bytes)"
                    ));
                }
                self.staged_restore = Some(StagedRestore {
                    id: *id,
                    term,
                    total_bytes: *total_bytes,
                    sha256: *sha256,
                    bytes: Vec::new(),
                });
                Ok(())
            }
            RestoreCommand::Chunk { id, offset, bytes } => {
                self.stage_chunk(*id, term, *offset, bytes)
            }
            RestoreCommand::Commit { id } => self.commit_restore(index, term, *id),
        }
    }

    /// The restore `id` staged in `term`, or why there is none.
    fn staged_mut(&mut self, id: u64, term: u64) -> Result<&mut StagedRestore, String> {
        match self.staged_restore.as_mut() {
            Some(staged) if staged.id == id && staged.term == term => Ok(staged),
            Some(staged) if staged.id == id => Err(format!(
                "restore {id} was begun in term {} and this step is of term {term}",
                staged.term
            )),
            _ => Err(format!(
                "restore {id} is not under way (dropped, replaced or never begun)"
            )),
        }
    }

    fn stage_chunk(&mut self, id: u64, term: u64, offset: u64, bytes: &[u8]) -> Result<(), String> {
        let staged = self.staged_mut(id, term)?;
        let staged_bytes = staged.bytes.len() as u64;
        let fits = staged_bytes + bytes.len() as u64 <= staged.total_bytes;
        if offset != staged_bytes || !fits || bytes.len() > RESTORE_CHUNK_BYTES_MAX {
            return Err(format!(
                "restore {id}: a chunk of {} bytes at offset {offset} does not follow the {} \
                 staged bytes of {}",
                bytes.len(),
                staged_bytes,
                staged.total_bytes
            ));
        }
        staged.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// Replaces the state with the staged one if it is complete, its hash matches and it
    /// decodes to a consistent state; then every index is brought to `index` (see
    /// `clamp_and_raise`). A refused commit drops the staged bytes and leaves the state.
    fn commit_restore(&mut self, index: u64, term: u64, id: u64) -> Result<(), String> {
        self.staged_mut(id, term)?;
        let staged = self.staged_restore.take().expect("checked just now");
        let staged_bytes = staged.bytes.len() as u64;
        if staged_bytes != staged.total_bytes {
            return Err(format!(
                "restore {id} is incomplete: {staged_bytes} of {} bytes arrived",
                staged.total_bytes
            ));
        }
        let hash: [u8; 32] = Sha256::digest(&staged.bytes).into();
        if hash != staged.sha256 {
            return Err(format!(
                "restore {id}: the bytes do not match their SHA-256"
            ));
        }
        let mut restored = StateMachine::from_snapshot_bytes(&staged.bytes)
            .map_err(|e| format!("restore {id}: {e}"))?;
        restored.staged_restore = None;
        restored.clamp_and_raise(index);
        restored.planted.bug = self.planted.bug;
        *self = restored;
        debug_assert_eq!(self.check_invariants(), Ok(()));
        Ok(())
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
