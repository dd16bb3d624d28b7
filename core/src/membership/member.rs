//! One member of the cluster as every agent sees it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Server,
    Client,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// Consul's member states. `Failed` is each agent's own judgement (no news for a while);
/// `Leaving` and `Left` are announced by the member itself (or by `force-leave`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MemberStatus {
    Alive,
    Leaving,
    Left,
    Failed,
}

impl MemberStatus {
    pub fn name(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }

    /// Consul's numeric codes in `/v1/agent/members`.
    pub fn code(self) -> u8 {
        match self {
            MemberStatus::Alive => 1,
            MemberStatus::Leaving => 2,
            MemberStatus::Left => 3,
            MemberStatus::Failed => 4,
        }
    }
}

/// What a member says of itself; spread by gossip. Only the member itself changes these fields
/// (raising `incarnation`), except `force-leave`, which marks it left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    /// Gossip address (Consul's serf LAN, `ip:8301`).
    pub gossip_addr: String,
    /// Server RPC address (`ip:8300`); for clients, informational.
    pub rpc_addr: String,
    pub role: Role,
    pub datacenter: String,
    /// `-bootstrap-expect` of a server (0: none); servers compare it before bootstrapping.
    pub bootstrap_expect: u32,
    /// Whether this server already holds Raft state (then nobody bootstraps a new cluster).
    pub in_raft: bool,
    pub build: String,
    /// Raised by the member to refute a rumour of its death or to rejoin after leaving.
    pub incarnation: u64,
    /// `Alive`, `Leaving` or `Left` as announced; `Failed` is never announced.
    pub announced: MemberStatus,
}

impl Member {
    /// Consul's ip part of an `ip:port` address.
    pub fn ip(&self) -> &str {
        self.gossip_addr
            .rsplit_once(':')
            .map_or(&self.gossip_addr, |(ip, _)| ip)
    }
}

/// The SWIM detector's own view of a member (`Suspect` still lists as `alive` to Consul users).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SwimState {
    Alive,
    Suspect,
    Dead,
    Left,
}

impl SwimState {
    pub fn name(self) -> &'static str {
        match self {
            SwimState::Alive => "alive",
            SwimState::Suspect => "suspect",
            SwimState::Dead => "dead",
            SwimState::Left => "left",
        }
    }
}

/// At the same incarnation, leaving beats alive and left beats leaving.
pub(crate) fn status_rank(status: MemberStatus) -> u8 {
    match status {
        MemberStatus::Alive | MemberStatus::Failed => 0,
        MemberStatus::Leaving => 1,
        MemberStatus::Left => 2,
    }
}
