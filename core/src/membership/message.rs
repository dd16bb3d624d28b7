//! The gossip wire: what one agent's detector sends another's. The transport (node/) encodes it.

use super::member::{Member, SwimState};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GossipPacket {
    /// Sender's node name.
    pub from: String,
    /// Sender's gossip address: acks and answers go there, even to unknown senders.
    pub from_addr: String,
    pub body: GossipBody,
    /// Piggybacked broadcasts, applied before the body.
    pub updates: Vec<Update>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GossipBody {
    /// `target`: the name we mean to probe (a mismatch is dropped: the address was reused).
    Ping {
        seq: u64,
        target: String,
    },
    Ack {
        seq: u64,
    },
    /// "Probe `target` for me"; the helper acks (or nacks) with our `seq`.
    PingReq {
        seq: u64,
        target: String,
        target_addr: String,
    },
    /// Lifeguard: the helper got no ack from the target, so our own link is fine.
    Nack {
        seq: u64,
    },
    PushPull {
        records: Vec<MemberRecord>,
        reply_wanted: bool,
        join_id: Option<u64>,
    },
    /// A gossip round: only `updates` matter.
    Empty,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// Also carries Leaving/Left announcements (`member.announced`).
    Alive(Member),
    Suspect {
        name: String,
        incarnation: u64,
        from: String,
    },
    Dead {
        name: String,
        incarnation: u64,
        from: String,
    },
    /// `force-leave -prune`: forget the member at this incarnation.
    Prune { name: String, incarnation: u64 },
}

impl Update {
    /// The member this update is about (a newer update about it replaces a queued older one).
    pub fn subject(&self) -> &str {
        match self {
            Update::Alive(member) => &member.name,
            Update::Suspect { name, .. }
            | Update::Dead { name, .. }
            | Update::Prune { name, .. } => name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub member: Member,
    pub state: SwimState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// UDP: probes, acks, gossip.
    Datagram,
    /// TCP: push/pull, the fallback ping, leave announcements.
    Stream,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transmit {
    /// The receiver's gossip address.
    pub to: String,
    pub channel: Channel,
    pub packet: GossipPacket,
}
