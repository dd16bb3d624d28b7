//! Snapshots on the agent (`/v1/snapshot`). Save answers the whole state at the applied index
//! (after ReadIndex when consistent, like a read). Restore is a Raft operation every server
//! applies: the state goes through the log as `Begin`, `Chunk`s and `Commit`, proposed back to
//! back, and the request is answered once `Commit` applies. When a restore commits, every
//! server clears its lock-delays, journals a lock reset, and wakes every parked blocking read
//! (they read the new state).

use super::api::{ApiError, ApiResult, Consistency, Request, Response};
use super::command::Command;
use super::pending::{Origin, PendingRead};
use super::requests::raft_error;
use super::Agent;
use crate::state::{RestoreCommand, StateMachine, RESTORE_CHUNK_BYTES_MAX, RESTORE_SIZE_BYTES_MAX};
use sha2::{Digest, Sha256};

/// Log bytes one restore entry carries beyond its chunk (command encoding, entry header).
const RESTORE_ENTRY_OVERHEAD_BYTES: usize = 128;

impl Agent {
    /// `SnapshotSave` where `route` placed it.
    pub(super) fn save_snapshot(&mut self, origin: Origin, consistency: Consistency) {
        match consistency {
            Consistency::Consistent => self.start_consistent_read(origin, PendingRead::Snapshot),
            Consistency::Default | Consistency::Stale => {
                let response = self.snapshot_response();
                self.reply(origin, Ok(response));
            }
        }
    }

    /// The whole state at the applied index, its term, and the Raft servers now.
    pub(super) fn snapshot_response(&self) -> Response {
        let raft = self.raft.as_ref().expect("servers have raft");
        let index = raft.applied_index();
        let term = raft.log().term_at(index).unwrap_or_else(|| raft.term());
        let Response::RaftConfiguration { servers, .. } = self.raft_configuration() else {
            unreachable!("raft_configuration answers the configuration")
        };
        Response::Snapshot {
            // Without a restore under way here: it is this cluster's, not the archive's.
            state: self.state.to_archive_bytes(),
            index,
            term,
            servers,
        }
    }

    /// `SnapshotRestore` on the leader: checks the state, then proposes it through the log.
    pub(super) fn restore_from(&mut self, origin: Origin, state: Vec<u8>) {
        if let Err(why) = check_restorable(&state) {
            return self.reply(origin, Err(ApiError::BadRequest(why)));
        }
        let chunks = state.len().div_ceil(RESTORE_CHUNK_BYTES_MAX);
        if let Err(error) = self.restore_room(state.len(), chunks + 2) {
            return self.reply(origin, Err(error));
        }
        let id = self.id_rng.next_u64();
        let sha256: [u8; 32] = Sha256::digest(&state).into();
        let begin = RestoreCommand::Begin {
            id,
            total_bytes: state.len() as u64,
            sha256,
        };
        let chunks = state.chunks(RESTORE_CHUNK_BYTES_MAX).enumerate();
        let chunks = chunks.map(|(i, bytes)| RestoreCommand::Chunk {
            id,
            offset: (i * RESTORE_CHUNK_BYTES_MAX) as u64,
            bytes: bytes.to_vec(),
        });
        let steps = std::iter::once(begin).chain(chunks);
        for step in steps.chain(std::iter::once(RestoreCommand::Commit { id })) {
            let is_commit = matches!(step, RestoreCommand::Commit { .. });
            let raft = self.raft.as_mut().expect("leaders have raft");
            match raft.propose(self.now_ms, Command::Restore(step).encode()) {
                Ok(index) if is_commit => return self.wait_for_apply(origin, index),
                Ok(_) => {}
                // Checked room above; if it still fails, the begun restore is dropped by the
                // next `Begin` (and a restore never commits without all its bytes).
                Err(e) => return self.reply(origin, Err(raft_error(e))),
            }
        }
        unreachable!("the last step is the commit");
    }

