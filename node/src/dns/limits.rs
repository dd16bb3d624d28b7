//! Consul's answer limits, applied before hickory encodes the reply (hickory itself would trim
//! to the size and set TC; Consul by default trims silently).
//!
//! UDP without EDNS: at most `udp_answer_limit` answers (8 at most, as Consul), then as many
//! as fit 512 bytes. UDP
//! with EDNS: as many as fit the size the client offered (at most `DNS_UDP_PAYLOAD_BYTES_MAX`).
//! TCP: as many as fit one 64 KiB message. `a_record_limit` caps A/AAAA answers on both.

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::BTreeSet;

/// The largest UDP reply: what a client may offer in EDNS is honoured up to this. 4096 is
/// what RFC 6891 suggests and what resolvers offer; larger datagrams fragment, and Consul caps
/// near 64 KiB only because miekg/dns allows it.
pub const DNS_UDP_PAYLOAD_BYTES_MAX: u16 = 4096;
/// A UDP reply to a query without EDNS (RFC 1035 §4.2.1).
pub const DNS_UDP_PLAIN_BYTES_MAX: u16 = 512;
/// A DNS message over TCP has a 16-bit length prefix.
pub const DNS_TCP_MESSAGE_BYTES_MAX: u16 = u16::MAX;
/// `udp_answer_limit` is capped here, as Consul's `maxUDPAnswerLimit` caps it (older resolvers
/// mishandled more records in a 512-byte reply).
pub const DNS_UDP_PLAIN_ANSWERS_MAX: usize = 8;
/// Records built for one reply at most. A 64 KiB TCP message holds fewer than 4,096 of the
/// smallest answers (16 bytes each), so any more would be trimmed anyway; capping before
/// encoding bounds the work of one query on a service with many instances.
pub const DNS_ANSWERS_PER_RESPONSE_MAX: usize = 4096;

/// How the reply goes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// With the payload size the query offered in EDNS, if it had EDNS.
    Udp {
        edns_payload: Option<u16>,
    },
    Tcp,
}

/// The limits of `dns_config` that apply here.
#[derive(Clone, Copy, Debug)]
pub struct AnswerLimits {
    pub udp_answer_limit: usize,
    pub a_record_limit: usize,
}

/// Trims `reply`'s answers (and the additional records only they referred to) to the limits;
/// whether anything was trimmed.
pub fn trim(
    reply: &mut Message,
    qtype: RecordType,
    transport: Transport,
    limits: AnswerLimits,
) -> bool {
    let before = reply.answers.len();
    let mut count = before.min(DNS_ANSWERS_PER_RESPONSE_MAX);
    let address_query = matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY);
    if address_query && limits.a_record_limit > 0 {
        count = count.min(limits.a_record_limit);
    }
    // Consul's test is the size, not EDNS itself: an EDNS client offering 512 bytes is limited too.
    let plain_udp = matches!(transport, Transport::Udp { .. })
        && bytes_max(transport) == DNS_UDP_PLAIN_BYTES_MAX;
    if plain_udp {
        count = count.min(limits.udp_answer_limit.clamp(1, DNS_UDP_PLAIN_ANSWERS_MAX));
    }
    keep_answers(reply, count);
    let bytes_max = usize::from(bytes_max(transport));
    if encoded_len(reply) > bytes_max {
        let fits = largest_fitting(reply, bytes_max);
        keep_answers(reply, fits);
    }
    reply.answers.len() < before
}

/// The reply size allowed on `transport`.
pub fn bytes_max(transport: Transport) -> u16 {
    match transport {
        Transport::Udp { edns_payload: None } => DNS_UDP_PLAIN_BYTES_MAX,
        Transport::Udp {
            edns_payload: Some(offered),
        } => offered.clamp(DNS_UDP_PLAIN_BYTES_MAX, DNS_UDP_PAYLOAD_BYTES_MAX),
        Transport::Tcp => DNS_TCP_MESSAGE_BYTES_MAX,
    }
}

