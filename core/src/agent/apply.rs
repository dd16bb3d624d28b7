//! Turning a Raft `Ready` into actions, and applying committed entries to the state machine.

use super::api::{ApiError, ApiResult, Response};
use super::command::Command;
use super::pending::{Pending, Waiting};
use super::{Action, Agent, LogLevel};
use crate::raft::{Entry, EntryPayload, RaftMessage, ReadState, Ready};
use crate::session::SessionCommand;
use crate::state::{ApplyOutcome, RestoreCommand, StateMachine};

impl Agent {
    /// Durable writes, then messages, then applying and answering: the Ready order.
    pub(super) fn handle_ready(&mut self, ready: Ready, out: &mut Vec<Action>) {
        let restored = ready.snapshot.as_ref().is_some_and(|save| save.restore);
        // A leader's appends go out first, to be written by followers while it writes too.
        self.send_raft_messages(ready.early_messages, out);
        if let Some(save) = ready.snapshot {
            if save.restore {
                self.restore_snapshot(&save.snapshot.data, save.snapshot.meta.last_index);
            }
            out.push(Action::SaveSnapshot(Box::new(save)));
        }
        if ready.hard_state.is_some() || !ready.entries.is_empty() {
            out.push(Action::Persist {
                hard_state: ready.hard_state,
                entries: ready.entries,
                sync: ready.must_sync,
            });
        }
        self.send_raft_messages(ready.messages, out);
        let state_moved = restored || !ready.committed.is_empty();
        let mut restore_committed = false;
        for entry in &ready.committed {
            restore_committed |= self.apply_entry(entry);
        }
        for read in ready.read_states {
            self.on_read_state(read);
        }
        self.answer_reads_applied();
        if state_moved {
            self.release_watches_changed();
        }
        if restore_committed {
            self.release_all_watches();
        }
        if let Some(leader) = ready.leader_changed {
            self.on_leader_changed(leader.map(|l| l.to_string()));
        }
        self.maybe_compact();
    }

    fn send_raft_messages(&mut self, messages: Vec<RaftMessage>, out: &mut Vec<Action>) {
        for msg in messages {
            match self.rpc_addr_of(&msg.to) {
                Some(to) => {
                    let envelope = super::Envelope {
                        from_addr: self.config.rpc_addr.clone(),
                        msg: super::WireMessage::Raft(msg),
                    };
                    out.push(Action::Send { to, envelope });
                }
                None => self.stats.raft_messages_unroutable += 1,
            }
        }
    }

    /// Applies one committed entry and answers the write waiting on it; true when it was a
    /// restore's commit that replaced the state.
    fn apply_entry(&mut self, entry: &Entry) -> bool {
        // Every entry, no-ops too: a later term drops a restore its leader never finished.
        self.state.observe_term(entry.term);
        let (command, outcome) = match &entry.payload {
            EntryPayload::Command(bytes) => {
                let command = Command::decode(bytes).unwrap_or_else(|e| {
                    panic!(
                        "{}: committed entry {} does not decode: {e}",
                        self.name(),
                        entry.index
                    )
                });
                let outcome = self.state.apply_traced(entry.index, entry.term, &command);
                (Some(command), outcome)
            }
            EntryPayload::Noop | EntryPayload::Config(_) => (None, applied_outcome()),
        };
        let restore_committed = outcome.ok
            && matches!(
                command,
                Some(Command::Restore(RestoreCommand::Commit { .. }))
            );
        if restore_committed {
            self.on_restore_committed(entry.index);
        }
        self.lock_delays.record(&outcome.lock_changes, self.now_ms);
        self.journal_locks(entry.index, &outcome.lock_changes);
        // After the apply: the journal carries the state it left.
        self.journal(entry);
        if matches!(entry.payload, EntryPayload::Config(_)) {
            self.on_config_applied();
        }
        let Some((_, pending)) = self.pending.take_write_at(entry.index) else {
            return restore_committed;
        };
        let Waiting::Write { term, .. } = pending.waiting else {
            unreachable!("indexed writes are writes")
        };
        let result = if term == entry.term {
            write_answer(command.as_ref(), outcome, entry.index)
        } else {
            Err(ApiError::LeadershipLost)
        };
        self.reply(pending.origin, result);
        restore_committed
    }

    fn journal(&mut self, entry: &Entry) {
        let applier_term = self.raft.as_ref().map_or(0, |r| r.term());
        let Some(journal) = self.apply_journal.as_mut() else {
            return;
        };
        if journal.len() >= super::APPLY_JOURNAL_MAX {
            journal.remove(0);
        }
        let digest = payload_digest(&entry.payload);
        journal.push(super::AppliedEntry {
            index: entry.index,
            term: entry.term,
            digest,
            applier_term,
            state_digest: self.state.digest(),
        });
    }

    fn on_read_state(&mut self, read: ReadState) {
        let Some(pending) = self.pending.get_mut(read.read_id) else {
            return;
        };
        match (&mut pending.waiting, read.index) {
            (Waiting::Read { read_index, .. }, Some(index)) => {
                *read_index = Some(index);
                self.journal_read(super::journal::ReadEvent::Released {
                    read_id: read.read_id,
                    index,
                });
            }
            (Waiting::Read { .. }, None) => {
                let pending = self.pending.remove(read.read_id).expect("found above");
                self.reply(pending.origin, Err(ApiError::LeadershipLost));
            }
            (other, _) => panic!(
                "{}: read state for a request waiting on {other:?}",
                self.config.node_name
            ),
        }
    }

