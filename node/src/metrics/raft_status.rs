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
        match self.role {
            None => "None",
            Some(Role::Leader) => "Leader",
            Some(Role::Candidate) | Some(Role::PreCandidate) => "Candidate",
            Some(Role::Follower) => "Follower",
        }
    }
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

    /// Copies the agent's figures in; returns the role before the update (the driver counts
    /// role changes with it).
    pub fn publish(&self, agent: &Agent, now_ms: u64) -> Option<Role> {
        let mut status = lock(&self.status);
        let before = status.role;
        let Some(raft) = agent.raft() else {
            return before;
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
        if status.leader_name.as_deref() != leader {
            status.leader_name = leader.map(str::to_string);
            status.leader_addr = agent.leader_addr();
        } else if status.leader_addr.is_none() && leader.is_some() {
            // The leader's address arrives with gossip, possibly after its name.
            status.leader_addr = agent.leader_addr();
        }
        before
    }
}

/// A poisoned lock still holds plain figures: use them.
fn lock(status: &Mutex<RaftStatus>) -> std::sync::MutexGuard<'_, RaftStatus> {
    status.lock().unwrap_or_else(|e| e.into_inner())
}
