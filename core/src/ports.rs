//! Consul's default ports, defined once, and filling a default port into an address.
//! The agent's configuration, the HTTP API, the CLI and the simulator all use these.

/// Server RPC: Raft and forwarded requests (TCP).
pub const SERVER_PORT_DEFAULT: u16 = 8300;
/// LAN gossip (serf), also the port a `-join` address without one gets.
pub const SERF_LAN_PORT_DEFAULT: u16 = 8301;
/// The HTTP API.
pub const HTTP_PORT_DEFAULT: u16 = 8500;
/// DNS.
pub const DNS_PORT_DEFAULT: u16 = 8600;

/// Adds `:port` unless `addr` already has one: `host`, `ip` and bare or bracketed IPv6
/// addresses get it (IPv6 in brackets); `host:port` and `[v6]:port` are kept as they are.
pub fn with_default_port(addr: &str, port: u16) -> String {
    if addr.starts_with('[') && addr.contains("]:") {
        return addr.to_string();
    }
    match addr.matches(':').count() {
        0 => format!("{addr}:{port}"),
        1 => addr.to_string(),
        _ => format!(
            "[{}]:{port}",
            addr.trim_start_matches('[').trim_end_matches(']')
        ),
    }
}

/// Splits `ip:port`, `[v6]:port` or a bare host; the host loses IPv6 brackets, and the port
/// is `None` when absent or not a number.
pub fn split_host_port(addr: &str) -> (&str, Option<u16>) {
    let (host, port) = match addr.rsplit_once(':') {
        // A bare IPv6 address has colons but no port.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            (host, port.parse().ok())
        }
        _ => (addr, None),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (host, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_port_is_filled_in_and_a_present_one_kept() {
        let port = SERF_LAN_PORT_DEFAULT;
        assert_eq!(with_default_port("10.0.0.1", port), "10.0.0.1:8301");
        assert_eq!(with_default_port("10.0.0.1:9000", port), "10.0.0.1:9000");
        assert_eq!(with_default_port("::1", port), "[::1]:8301");
        assert_eq!(with_default_port("[::1]", port), "[::1]:8301");
        assert_eq!(with_default_port("[::1]:7000", port), "[::1]:7000");
        assert_eq!(with_default_port("consul-1", port), "consul-1:8301");
        assert_eq!(with_default_port("consul-1:7000", port), "consul-1:7000");
    }

    #[test]
    fn host_and_port_split() {
        assert_eq!(split_host_port("10.0.0.5:8301"), ("10.0.0.5", Some(8301)));
        assert_eq!(split_host_port("[::1]:8301"), ("::1", Some(8301)));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("host"), ("host", None));
        assert_eq!(split_host_port("host:http"), ("host", None));
    }
}