    /// Refuses (429, naming the bound) a restore whose `entries` the leader's log cannot take
    /// now: proposed back to back, they must fit its uncommitted entries and its bytes.
    fn restore_room(&self, state_bytes: usize, entries: usize) -> Result<(), ApiError> {
        let raft = self.raft.as_ref().expect("leaders have raft");
        let options = &self.config.raft;
        let uncommitted = (raft.last_index() - raft.commit_index()) as usize;
        let room = options.uncommitted_entries_max.saturating_sub(uncommitted);
        if entries > room {
            return Err(ApiError::RateLimited(format!(
                "a restore of {state_bytes} bytes takes {entries} log entries and only {room} more \
                 may be uncommitted now (uncommitted_entries_max {}); retry shortly",
                options.uncommitted_entries_max
            )));
        }
        let needed = state_bytes + entries * RESTORE_ENTRY_OVERHEAD_BYTES;
        let log_bytes = raft.log().size_bytes();
        if log_bytes + needed > options.log_bytes_max {
            return Err(ApiError::RateLimited(format!(
                "a restore of {state_bytes} bytes does not fit the log now ({log_bytes} of \
                 log_bytes_max {} bytes in use); retry once it is compacted",
                options.log_bytes_max
            )));
        }
        Ok(())
    }

    /// Refuses a request that would not fit one forwarded frame: a restore whose state is
    /// over `forward_bytes_max` (the transport would drop it and the caller wait in vain).
    pub(super) fn check_forwardable(&self, request: &Request) -> Result<(), ApiError> {
        let Request::SnapshotRestore { state } = request else {
            return Ok(());
        };
        let bytes_max = self.config.forward_bytes_max;
        if state.len() <= bytes_max {
            return Ok(());
        }
        Err(ApiError::TooLarge(format!(
            "snapshot of {} bytes is over the {bytes_max} bytes one forwarded request may \
             carry; send it to the leader's HTTP address",
            state.len()
        )))
    }

    /// A reply going back to another agent, made to fit one frame: a snapshot over
    /// `forward_bytes_max` is replaced by the error saying so.
    pub(super) fn forwardable_reply(&self, result: ApiResult) -> ApiResult {
        let bytes_max = self.config.forward_bytes_max;
        match result {
            Ok(Response::Snapshot { state, .. }) if state.len() > bytes_max => {
                Err(ApiError::TooLarge(format!(
                    "snapshot of {} bytes is over the {bytes_max} bytes one forwarded reply may \
                     carry; save it through the leader's HTTP address",
                    state.len()
                )))
            }
            other => other,
        }
    }

    /// A restore committed at `index`: the new state has no lock-delays, checkers reseed
    /// their lock holders, and a planted bug stays planted. Parked reads are woken by the
    /// caller once the whole batch is applied.
    pub(super) fn on_restore_committed(&mut self, index: u64) {
        self.lock_delays.clear();
        self.plant_state_bug();
        self.journal_lock_reset(index);
        let message = format!("snapshot: restore committed at index {index}");
        self.log(super::LogLevel::Info, message);
    }
}

/// Why `state` cannot be restored, if it cannot: over `RESTORE_SIZE_BYTES_MAX`, or not a
/// state this version decodes.
fn check_restorable(state: &[u8]) -> Result<(), String> {
    if state.len() > RESTORE_SIZE_BYTES_MAX {
        return Err(format!(
            "snapshot state is {} bytes, more than a restore takes ({RESTORE_SIZE_BYTES_MAX} \
             bytes, RESTORE_SIZE_BYTES_MAX)",
            state.len()
        ));
    }
    match StateMachine::from_snapshot_bytes(state) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("snapshot state cannot be restored: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decodable_states_within_the_bound_are_restorable() {
        let good = StateMachine::new().to_snapshot_bytes();
        assert_eq!(check_restorable(&good), Ok(()));
        let error = check_restorable(b"not a state").unwrap_err();
        assert!(
            error.starts_with("snapshot state cannot be restored"),
            "{error}"
        );
        let huge = vec![0u8; RESTORE_SIZE_BYTES_MAX + 1];
        let error = check_restorable(&huge).unwrap_err();
        assert!(error.contains("RESTORE_SIZE_BYTES_MAX"), "{error}");
    }
}
