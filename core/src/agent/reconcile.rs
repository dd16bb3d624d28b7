//! The leader keeps the Raft voters in step with membership: servers that join are added (as
//! non-voters first; autopilot promotes them once stable), and servers that leave are
//! removed. Announced leaves are removed here; failed servers by autopilot's dead-server
//! cleanup (`autopilot/`), within its quorum rules. A server merely unknown (membership is
//! rebuilt by gossip after a restart) is never removed, so a restart never shrinks the
//! cluster.

use super::{Agent, LogLevel};
use crate::membership::{MemberStatus, Role};
use crate::raft::{ConfigChange, NodeId};

impl Agent {
    pub(super) fn reconcile_raft_members(&mut self) {
        if !self.is_leader() {
            self.autopilot.clear();
            return;
        }
        let change = self.next_config_change();
        // Autopilot observes health every round, even while another change is due.
        let autopilot = self.autopilot_round();
        if let Some(change) = change.or(autopilot) {
            let raft = self.raft.as_mut().expect("leaders have raft");
            match raft.propose_config_change(self.now_ms, change.clone()) {
                Ok(index) => self.log(
                    LogLevel::Info,
                    format!("raft: proposed {change:?} at index {index}"),
                ),
                // Retried on the next round; most often another change is still committing.
                Err(e) => self.log(
                    LogLevel::Debug,
                    format!("raft: cannot propose {change:?} yet: {e}"),
                ),
            }
        }
    }

    fn next_config_change(&self) -> Option<ConfigChange> {
        let raft = self.raft.as_ref().expect("leaders have raft");
        let config = raft.config();
        let members = self.membership.list(self.now_ms);
        let leaving =
            |status: MemberStatus| matches!(status, MemberStatus::Leaving | MemberStatus::Left);
        let departed = members
            .iter()
            .filter(|(m, s)| leaving(*s) && config.contains(&NodeId::new(&m.name)))
            .map(|(m, _)| m.name.clone())
            // Others first: the leader removes itself last, then hands over.
            .min_by_key(|name| *name == self.config.node_name);
        if let Some(name) = departed {
            return Some(ConfigChange::Remove(NodeId::new(name)));
        }
        members
            .iter()
            .find(|(m, s)| {
                m.role == Role::Server
                    && *s == MemberStatus::Alive
                    && m.datacenter == self.config.datacenter
                    && !config.contains(&NodeId::new(&m.name))
            })
            .map(|(m, _)| ConfigChange::AddLearner(NodeId::new(&m.name), m.rpc_addr.clone()))
    }

    /// A configuration entry was applied: remember in gossip whether we are in a cluster.
    pub(super) fn on_config_applied(&mut self) {
        let in_raft = self.raft.as_ref().is_some_and(|r| !r.config().is_empty());
        if self.membership.me().in_raft != in_raft {
            self.membership.update_me(|me| me.in_raft = in_raft);
        }
    }
}
