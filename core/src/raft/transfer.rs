//! Leadership transfer (thesis §3.10): bring the target up to date, then tell it to campaign at
//! once. Proposals are refused meanwhile so the target stays up to date; the attempt is given up
//! after an election timeout.

use super::message::RaftBody;
use super::state::{Raft, RaftError, Role, Transfer};
use super::types::NodeId;

impl Raft {
    pub fn transfer_leader(&mut self, now_ms: u64, target: NodeId) -> Result<(), RaftError> {
        self.now_ms = self.now_ms.max(now_ms);
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader_id.clone(),
            });
        }
        if target == self.id {
            return Ok(());
        }
        if !self.config.voters.contains(&target) {
            return Err(RaftError::BadConfigChange(format!(
                "{target} is not a voter"
            )));
        }
        let deadline_ms = self.now_ms + self.options.election_timeout_min_ms;
        self.transfer = Some(Transfer {
            target: target.clone(),
            deadline_ms,
        });
        if !self.maybe_send_timeout_now(&target) {
            self.send_append(&target);
        }
        Ok(())
    }

    /// Sends TimeoutNow once the transfer target holds our whole log.
    pub(super) fn maybe_send_timeout_now(&mut self, peer: &NodeId) -> bool {
        let is_target = self.transfer.as_ref().is_some_and(|t| &t.target == peer);
        let caught_up = self
            .progress
            .get(peer)
            .is_some_and(|p| p.match_index == self.log.last_index());
        if !(is_target && caught_up) {
            return false;
        }
        self.send(peer.clone(), RaftBody::TimeoutNow);
        true
    }

    pub fn transfer_target(&self) -> Option<&NodeId> {
        self.transfer.as_ref().map(|t| &t.target)
    }
}