/// The most answers (with their additional records) that encode within `bytes_max`: a
/// binary search, so a large answer is encoded a dozen times, not once per record.
fn largest_fitting(reply: &Message, bytes_max: usize) -> usize {
    let (mut fits, mut too_many) = (0, reply.answers.len());
    while fits + 1 < too_many {
        let mid = (fits + too_many) / 2;
        let mut trial = reply.clone();
        keep_answers(&mut trial, mid);
        if encoded_len(&trial) <= bytes_max {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    fits
}

/// Keeps the first `count` answers, and the additional records whose owner is the target of
/// a kept SRV answer (Consul's `syncExtra`); other additional records (EDNS aside) stay.
fn keep_answers(reply: &mut Message, count: usize) {
    if reply.answers.len() <= count {
        return;
    }
    reply.answers.truncate(count);
    let targets: BTreeSet<Name> = reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::SRV(srv) => Some(srv.target.clone()),
            _ => None,
        })
        .collect();
    reply
        .additionals
        .retain(|record| targets.contains(&record.name));
}

/// The reply's size on the wire; a reply that does not encode counts as too large.
pub fn encoded_len(reply: &Message) -> usize {
    reply.to_vec().map_or(usize::MAX, |bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, SRV};
    use hickory_proto::rr::Record;

    fn srv_reply(count: u8) -> Message {
        let mut reply = Message::new(1, MessageType::Response, OpCode::Query);
        let owner = Name::from_ascii("web.service.consul.").unwrap();
        for i in 0..count {
            let target = Name::from_ascii(format!("node-{i}.node.dc1.consul.")).unwrap();
            let srv = SRV::new(1, 1, 80, target.clone());
            reply.add_answer(Record::from_rdata(owner.clone(), 0, RData::SRV(srv)));
            let a = RData::A(A([10, 0, 0, i].into()));
            reply.add_additional(Record::from_rdata(target, 0, a));
        }
        reply
    }

    #[test]
    fn the_edns_size_is_honoured_within_512_and_the_maximum() {
        let udp = |edns_payload| bytes_max(Transport::Udp { edns_payload });
        assert_eq!(
            (udp(None), udp(Some(100)), udp(Some(1232))),
            (512, 512, 1232)
        );
        assert_eq!(udp(Some(65_000)), DNS_UDP_PAYLOAD_BYTES_MAX);
        assert_eq!(bytes_max(Transport::Tcp), u16::MAX);
    }

    #[test]
    fn trimming_keeps_the_additional_records_of_the_kept_answers_only() {
        let limits = AnswerLimits {
            udp_answer_limit: 2,
            a_record_limit: 1,
        };
        let mut reply = srv_reply(5);
        let plain = Transport::Udp { edns_payload: None };
        assert!(trim(&mut reply, RecordType::SRV, plain, limits));
        assert_eq!((reply.answers.len(), reply.additionals.len()), (2, 2));
        let kept: Vec<_> = reply
            .additionals
            .iter()
            .map(|r| r.name.to_string())
            .collect();
        assert_eq!(kept, ["node-0.node.dc1.consul.", "node-1.node.dc1.consul."]);
        let generous = AnswerLimits {
            udp_answer_limit: 50,
            a_record_limit: 0,
        };
        let mut capped = srv_reply(0);
        let owner = Name::from_ascii("web.service.consul.").unwrap();
        for i in 0..20 {
            let a = RData::A(A([10, 0, 1, i].into()));
            capped.add_answer(Record::from_rdata(owner.clone(), 0, a));
        }
        assert!(encoded_len(&capped) <= 512, "20 A records fit 512 bytes");
        trim(&mut capped, RecordType::A, plain, generous);
        assert_eq!(capped.answers.len(), DNS_UDP_PLAIN_ANSWERS_MAX);
        let mut big = srv_reply(60);
        let edns = Transport::Udp {
            edns_payload: Some(1232),
        };
        assert!(
            trim(&mut big, RecordType::SRV, edns, limits),
            "SRV ignores a_record_limit, not size"
        );
        assert!(encoded_len(&big) <= 1232 && big.answers.len() > 10);
        let mut tcp = srv_reply(60);
        assert!(!trim(&mut tcp, RecordType::SRV, Transport::Tcp, limits));
    }
}
