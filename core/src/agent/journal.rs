//! What a checker (the simulator) sees of consistent reads: when each one reached a leader,
//! and when that leader released it. Off unless `enable_apply_journal` was called.

use super::Agent;

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

impl Agent {
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
