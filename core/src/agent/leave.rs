//! Graceful leave (Ctrl+C, `concord leave`): announce `leaving`; a server waits until its
//! removal from the voters is committed (so the cluster never counts a departed voter), then
//! announces `left` to everyone and the process may exit.

use super::api::Response;
use super::pending::{Origin, Pending, Waiting};
use super::{Action, Agent, LogLevel};
use crate::membership::MemberStatus;

#[derive(Clone, Debug)]
pub struct LeaveState {
    pub deadline_ms: u64,
}

impl Agent {
    pub(super) fn start_leave(&mut self, origin: Origin) {
        let deadline_ms = self.now_ms + self.config.leave_timeout_ms;
        self.pending.insert(Pending {
            origin,
            deadline_ms: deadline_ms + 1,
            waiting: Waiting::Leave,
        });
        if self.leave.is_some() {
            return;
        }
        self.log(
            LogLevel::Info,
            "agent: gracefully leaving the cluster".to_string(),
        );
        self.leave = Some(LeaveState { deadline_ms });
        self.membership
            .update_me(|me| me.announced = MemberStatus::Leaving);
        self.gossip_to_all();
        self.tick_leave();
    }

    /// Finishes the leave once we are out of the voters (or could never be removed).
    pub(super) fn tick_leave(&mut self) {
        let Some(leave) = &self.leave else { return };
        if self.membership.me().announced == MemberStatus::Left {
            return;
        }
        let timed_out = self.now_ms >= leave.deadline_ms;
        if !self.still_in_raft() || timed_out {
            if timed_out && self.still_in_raft() {
                self.log(
                    LogLevel::Warn,
                    "agent: leave timed out before removal from the voters".to_string(),
                );
            }
            self.finish_leave();
        }
    }

    /// Whether others still count on us: we are a member, or the entry that removed us is not
    /// committed yet. Until then a leader that removed itself keeps leading (it alone may hold
    /// the entry: fuzz seed 31591), and a follower's copy of it may still be overwritten.
    fn still_in_raft(&self) -> bool {
        let Some(raft) = self.raft.as_ref() else {
            return false;
        };
        let me = raft.id();
        let config = raft.config();
        let others = config.voters.iter().any(|v| v != me);
        let removal_pending = raft.config_index() > raft.commit_index();
        others && (config.contains(me) || removal_pending)
    }

    fn finish_leave(&mut self) {
        self.membership
            .update_me(|me| me.announced = MemberStatus::Left);
        self.gossip_to_all();
        let ids = self
            .pending
            .ids_where(|p| matches!(p.waiting, Waiting::Leave));
        for id in ids {
            let pending = self.pending.remove(id).expect("selected");
            self.reply(pending.origin, Ok(Response::Done));
        }
        self.log(LogLevel::Info, "agent: graceful leave complete".to_string());
        self.actions.push(Action::LeaveComplete);
    }

    /// When `tick_leave` acts: at once when we are out of the voters, else at the timeout.
    pub(super) fn leave_deadline_ms(&self) -> Option<u64> {
        let leave = self.leave.as_ref()?;
        if self.membership.me().announced == MemberStatus::Left {
            return None;
        }
        Some(match self.still_in_raft() {
            true => leave.deadline_ms,
            false => self.now_ms,
        })
    }

    pub fn is_leaving(&self) -> bool {
        self.leave.is_some()
    }
}
