//! From catalog entries to resource records, as Consul answers: critical instances left out
//! (warning kept unless `only_passing`), A/AAAA owned by the query name, SRV with priority 1,
//! the health's weight, the port and a target whose address goes in Additional.

use super::name::ip_hex;
use concord_core::catalog::{CheckStatus, Node, ServiceEntry};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Records of one answer, before the limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
}

/// What names and TTLs the records of one query use.
pub struct Context<'a> {
    /// The query name, owner of A/AAAA/SRV answers.
    pub qname: &'a Name,
    pub qtype: RecordType,
    /// Lower case, as `<node>.node.<dc>.<domain>` targets spell it.
    pub datacenter: &'a str,
    /// Ends in a dot.
    pub domain: &'a str,
    pub ttl_s: u32,
}

/// An entry's health for DNS: `None` when any of its checks (node-level included) is
/// critical, or, with `only_passing`, not passing.
pub fn health(entry: &ServiceEntry, only_passing: bool) -> Option<CheckStatus> {
    let worst = entry.checks.iter().map(|c| c.status).max();
    match worst.unwrap_or(CheckStatus::Passing) {
        CheckStatus::Critical => None,
        CheckStatus::Warning if only_passing => None,
        status => Some(status),
    }
}

/// Whether the instance carries `tag`, compared without regard to case (as Consul's DNS).
pub fn has_tag(entry: &ServiceEntry, tag: &str) -> bool {
    entry
        .service
        .tags
        .iter()
        .any(|t| t.eq_ignore_ascii_case(tag))
}

/// The records answering a service query over `entries` (healthy, in answer order).
pub fn service_answer(entries: &[(ServiceEntry, CheckStatus)], cx: &Context) -> Answer {
    let mut answer = Answer::default();
    if cx.qtype == RecordType::SRV {
        let mut targets = BTreeSet::new();
        for (entry, status) in entries {
            srv_records(entry, *status, cx, &mut answer, &mut targets);
        }
        return answer;
    }
    // The same address twice is one answer (instances sharing a node).
    let mut seen = BTreeSet::new();
    for (entry, _) in entries {
        let address = instance_address(entry);
        if seen.insert(address.to_string()) {
            answer
                .answers
                .extend(address_record(cx.qname, cx.ttl_s, address, cx.qtype));
        }
    }
    answer
}

/// The service's own address when it has one, else its node's.
fn instance_address(entry: &ServiceEntry) -> &str {
    if entry.service.address.is_empty() {
        &entry.node.address
    } else {
        &entry.service.address
    }
}

fn srv_records(
    entry: &ServiceEntry,
    status: CheckStatus,
    cx: &Context,
    answer: &mut Answer,
    targets: &mut BTreeSet<Name>,
) {
    let weights = entry.service.weights;
    let weight = match status {
        CheckStatus::Warning => weights.warning,
        _ => weights.passing,
    };
    let (target, address) = match srv_target(entry, cx) {
        Some(found) => found,
        None => return,
    };
    let weight = u16::try_from(weight).unwrap_or(u16::MAX);
    let srv = SRV::new(1, weight, entry.service.port, target.clone());
    answer.answers.push(Record::from_rdata(
        cx.qname.clone(),
        cx.ttl_s,
        RData::SRV(srv),
    ));
    if let Some(address) = address {
        if targets.insert(target.clone()) {
            let any = RecordType::ANY;
            answer
                .additionals
                .extend(address_record(&target, cx.ttl_s, &address, any));
        }
    }
}

/// `<hex>.addr.<dc>.<domain>` for a service with its own IP, the hostname for a service with
/// its own hostname (no additional record), else `<node>.node.<dc>.<domain>`; with the address
/// the additional record gives. `None` when the name is not a valid DNS name.
fn srv_target(entry: &ServiceEntry, cx: &Context) -> Option<(Name, Option<String>)> {
    let own = &entry.service.address;
    if own.is_empty() {
        let target = node_name(&entry.node, cx)?;
        return Some((target, Some(entry.node.address.clone())));
    }
    match own.parse::<IpAddr>() {
        Ok(ip) => {
            let text = format!("{}.addr.{}.{}", ip_hex(ip), cx.datacenter, cx.domain);
            Some((Name::from_ascii(text).ok()?, Some(own.clone())))
        }
        Err(_) => Some((fqdn(own)?, None)),
    }
}

fn node_name(node: &Node, cx: &Context) -> Option<Name> {
    let text = format!("{}.node.{}.{}", node.name, cx.datacenter, cx.domain);
    Name::from_ascii(text).ok()
}

fn fqdn(host: &str) -> Option<Name> {
    let mut name = Name::from_ascii(host).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// The record giving `address` to `owner` for a query of `qtype`: A for IPv4, AAAA for IPv6,
/// CNAME for a hostname (as Consul); `None` when the type asked is not that one.
pub fn address_record(
    owner: &Name,
    ttl_s: u32,
    address: &str,
    qtype: RecordType,
) -> Option<Record> {
    let any = qtype == RecordType::ANY;
    let rdata = match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if any || qtype == RecordType::A => RData::A(A(v4)),
        Ok(IpAddr::V6(v6)) if any || qtype == RecordType::AAAA => RData::AAAA(AAAA(v6)),
        Ok(_) => return None,
        Err(_) if address.is_empty() => return None,
        Err(_) => match qtype {
            RecordType::A | RecordType::AAAA | RecordType::CNAME | RecordType::ANY => {
                RData::CNAME(CNAME(fqdn(address)?))
            }
            _ => return None,
        },
    };
    Some(Record::from_rdata(owner.clone(), ttl_s, rdata))
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