    /// Consistent reads whose index is applied are answered now.
    fn answer_reads_applied(&mut self) {
        let applied = self.raft.as_ref().map_or(0, |r| r.applied_index());
        let ready = self.pending.ids_where(
            |p| matches!(p.waiting, Waiting::Read { read_index: Some(i), .. } if i <= applied),
        );
        for id in ready {
            let Some(Pending {
                origin,
                waiting: Waiting::Read { request, .. },
                ..
            }) = self.pending.remove(id)
            else {
                unreachable!("selected as applied reads");
            };
            let response = self.answer_pending_read(&request);
            self.reply(origin, Ok(response));
        }
    }

    fn on_leader_changed(&mut self, leader: Option<String>) {
        match leader {
            Some(name) => {
                self.log(LogLevel::Info, format!("New leader elected: {name}"));
                self.release_leader_waiters();
                if let Some(addr) = self.leader_addr() {
                    self.retry_forwards(&addr);
                }
            }
            None => self.log(
                LogLevel::Warn,
                "raft: leadership lost; no cluster leader".to_string(),
            ),
        }
    }

    fn restore_snapshot(&mut self, data: &[u8], index: u64) {
        self.state = StateMachine::from_snapshot_bytes(data).unwrap_or_else(|e| {
            panic!(
                "{}: snapshot at {index} cannot be restored: {e}",
                self.name()
            )
        });
        self.plant_state_bug();
        // Lock changes of the entries the snapshot covers were never applied here.
        self.journal_lock_reset(index);
        self.log(
            LogLevel::Info,
            format!("raft: installed snapshot up to index {index}"),
        );
    }

    /// Compacts the log once enough entries are applied (and durable) past the last snapshot.
    fn maybe_compact(&mut self) {
        let Some(raft) = self.raft.as_ref() else {
            return;
        };
        let applied = raft.applied_index();
        let since = applied.saturating_sub(raft.log().snapshot_meta().last_index);
        // By bytes, only what a snapshot would free counts: a log full of entries not yet
        // applied would otherwise take a snapshot of the whole state every round.
        let threshold_bytes = self.config.snapshot_threshold_bytes;
        let log_full = raft.log().size_bytes() >= threshold_bytes
            && raft.log().size_bytes_through(applied) >= threshold_bytes / 2;
        let interval_passed = self.now_ms
            >= self
                .last_snapshot_ms
                .saturating_add(self.config.snapshot_interval_ms);
        let due = (since >= self.config.snapshot_threshold_entries && interval_passed) || log_full;
        if !due || applied > raft.log().persisted_index() {
            return;
        }
        self.last_snapshot_ms = self.now_ms;
        let data = self.state.to_snapshot_bytes();
        self.raft
            .as_mut()
            .expect("checked above")
            .compact(applied, data);
    }
}

/// What an entry without a command did: it applied.
fn applied_outcome() -> ApplyOutcome {
    ApplyOutcome {
        ok: true,
        ..ApplyOutcome::default()
    }
}

/// The answer to the write waiting on the entry applied at `index`, by the command's kind.
fn write_answer(command: Option<&Command>, outcome: ApplyOutcome, index: u64) -> ApiResult {
    let refused = |why: &str| Err(ApiError::Unavailable(why.to_string()));
    match command {
        Some(Command::Txn(_)) => match outcome.txn {
            Some(outcome) => Ok(Response::Txn {
                outcome,
                index,
                meta: None,
            }),
            None => refused("transaction gave no outcome at apply"),
        },
        Some(Command::Session(SessionCommand::Create(session))) => match outcome.ok {
            true => Ok(Response::SessionCreated {
                id: session.id.clone(),
            }),
            false => refused("session create refused at apply"),
        },
        // Consul answers `true` for any id, known or not.
        Some(Command::Session(SessionCommand::Destroy { .. })) => Ok(Response::KvWritten {
            applied: true,
            index,
        }),
        // A refused commit cannot succeed if sent again as it was: the caller's mistake, or a
        // restore cut short (a new restore starts over).
        Some(Command::Restore(RestoreCommand::Commit { .. })) => match outcome.ok {
            true => Ok(Response::Done),
            false => Err(ApiError::BadRequest(format!(
                "snapshot restore refused at apply: {}",
                outcome.refusal.as_deref().unwrap_or("no reason given")
            ))),
        },
        _ => Ok(Response::KvWritten {
            applied: outcome.ok,
            index,
        }),
    }
}

/// FNV-1a over an entry's payload: equal payloads, equal digests.
pub fn payload_digest(payload: &EntryPayload) -> u64 {
    let bytes: Vec<u8> = match payload {
        EntryPayload::Noop => vec![0],
        EntryPayload::Command(data) => [&[1u8][..], data].concat(),
        EntryPayload::Config(config) => format!("{config:?}").into_bytes(),
    };
    crate::digest::fnv1a(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_restore_commit_is_a_bad_request_naming_why() {
        let commit = Command::Restore(RestoreCommand::Commit { id: 7 });
        let outcome = ApplyOutcome {
            refusal: Some("restore 7: the bytes do not match their SHA-256".into()),
            ..ApplyOutcome::default()
        };
        let answer = write_answer(Some(&commit), outcome, 12);
        assert!(
            matches!(&answer, Err(ApiError::BadRequest(why)) if why.contains("SHA-256")),
            "{answer:?}"
        );
        assert_eq!(
            write_answer(Some(&commit), applied_outcome(), 12),
            Ok(Response::Done)
        );
    }
}
