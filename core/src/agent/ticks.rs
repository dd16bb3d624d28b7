//! Time passing: the failure detector's timers, Raft's, rounds of bootstrap and of reconciling
//! voters and the catalog, deadlines, and the periodic complaints a user reads in the log
//! while there is no leader.

use super::api::ApiError;
use super::pending::Waiting;
use super::{Agent, LogLevel};

impl Agent {
    pub fn tick(&mut self, now_ms: u64) {
        self.advance_clock(now_ms);
        self.tick_membership();
        if self.now_ms >= self.reconcile_deadline_ms {
            self.reconcile_deadline_ms = self.now_ms + self.config.reconcile_interval_ms;
            self.rejoin_raft_peers_if_alone();
            self.tick_bootstrap();
            self.reconcile_raft_members();
            self.reconcile_catalog();
            self.retry_forwards_to_failed();
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.tick(now_ms);
        }
        self.tick_leave();
        self.tick_local();
        self.tick_sessions();
        self.lock_delays.prune_due(self.now_ms);
        self.expire_requests();
        self.resend_unanswered_joins();
        self.release_watches_due();
        self.complain_if_leaderless();
    }

    fn expire_requests(&mut self) {
        for pending in self.pending.take_expired(self.now_ms) {
            let error = match pending.waiting {
                Waiting::Leader { .. } => ApiError::NoLeader,
                Waiting::Join { .. } => ApiError::JoinFailed("no answer from the address".into()),
                _ => ApiError::Timeout,
            };
            self.reply(pending.origin, Err(error));
        }
    }

    fn complain_if_leaderless(&mut self) {
        let Some(raft) = self.raft.as_ref() else {
            return;
        };
        if raft.leader().is_some()
            || self.now_ms < self.complaint_deadline_ms
            || self.leave.is_some()
        {
            return;
        }
        self.complaint_deadline_ms = self.now_ms + self.config.complaint_interval_ms;
        if raft.config().is_empty() {
            self.log(
                LogLevel::Warn,
                "raft: no known peers, aborting election".to_string(),
            );
        }
        self.log(
            LogLevel::Error,
            "agent: failed to sync remote state: No cluster leader".to_string(),
        );
    }
}
