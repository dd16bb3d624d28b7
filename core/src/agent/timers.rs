//! The agent's timer table (as quinn-proto's `poll_timeout`): the earliest time at which
//! `Agent::tick` could do anything, the minimum of every subsystem's own deadline. A driver
//! sleeps until then instead of ticking on a fixed grid: a tick before it is a no-op (no
//! action, no deadline moved), so skipping it loses nothing. Inputs (messages, requests,
//! writes made durable) may move it earlier, so the driver asks again after each round.
//!
//! Each subsystem computes its deadline next to its timers, with the same conditions its
//! tick checks; where a tick acts on a state rather than a time (a leave whose removal
//! committed, a learner to promote, a sync to send), the deadline is "now" exactly while
//! that state holds. All of it is pure: no clock read here.

use super::Agent;

impl Agent {
    /// The earliest time (ms, the agent's clock) at which `tick` may act. At or before
    /// `now_ms()` means "tick now"; `u64::MAX` never happens while the detector runs (its
    /// gossip timer is always set).
    pub fn next_deadline_ms(&self) -> u64 {
        let candidates = [
            Some(self.membership_deadline_ms()),
            Some(self.reconcile_deadline_ms),
            self.raft.as_ref().map(|r| r.next_deadline_ms()),
            self.leave_deadline_ms(),
            Some(self.local_deadline_ms()),
            self.sessions_deadline_ms(),
            self.lock_delays.next_deadline_ms(),
            self.pending.next_deadline_ms(),
            self.parked_reads.next_deadline_ms(),
            self.complaint_deadline_ms(),
        ];
        let next_ms = candidates.into_iter().flatten().min();
        next_ms.expect("the detector and the reconcile round always have a deadline")
    }

    /// The detector's timers, or at once when it holds packets or events not yet drained.
    fn membership_deadline_ms(&self) -> u64 {
        let queued = !self.membership.transmits.is_empty() || !self.membership.events.is_empty();
        match queued {
            true => self.now_ms,
            false => self.membership.next_deadline_ms(),
        }
    }

    /// The leaderless complaint (`complain_if_leaderless`): while servers have no leader.
    fn complaint_deadline_ms(&self) -> Option<u64> {
        let raft = self.raft.as_ref()?;
        let leaderless = raft.leader().is_none() && self.leave.is_none();
        leaderless.then_some(self.complaint_deadline_ms)
    }

    /// Actions the agent holds for the next `poll` (its own; Raft's come with its `Ready`).
    pub fn actions_queued(&self) -> usize {
        self.actions.len()
    }
}
