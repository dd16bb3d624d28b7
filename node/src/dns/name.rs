//! From a query name to what it asks for, as Consul reads names: labels are matched without
//! regard to case, the trailing dot is optional, and the datacenter label is optional.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a name under the domain asks for. Service, tag and node names keep the case they were
/// sent in (the catalog lookup tries them as sent, then without regard to case); the
/// datacenter is lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// `[TAG.]NAME.service[.DC]` or `_NAME._TAG.service[.DC]` (tag `tcp`: no tag filter).
    Service {
        name: String,
        tag: Option<String>,
        dc: Option<String>,
    },
    /// `NODE.node[.DC]`; a node name may itself hold dots.
    Node { name: String, dc: Option<String> },
    /// `HEX.addr[.DC]`: the IP written as 8 (IPv4) or 32 (IPv6) hex digits.
    Addr { ip: IpAddr, dc: Option<String> },
    /// The domain itself.
    Apex,
    /// Under the domain, but no name Consul answers: NXDOMAIN.
    Unknown,
    /// Not under the domain: REFUSED (Concord has no recursors).
    Outside,
}

/// Reads `qname` (any case, with or without the trailing dot) against `domain`
/// (lower case, ending in a dot).
pub fn parse(qname: &str, domain: &str) -> Lookup {
    let name = qname.trim_end_matches('.');
    let lower = name.to_ascii_lowercase();
    let domain = domain.trim_end_matches('.');
    if lower == domain {
        return Lookup::Apex;
    }
    // ASCII lower-casing keeps every byte where it was, so `lower`'s split applies to `name`.
    let rest = match lower
        .strip_suffix(domain)
        .map(|rest| rest.strip_suffix('.'))
    {
        Some(Some(rest)) if !rest.is_empty() => &name[..rest.len()],
        _ => return Lookup::Outside,
    };
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Lookup::Unknown;
    }
    let (kind_at, dc) = match labels.as_slice() {
        [.., kind] if is_kind(kind) => (labels.len() - 1, None),
        [.., kind, dc] if is_kind(kind) => (labels.len() - 2, Some(dc.to_ascii_lowercase())),
        _ => return Lookup::Unknown,
    };
    let before = &labels[..kind_at];
    match labels[kind_at].to_ascii_lowercase().as_str() {
        "service" => service(before, dc),
        "node" if !before.is_empty() => Lookup::Node {
            name: before.join("."),
            dc,
        },
        "addr" => match before {
            [hex] => hex_ip(hex).map_or(Lookup::Unknown, |ip| Lookup::Addr { ip, dc }),
            _ => Lookup::Unknown,
        },
        _ => Lookup::Unknown,
    }
}

fn is_kind(label: &str) -> bool {
    ["service", "node", "addr"]
        .iter()
        .any(|kind| label.eq_ignore_ascii_case(kind))
}

fn service(labels: &[&str], dc: Option<String>) -> Lookup {
    let (name, tag) = match labels {
        [name] => (name.to_string(), None),
        [first, second] => match (first.strip_prefix('_'), second.strip_prefix('_')) {
            // RFC 2782: `_NAME._PROTO`; Consul reads the protocol label as a tag, except `tcp`.
            (Some(name), Some(tcp)) if tcp.eq_ignore_ascii_case("tcp") => (name.to_string(), None),
            (Some(name), Some(tag)) => (name.to_string(), Some(tag.to_string())),
            _ => (second.to_string(), Some(first.to_string())),
        },
        _ => return Lookup::Unknown,
    };
    if name.is_empty() || tag.as_deref() == Some("") {
        return Lookup::Unknown;
    }
    Lookup::Service { name, tag, dc }
}

/// `7f000001` is 127.0.0.1; 32 digits are an IPv6 address.
fn hex_ip(hex: &str) -> Option<IpAddr> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        8 => u32::from_str_radix(hex, 16)
            .ok()
            .map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        32 => u128::from_str_radix(hex, 16)
            .ok()
            .map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        _ => None,
    }
}

/// The `addr` label of an IP: 8 hex digits for IPv4, 32 for IPv6 (Consul's encoding).
pub fn ip_hex(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:08x}", u32::from(v4)),
        IpAddr::V6(v6) => format!("{:032x}", u128::from(v6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "consul.";

    fn svc(name: &str, tag: Option<&str>, dc: Option<&str>) -> Lookup {
        Lookup::Service {
            name: name.into(),
            tag: tag.map(Into::into),
            dc: dc.map(Into::into),
        }
    }

    #[test]
    fn service_names_with_and_without_tag_dc_case_and_trailing_dot() {
        assert_eq!(parse("web.service.consul.", D), svc("web", None, None));
        assert_eq!(parse("Web.SERVICE.Consul", D), svc("Web", None, None));
        assert_eq!(
            parse("web.service.dc1.consul", D),
            svc("web", None, Some("dc1"))
        );
        assert_eq!(
            parse("v1.web.service.consul", D),
            svc("web", Some("v1"), None)
        );
        assert_eq!(
            parse("v1.web.service.DC2.consul.", D),
            svc("web", Some("v1"), Some("dc2"))
        );
    }

    #[test]
    fn rfc2782_names_read_the_protocol_as_a_tag_except_tcp() {
        assert_eq!(parse("_web._TCP.service.consul", D), svc("web", None, None));
        assert_eq!(
            parse("_web._v1.service.dc1.consul.", D),
            svc("web", Some("v1"), Some("dc1"))
        );
        assert_eq!(parse("_web._.service.consul", D), Lookup::Unknown);
    }

    #[test]
    fn node_and_addr_names() {
        let node = |name: &str, dc: Option<&str>| Lookup::Node {
            name: name.into(),
            dc: dc.map(Into::into),
        };
        assert_eq!(parse("n1.node.consul", D), node("n1", None));
        assert_eq!(parse("N1.Node.DC1.consul.", D), node("N1", Some("dc1")));
        assert_eq!(
            parse("host.example.node.consul", D),
            node("host.example", None)
        );
        let addr = parse("7f000001.addr.dc1.consul.", D);
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(
            addr,
            Lookup::Addr {
                ip,
                dc: Some("dc1".into())
            }
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            parse(&format!("{}.addr.consul", ip_hex(v6)), D),
            Lookup::Addr { ip: v6, dc: None }
        );
    }

    #[test]
    fn other_names_are_unknown_apex_or_outside() {
        assert_eq!(parse("consul.", D), Lookup::Apex);
        assert_eq!(parse("example.com.", D), Lookup::Outside);
        assert_eq!(parse("notconsul.", D), Lookup::Outside);
        assert_eq!(parse("web.consul.", D), Lookup::Unknown);
        assert_eq!(parse("a.b.web.service.consul.", D), Lookup::Unknown);
        assert_eq!(parse("node.consul.", D), Lookup::Unknown);
        assert_eq!(parse("xyz.addr.consul.", D), Lookup::Unknown);
        assert_eq!(
            parse("web.service.example.", "example."),
            svc("web", None, None)
        );
    }

    #[test]
    fn ip_hex_round_trips() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 255));
        assert_eq!(ip_hex(ip), "0a0000ff");
        assert_eq!(hex_ip("0a0000ff"), Some(ip));
    }
}
