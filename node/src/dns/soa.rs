//! The SOA record Consul puts in Authority when there is no answer (NXDOMAIN, or a name
//! without records of the type asked): `ns.<domain>`, `hostmaster.<domain>`, the unix time as
//! the serial, and Consul's default timers.

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record};

/// Consul's `dns_config.soa` defaults, in seconds.
pub const SOA_REFRESH_S: i32 = 3600;
pub const SOA_RETRY_S: i32 = 600;
pub const SOA_EXPIRE_S: i32 = 86_400;
/// Also the SOA's own TTL, as Consul (negative answers are not cached by default).
pub const SOA_MIN_TTL_S: u32 = 0;

/// The SOA of `domain` (a name ending in a dot) at `now_unix_s`.
pub fn soa_record(domain: &Name, now_unix_s: u64) -> Record {
    let label = |first: &str| {
        Name::from_ascii(first)
            .and_then(|name| name.append_domain(domain))
            .unwrap_or_else(|_| domain.clone())
    };
    // The serial field is 32 bits: the unix time wraps in 2106, as Consul's does.
    let serial = now_unix_s as u32;
    let soa = SOA::new(
        label("ns"),
        label("hostmaster"),
        serial,
        SOA_REFRESH_S,
        SOA_RETRY_S,
        SOA_EXPIRE_S,
        SOA_MIN_TTL_S,
    );
    Record::from_rdata(domain.clone(), SOA_MIN_TTL_S, RData::SOA(soa))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_names_the_domain_s_ns_and_hostmaster() {
        let domain = Name::from_ascii("consul.").unwrap();
        let record = soa_record(&domain, 1_700_000_000);
        let RData::SOA(soa) = &record.data else {
            panic!("not an SOA: {record:?}");
        };
        assert_eq!(soa.mname.to_string(), "ns.consul.");
        assert_eq!(soa.rname.to_string(), "hostmaster.consul.");
        assert_eq!(
            (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
            (1_700_000_000, 3600, 600, 86_400, 0)
        );
    }
}
