//! A gossip datagram filled to the SWIM core's piggyback budget still fits one datagram. The
//! core packs broadcasts by its own size estimate (`broadcast::update_size_bytes` within
//! `udp_payload_bytes_max`); the transport sends what bincode makes of the envelope, and one
//! over `DATAGRAM_SIZE_BYTES_MAX` would go by stream instead, unnoticed.

use super::datagram::{self, Encoded, DATAGRAM_SIZE_BYTES_MAX};
use concord_core::agent::{Envelope, WireMessage};
use concord_core::membership::broadcast::{update_size_bytes, PACKET_HEADER_BYTES};
use concord_core::membership::{
    Channel, GossipBody, GossipPacket, Member, MemberStatus, MembershipOptions, Role, Update,
};

/// The longest address text: an IPv6 address in brackets with a five-digit port.
const IPV6_ADDR_LONGEST: &str = "[fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";

fn member(name: String, addr: &str) -> Member {
    Member {
        name,
        gossip_addr: addr.to_string(),
        rpc_addr: addr.to_string(),
        role: Role::Server,
        datacenter: "dc1".to_string(),
        bootstrap_expect: 3,
        in_raft: true,
        build: "0.1.0".to_string(),
        incarnation: u64::MAX,
        announced: MemberStatus::Alive,
    }
}

/// `len` characters: `prefix`, then `i` zero-padded (distinct members, names of one length).
fn name(prefix: &str, i: usize, len: usize) -> String {
    format!("{prefix}{i:0>width$}", width = len - prefix.len())
}

/// The datagram `Swim::send` builds for a ping-req (the body with the most text) from `me`,
/// piggybacking `Alive` updates about members like `me` while the core's estimate admits
/// them, as `piggyback_budget_bytes` and `BroadcastQueue::take` count. Returns the envelope
/// and the estimated size.
fn fullest_ping_req(me: &Member) -> (Envelope, usize) {
    let (target, target_addr) = (name("target-", 0, me.name.len()), me.gossip_addr.clone());
    let header_bytes = PACKET_HEADER_BYTES
        + me.name.len()
        + me.gossip_addr.len()
        + me.rpc_addr.len()
        + target.len()
        + target_addr.len();
    let payload_bytes_max = MembershipOptions::default().udp_payload_bytes_max;
    let (mut used_bytes, mut updates) = (header_bytes, Vec::new());
    for i in 0.. {
        let other = member(name("member-", i, me.name.len()), &me.gossip_addr);
        let update = Update::Alive(other);
        if used_bytes + update_size_bytes(&update) > payload_bytes_max {
            break;
        }
        used_bytes += update_size_bytes(&update);
        updates.push(update);
    }
    let packet = GossipPacket {
        from: me.name.clone(),
        from_addr: me.gossip_addr.clone(),
        body: GossipBody::PingReq {
            seq: u64::MAX,
            target,
            target_addr,
        },
        updates,
    };
    let msg = WireMessage::Gossip {
        packet,
        channel: Channel::Datagram,
    };
    let from_addr = me.rpc_addr.clone();
    (Envelope { from_addr, msg }, used_bytes)
}

/// The encoded datagram's size (without a stream frame's length prefix, had it not fit).
fn encoded_bytes(envelope: &Envelope) -> usize {
    const LENGTH_PREFIX_BYTES: usize = 4;
    match datagram::encode(envelope).expect("a gossip packet encodes") {
        Encoded::Datagram(bytes) => bytes.len(),
        Encoded::Frame(bytes) => bytes.len() - LENGTH_PREFIX_BYTES,
    }
}

/// Long names and addresses (few updates, a long envelope sender) and short ones (the most
/// updates, each under-counted the same): the core's estimate must hold for both.
#[test]
fn a_ping_req_filled_to_the_piggyback_budget_fits_one_datagram() {
    let shapes = [
        (64, IPV6_ADDR_LONGEST),
        (8, IPV6_ADDR_LONGEST),
        (8, "10.0.0.1:8301"),
    ];
    for (name_len, addr) in shapes {
        let me = member(name("me-", 0, name_len), addr);
        let (envelope, estimated_bytes) = fullest_ping_req(&me);
        let WireMessage::Gossip { packet, .. } = &envelope.msg else {
            unreachable!("built as gossip");
        };
        let updates_n = packet.updates.len();
        assert!(updates_n > 1, "the budget admits several updates");
        let size_bytes = encoded_bytes(&envelope);
        assert!(
            size_bytes <= DATAGRAM_SIZE_BYTES_MAX,
            "names of {name_len} chars, addresses of {}: {updates_n} updates estimated at \
             {estimated_bytes} bytes encode to {size_bytes} (over {DATAGRAM_SIZE_BYTES_MAX})",
            addr.len()
        );
    }
}
