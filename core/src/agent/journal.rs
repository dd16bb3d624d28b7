//! What a checker (the simulator) sees of consistent reads (when each one reached a leader,
//! and when that leader released it) and of locks (every change of a key's holder as it
//! applied). Off unless `enable_apply_journal` was called.

use super::Agent;
use crate::state::LockChange;

/// Events a journal holds before the oldest are dropped (a checker drains it every round).
pub const READ_JOURNAL_MAX: usize = 65_536;

/// One step of a consistent read on the leader that serves it. `read_id` is the leader's
/// pending-request id: unique within one incarnation of the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadEvent {
    /// The read reached the leader of `term`, which started confirming its leadership.
    Arrived { read_id: u64, term: u64 },
    /// The leader confirmed the read at commit `index` (it is answered once that is applied).
    /// A leader fails its pending reads when it steps down, so this is in the arrival's term.
    Released { read_id: u64, index: u64 },
}

/// One event of the lock journal (`Agent::take_lock_changes`), in apply order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockJournalEvent {
    /// A key's holder changed at log index `index` (an acquire, a release, an invalidated
    /// session's key released or deleted).
    Change { index: u64, change: LockChange },
    /// The whole state was replaced at log index `index` (a Raft snapshot installed on this
    /// server, or a snapshot restore committed): what a checker knew of holders no longer
    /// holds. `holders` are the locked keys after it, each as a change from no holder.
    Reset {
        index: u64,
        holders: Vec<LockChange>,
    },
}

impl Agent {
    /// Journals the lock changes of the entry applied at `index`.
    pub(super) fn journal_locks(&mut self, index: u64, changes: &[LockChange]) {
        for change in changes {
            let change = change.clone();
            self.push_lock_event(LockJournalEvent::Change { index, change });
        }
    }

    /// Journals a replaced state at `index`, with the holders it has.
    pub(super) fn journal_lock_reset(&mut self, index: u64) {
        if self.lock_journal.is_none() {
            return;
        }
        let holders = self.state.kv().list("").into_iter().filter_map(|entry| {
            Some(LockChange {
                after: Some(entry.session?),
                key: entry.key,
                before: None,
                lock_index: entry.lock_index,
                modify_index: entry.modify_index,
                deleted: false,
                delay_ns: 0,
            })
        });
        let holders = holders.collect();
        self.push_lock_event(LockJournalEvent::Reset { index, holders });
    }

    fn push_lock_event(&mut self, event: LockJournalEvent) {
        let Some(journal) = self.lock_journal.as_mut() else {
            return;
        };
        if journal.len() >= super::APPLY_JOURNAL_MAX {
            journal.remove(0);
        }
        journal.push(event);
    }

    /// Lock events since the last call, in apply order (empty unless the apply journal is
    /// enabled): the simulator's lock checker reads them.
    pub fn take_lock_changes(&mut self) -> Vec<LockJournalEvent> {
        self.lock_journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(super) fn journal_read(&mut self, event: ReadEvent) {
        let Some(journal) = self.read_journal.as_mut() else {
            return;
        };
        if journal.len() >= READ_JOURNAL_MAX {
            journal.remove(0);
        }
        journal.push(event);
    }

    /// Read events since the last call (empty unless the journal is enabled).
    pub fn take_read_events(&mut self) -> Vec<ReadEvent> {
        self.read_journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}
