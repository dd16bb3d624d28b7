//! What agents send each other. The runtime frames these; the core never sees bytes.

use super::api::{ApiResult, Request};
use crate::membership::{Channel, GossipPacket};
use crate::raft::RaftMessage;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Where replies go: the sender's RPC address.
    pub from_addr: String,
    pub msg: WireMessage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireMessage {
    Raft(RaftMessage),
    /// The failure detector's packets (`crate::membership`): probes and gossip as datagrams,
    /// full state exchanges as streams. `channel` is how the sender meant it to travel (an
    /// answer goes back the same way).
    Gossip {
        packet: GossipPacket,
        channel: Channel,
    },
    Bootstrap(BootstrapMessage),
    /// A request passed on to a server or the leader; `hops` bounds forwarding chains.
    Forward {
        request_id: u64,
        hops: u8,
        request: Request,
    },
    ForwardReply {
        request_id: u64,
        result: ApiResult,
    },
}

impl WireMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            WireMessage::Raft(m) => m.body.kind(),
            WireMessage::Gossip { .. } => "Gossip",
            WireMessage::Bootstrap(_) => "Bootstrap",
            WireMessage::Forward { .. } => "Forward",
            WireMessage::ForwardReply { .. } => "ForwardReply",
        }
    }
}

/// The bootstrap handshake (see `bootstrap.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BootstrapMessage {
    Propose {
        config: Vec<String>,
    },
    Promise {
        config: Vec<String>,
        granted: bool,
        already_bootstrapped: bool,
    },
    /// `addrs[i]` is the RPC address of `config[i]`.
    Commit {
        config: Vec<String>,
        addrs: Vec<String>,
    },
}
