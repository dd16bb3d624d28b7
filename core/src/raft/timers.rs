//! When `Raft::tick` next has something to do (the driver's timer table): a follower's or
//! candidate's election timeout; a leader's heartbeat (when it has peers), CheckQuorum and
//! transfer deadlines, and a learner promotion that would go through now. Between two
//! deadlines a tick does nothing.

use super::membership_change::ConfigChange;
use super::state::{Raft, Role};

impl Raft {
    /// The earliest time (ms, this node's clock) at which `tick` may act; at or before
    /// `now_ms` when it would act at once.
    pub fn next_deadline_ms(&self) -> u64 {
        if self.role != Role::Leader {
            return self.election_deadline_ms;
        }
        // A leader alone (`-dev`, a single server) has no one to send heartbeats to: its
        // heartbeat timer would wake it for nothing. A peer added later finds the heartbeat
        // overdue and gets one at once.
        let mut next_ms = match self.progress.is_empty() {
            true => u64::MAX,
            false => self.heartbeat_deadline_ms,
        };
        if self.options.check_quorum {
            next_ms = next_ms.min(self.check_quorum_deadline_ms);
        }
        if let Some(transfer) = &self.transfer {
            next_ms = next_ms.min(transfer.deadline_ms);
        }
        if self.learner_promotable() {
            next_ms = next_ms.min(self.now_ms);
        }
        next_ms
    }

    /// Whether `promote_caught_up_learner` would propose a promotion now: its own conditions,
    /// and those of `propose_config_change` (a refused proposal waits for a message, which
    /// moves the deadline again; counting it would make the deadline "now" forever).
    fn learner_promotable(&self) -> bool {
        if !self.options.promote_caught_up_learners
            || self.config_index > self.log.commit_index
            || self.transfer.is_some()
            || self.check_can_propose().is_err()
            || self.log.term_at(self.log.commit_index) != Some(self.term)
        {
            return false;
        }
        let threshold = self
            .log
            .commit_index
            .saturating_sub(self.options.learner_catch_up_entries);
        // The same learner `promote_caught_up_learner` picks: the first caught up.
        let ready =
            self.config.learners.iter().find(|l| {
                (self.progress.get(*l)).is_some_and(|p| p.match_index >= threshold.max(1))
            });
        ready.is_some_and(|l| {
            super::membership_change::changed_config(
                &self.config,
                &ConfigChange::Promote(l.clone()),
            )
            .is_ok()
        })
    }
}
