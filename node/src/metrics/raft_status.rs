//! `RaftStatus`: a copy of this node's Raft figures that the driver publishes after each round,
//! so front ends (the metrics endpoint, `/v1/agent/self` Stats, the UI's Raft page through
//! HTTP) read them without asking the driver. The copy is a few integers and a name behind a
//! mutex held for a field-by-field update: no allocation unless the leader changed.

use concord_core::agent::Agent;
use concord_core::raft::Role;
use std::sync::{Arc, Mutex};

/// This node's Raft figures as of the driver's last round. A client agent (no Raft) reports
/// the default: term 0, role `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftStatus {
    pub term: u64,
    /// `None` on a client agent, which runs no Raft.
    pub role: Option<Role>,
    /// The leader's node name (Raft ids are node names), if one is known.
    pub leader_name: Option<String>,
    /// The leader's RPC address, if known.
    pub leader_addr: Option<String>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    pub last_log_term: u64,
    pub last_snapshot_index: u64,
    pub last_snapshot_term: u64,
    /// Voters other than this node.
    pub num_peers: u64,
    /// Follower: milliseconds since it last heard from the leader (`None` if never, and on
    /// the leader itself, which Consul reports as 0).
    pub last_contact_ms: Option<u64>,
}

impl RaftStatus {
    /// Consul's name for the role (`/v1/agent/self` Stats `raft.state`).
    pub fn state_name(&self) -> &'static str {
        self.role.map_or("None", state_name)
    }
}

/// Consul's name for a role: a pre-candidate is a candidate.
fn state_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "Leader",
        Role::Candidate | Role::PreCandidate => "Candidate",
        Role::Follower => "Follower",
    }
}

/// What one `publish` found changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// The role entered, when Consul's state name changed (a pre-candidate becoming a
    /// candidate is one election, counted once).
    pub entered: Option<Role>,
    /// A leader is known that was not the last time: none or another (ours or another's).
    pub new_leader: bool,
    /// Entries committed since the last copy while this server leads.
    pub committed_as_leader: u64,
}

/// Where the driver publishes `RaftStatus` and readers copy it from.
#[derive(Clone, Default)]
pub struct RaftStatusCell {
    status: Arc<Mutex<RaftStatus>>,
}

impl RaftStatusCell {
    pub fn get(&self) -> RaftStatus {
        lock(&self.status).clone()
    }

    /// Copies the agent's figures in; returns what changed since the last copy (the driver
    /// counts role and leader changes with it).
    pub fn publish(&self, agent: &Agent, now_ms: u64) -> Published {
        let mut status = lock(&self.status);
        let (role_before, commit_before) = (status.role, status.commit_index);
        let Some(raft) = agent.raft() else {
            return Published::default();
        };
        status.term = raft.term();
        status.role = Some(raft.role());
        status.commit_index = raft.commit_index();
        status.applied_index = raft.applied_index();
        status.last_log_index = raft.last_index();
        status.last_log_term = raft.log().last_term();
        let snapshot = raft.log().snapshot_meta();
        status.last_snapshot_index = snapshot.last_index;
        status.last_snapshot_term = snapshot.last_term;
        let voters = &raft.config().voters;
        status.num_peers = voters.len().saturating_sub(usize::from(raft.is_voter())) as u64;
        status.last_contact_ms = match raft.role() {
            Role::Leader => Some(0),
            _ => raft
                .last_leader_contact_ms()
                .map(|at| now_ms.saturating_sub(at)),
        };
        let leader = raft.leader().map(|id| id.0.as_str());
        let new_leader = leader.is_some() && status.leader_name.as_deref() != leader;
        if status.leader_name.as_deref() != leader {
            status.leader_name = leader.map(str::to_string);
            status.leader_addr = agent.leader_addr();
        } else if status.leader_addr.is_none() && leader.is_some() {
            // The leader's address arrives with gossip, possibly after its name.
            status.leader_addr = agent.leader_addr();
        }
        let state_before = role_before.map(state_name);
        Published {
            entered: (state_before != status.role.map(state_name)).then_some(raft.role()),
            new_leader,
            committed_as_leader: match raft.role() {
                Role::Leader => status.commit_index.saturating_sub(commit_before),
                _ => 0,
            },
        }
    }
}

/// A poisoned lock still holds plain figures: use them.
fn lock(status: &Mutex<RaftStatus>) -> std::sync::MutexGuard<'_, RaftStatus> {
    status.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::AgentConfig;
    use concord_core::membership::Role as MemberRole;
    use concord_core::raft::RaftRestore;

    /// Ticks `agent` until `done`, a simulated second at most.
    fn tick_until(agent: &mut Agent, now_ms: &mut u64, done: impl Fn(&Agent) -> bool) {
        for _ in 0..1_000 {
            if done(agent) {
                return;
            }
            *now_ms += 1;
            agent.tick(*now_ms);
            let _ = agent.poll();
        }
        panic!("not done within a simulated second");
    }

    #[test]
    fn a_lone_server_is_seen_entering_follower_then_leader_once_each() {
        let mut config = AgentConfig::new("s1", "10.0.0.1:8300", MemberRole::Server);
        config.bootstrap_expect = 1;
        let mut now_ms = 1_000;
        let mut agent = Agent::new(config, 7, now_ms, RaftRestore::default());
        let cell = RaftStatusCell::default();
        let first = cell.publish(&agent, now_ms);
        assert_eq!(first.entered, Some(Role::Follower));
        assert_eq!(
            cell.publish(&agent, now_ms),
            Published::default(),
            "nothing changed"
        );
        tick_until(&mut agent, &mut now_ms, Agent::is_leader);
        let became = cell.publish(&agent, now_ms);
        assert_eq!(
            (became.entered, became.new_leader),
            (Some(Role::Leader), true)
        );
        let status = cell.get();
        assert_eq!(
            (status.state_name(), status.leader_name.as_deref()),
            ("Leader", Some("s1"))
        );
        assert_eq!((status.num_peers, status.last_contact_ms), (0, Some(0)));
        assert!(status.term >= 1 && status.last_log_index >= status.commit_index);
    }

    #[test]
    fn a_client_has_no_raft_to_report() {
        let config = AgentConfig::new("c1", "10.0.0.2:8300", MemberRole::Client);
        let agent = Agent::new(config, 7, 1_000, RaftRestore::default());
        let cell = RaftStatusCell::default();
        assert_eq!(cell.publish(&agent, 1_000), Published::default());
        assert_eq!((cell.get().role, cell.get().state_name()), (None, "None"));
    }
}
