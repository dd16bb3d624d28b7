//! Plain data types of the Raft log, shared by the core, the storage and the simulator.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A server's identity in Raft: its node name, unique in the cluster (as in Consul).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct NodeId(pub String);

impl NodeId {
    pub fn new(name: impl Into<String>) -> NodeId {
        NodeId(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The voters and non-voters (learners) of the cluster. Changes one server at a time.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    /// Where each member's RPC listener is, so that a restarted server can reach its peers
    /// before gossip has told it anything (Raft itself ignores this).
    pub addresses: BTreeMap<NodeId, String>,
}

impl ClusterConfig {
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> ClusterConfig {
        ClusterConfig {
            voters: voters.into_iter().collect(),
            ..ClusterConfig::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.voters.is_empty() && self.learners.is_empty()
    }

    pub fn contains(&self, id: &NodeId) -> bool {
        self.voters.contains(id) || self.learners.contains(id)
    }

    /// Every member, voters first: the order in which replication state is kept.
    pub fn members(&self) -> impl Iterator<Item = &NodeId> {
        self.voters.iter().chain(self.learners.iter())
    }
}

/// What one log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPayload {
    /// Appended by a new leader so that it commits an entry of its own term at once.
    Noop,
    /// An encoded state-machine command; the Raft module never looks inside.
    Command(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A new cluster configuration; it takes effect as soon as it is in the log.
    Config(ClusterConfig),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub index: u64,
    pub payload: EntryPayload,
}

impl Entry {
    /// Bytes this entry weighs in a message batch (an estimate, for bounds only).
    pub fn size_bytes(&self) -> usize {
        let payload_bytes = match &self.payload {
            EntryPayload::Noop => 0,
            EntryPayload::Command(bytes) => bytes.len(),
            EntryPayload::Config(config) => 32 * (config.voters.len() + config.learners.len()),
        };
        payload_bytes + 24
    }
}

/// The state that must be durable before any vote or append reply that depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<NodeId>,
    pub commit_index: u64,
}

/// Where a snapshot ends, and the configuration in force at that point.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub last_index: u64,
    pub last_term: u64,
    pub config: ClusterConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    /// The state machine at `meta.last_index`, encoded by the state machine.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
