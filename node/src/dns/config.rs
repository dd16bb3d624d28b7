//! What `dns_config { ... }` and `domain` set, with Consul's defaults.

use std::collections::BTreeMap;

/// Consul's `domain` default.
pub const DOMAIN_DEFAULT: &str = "consul.";
/// Consul's `dns_config.udp_answer_limit` default: answers in a UDP reply without EDNS.
pub const UDP_ANSWER_LIMIT_DEFAULT: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    /// Lower case, ending in a dot (`consul.`).
    pub domain: String,
    /// Drop warning instances too (critical ones are always dropped).
    pub only_passing: bool,
    /// Answers in a UDP reply to a query without EDNS; at least 1.
    pub udp_answer_limit: usize,
    /// Set TC when an answer was trimmed (Consul's default trims silently).
    pub enable_truncate: bool,
    /// A/AAAA answers at most, on UDP and TCP; 0 is no limit.
    pub a_record_limit: usize,
    pub node_ttl_ms: u64,
    /// By service name; `*` alone matches every service, `web*` every name starting `web`.
    pub service_ttl_ms: BTreeMap<String, u64>,
    /// Any server answers from its own state (no leader needed), as Consul's default.
    pub allow_stale: bool,
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig {
            domain: DOMAIN_DEFAULT.into(),
            only_passing: false,
            udp_answer_limit: UDP_ANSWER_LIMIT_DEFAULT,
            enable_truncate: false,
            a_record_limit: 0,
            node_ttl_ms: 0,
            service_ttl_ms: BTreeMap::new(),
            allow_stale: true,
        }
    }
}

impl DnsConfig {
    /// The TTL, in seconds, of a service's records: its own entry, else the longest matching
    /// `prefix*` entry, else `*`, else 0 (Consul's lookup order).
    pub fn service_ttl_s(&self, service: &str) -> u32 {
        if let Some(ms) = self.service_ttl_ms.get(service) {
            return seconds(*ms);
        }
        let wildcard = self
            .service_ttl_ms
            .iter()
            .filter_map(|(key, ms)| Some((key.strip_suffix('*')?, ms)))
            .filter(|(prefix, _)| service.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len());
        wildcard.map_or(0, |(_, ms)| seconds(*ms))
    }

    pub fn node_ttl_s(&self) -> u32 {
        seconds(self.node_ttl_ms)
    }
}

/// `domain` as answers use it: lower case with one trailing dot; `None` when empty or not a
/// DNS name (labels of 1 to 63 letters, digits, `-` or `_`).
pub fn normalize_domain(text: &str) -> Option<String> {
    let trimmed = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (!trimmed.is_empty() && trimmed.split('.').all(label_ok)).then(|| format!("{trimmed}."))
}

fn seconds(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ttl_takes_the_name_then_the_longest_prefix_then_star() {
        let mut config = DnsConfig::default();
        assert_eq!(config.service_ttl_s("web"), 0, "no entry: 0s");
        config.service_ttl_ms = [("*", 5_000), ("we*", 7_000), ("web*", 9_000), ("db", 3_000)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(config.service_ttl_s("db"), 3);
        assert_eq!(config.service_ttl_s("web-api"), 9);
        assert_eq!(config.service_ttl_s("cache"), 5);
    }

    #[test]
    fn domains_are_lower_case_with_one_trailing_dot() {
        assert_eq!(normalize_domain("Consul").as_deref(), Some("consul."));
        assert_eq!(
            normalize_domain("my.Domain.").as_deref(),
            Some("my.domain.")
        );
        assert_eq!(normalize_domain(" . "), None);
        assert_eq!(normalize_domain("a..b"), None);
        assert_eq!(normalize_domain("my domain"), None);
    }
}
