//! From merged settings to what the runtime needs: the checks Consul makes at start (with its
//! messages), the defaults, and the `NodeConfig`.

use crate::bind::{self, Interface};
use crate::layer::{ConfigLayer, Ports};
use crate::level::Level;
use crate::ports;
use concord_core::agent::AgentConfig;
use concord_core::membership::Role;
use concord_core::ports::{
    DNS_PORT_DEFAULT, HTTP_PORT_DEFAULT, SERF_LAN_PORT_DEFAULT, SERVER_PORT_DEFAULT,
};
use concord_node::config::NodeConfig;
use concord_node::dns::DnsConfig;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// What the machine tells us, passed in so that planning is a pure function.
#[derive(Clone, Debug)]
pub struct HostFacts {
    pub hostname: String,
    pub interfaces: Vec<Interface>,
    pub seed: u64,
    /// Every timer quick, as `-dev` has them (the simulator's machines: seconds of Raft and
    /// gossip timeouts would make runs long). Settings a file or flag names still win.
    pub quick_timings: bool,
}

/// Everything `run` needs to start the agent and print its banner.
#[derive(Clone, Debug)]
pub struct AgentPlan {
    pub node: NodeConfig,
    pub dev: bool,
    /// Where the HTTP API listens (empty when `ports.http = -1`).
    pub http_listen: Vec<SocketAddr>,
    pub http_port: Option<u16>,
    pub dns_port: Option<u16>,
    /// `domain` and `dns_config`, for the DNS interface (served when `dns_port` is set).
    pub dns: DnsConfig,
    pub client_addrs: Vec<IpAddr>,
    pub advertise: IpAddr,
    pub server_port: u16,
    pub serf_lan_port: u16,
    pub ui: bool,
    /// `ui_config.dir`: the UI's files come from here, not from the binary.
    pub ui_dir: Option<PathBuf>,
    pub log_level: Level,
    pub log_json: bool,
    pub pid_file: Option<PathBuf>,
    pub warnings: Vec<String>,
}

/// Consul's consistency checks of the settings. `need_data_dir` is off for `concord validate`,
/// which checks files that may hold only part of a configuration.
pub fn check(layer: &ConfigLayer, need_data_dir: bool) -> Result<Vec<String>, String> {
    let dev = layer.dev.unwrap_or(false);
    let server = dev || layer.server.unwrap_or(false);
    let expect = layer.bootstrap_expect.unwrap_or(0);
    let bootstrap = layer.bootstrap.unwrap_or(false);
    if dev && expect > 0 {
        return Err("'bootstrap_expect > 0' not allowed in dev mode: -dev always runs a single server that elects itself; drop -bootstrap-expect".into());
    }
    if bootstrap && expect > 0 {
        return Err("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive: use one of -bootstrap and -bootstrap-expect".into());
    }
    if !server && expect > 0 {
        return Err("'bootstrap_expect > 0' not allowed in client mode: add -server, or drop -bootstrap-expect".into());
    }
    if !server && bootstrap {
        return Err("'bootstrap = true' not allowed in client mode: add -server".into());
    }
    if need_data_dir && !dev && layer.data_dir.as_deref().unwrap_or("").is_empty() {
        return Err("data_dir cannot be empty: pass -data-dir DIR (or set data_dir in a config file), or use -dev for an in-memory agent".into());
    }
    if layer.node_name.as_deref() == Some("") {
        return Err("node_name cannot be empty".into());
    }
    if layer.encrypt.is_some() {
        // Config files refuse the key when read (naming the file), so this is the flag.
        return Err("-encrypt: gossip encryption is not built into Concord yet, and it will not start with a key it would ignore (gossip would go out unencrypted); drop -encrypt".into());
    }
    check_ports(&layer.ports)?;
    Ok(check_warnings(expect, dev, layer))
}

fn check_warnings(expect: u32, dev: bool, layer: &ConfigLayer) -> Vec<String> {
    let mut warnings = Vec::new();
    if expect == 1 {
        warnings.push(
            "bootstrap_expect = 1: this server will elect itself, the same as -bootstrap".into(),
        );
    } else if expect > 1 && expect.is_multiple_of(2) {
        let tolerated = (expect - 1) / 2;
        warnings.push(format!(
            "bootstrap_expect = {expect} is an even number: {expect} servers survive {tolerated} failed server(s), no more than {} servers would",
            expect - 1
        ));
    }
    if dev && layer.data_dir.is_some() {
        warnings.push("-dev keeps everything in memory: data_dir is ignored".into());
    }
    warnings
}

/// Flags and config keys are checked where they are read (naming the flag or the file and
/// key); this catches a layer built any other way, so that no bad port reaches a listener.
fn check_ports(ports: &Ports) -> Result<(), String> {
    let off_able = [("ports.http", ports.http), ("ports.dns", ports.dns)];
    for (key, port) in off_able {
        if let Some(port) = port {
            ports::or_off(port.into()).map_err(|why| format!("{key}: {why}"))?;
        }
    }
    let required = [
        ("ports.server", ports.server),
        ("ports.serf_lan", ports.serf_lan),
    ];
    for (key, port) in required {
        if let Some(port) = port {
            ports::required(port.into()).map_err(|why| format!("{key}: {why}"))?;
        }
    }
    Ok(())
}

/// Checks `layer` and turns it into a plan.
pub fn build(layer: &ConfigLayer, host: &HostFacts) -> Result<AgentPlan, String> {
    let mut warnings = check(layer, true)?;
    let dev = layer.dev.unwrap_or(false);
    let server = dev || layer.server.unwrap_or(false);
    let choice = bind::resolve(
        layer.bind_addr.as_deref(),
        layer.advertise_addr.as_deref(),
        dev,
        &host.interfaces,
    )?;
    warnings.extend(choice.warnings.iter().cloned());
    let server_port = layer.ports.server.unwrap_or(SERVER_PORT_DEFAULT);
    let serf_lan_port = layer.ports.serf_lan.unwrap_or(SERF_LAN_PORT_DEFAULT);
    let http_port = optional_port(layer.ports.http, HTTP_PORT_DEFAULT);
    let client_addrs = client_addrs(layer.client_addr.as_deref())?;
    let agent = agent_config(
        layer,
        host,
        server,
        dev,
        choice.advertise,
        (server_port, serf_lan_port),
    );
    agent.validate()?;
    crate::gossip::check(&agent.membership)?;
    let ports = (server_port, serf_lan_port);
    let node = node_config(layer, host, agent, choice.listen, dev, ports);
    Ok(AgentPlan {
        node,
        dev,
        http_listen: http_port
            .map(|port| {
                client_addrs
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, port))
                    .collect()
            })
            .unwrap_or_default(),
        http_port,
        dns_port: optional_port(layer.ports.dns, DNS_PORT_DEFAULT),
        dns: dns_config(layer),
        client_addrs,
        advertise: choice.advertise,
        server_port,
        serf_lan_port,
        // A UI directory turns the UI on (Consul refuses -ui with -ui-dir; Concord takes both,
        // so that `-dev -ui-dir DIR` works as one expects).
        ui: dev || layer.ui_dir.is_some() || layer.ui.unwrap_or(false),
        ui_dir: layer.ui_dir.as_ref().map(PathBuf::from),
        log_level: layer
            .log_level
            .unwrap_or(if dev { Level::Debug } else { Level::Info }),
        log_json: layer.log_json.unwrap_or(false),
        pid_file: layer.pid_file.as_ref().map(PathBuf::from),
        warnings,
    })
}

/// The runtime's settings over the agent's: listeners on the bind address, the data dir (none
/// in `-dev`), the addresses to join, limits, and the services and checks to register.
fn node_config(
    layer: &ConfigLayer,
    host: &HostFacts,
    agent: AgentConfig,
    listen: IpAddr,
    dev: bool,
    (server_port, serf_lan_port): (u16, u16),
) -> NodeConfig {
    let mut node = NodeConfig::new(
        agent,
        SocketAddr::new(listen, server_port),
        SocketAddr::new(listen, serf_lan_port),
    );
    node.data_dir = if dev {
        None
    } else {
        layer.data_dir.as_ref().map(PathBuf::from)
    };
    node.seed = host.seed;
    node.join = join_addrs(&layer.start_join, serf_lan_port);
    node.retry_join = join_addrs(&layer.retry_join, serf_lan_port);
    if let Some(ms) = layer.retry_interval_ms {
        node.retry_interval_ms = ms;
    }
    apply_limits(&mut node, &layer.limits);
    node.enable_script_checks = layer.enable_script_checks.unwrap_or(false);
    node.enable_local_script_checks = layer.enable_local_script_checks.unwrap_or(false);
    node.services = layer.services.clone();
    if let Some(ms) = layer.check_update_interval_ms {
        node.check_update_interval_ms = ms;
    }
    node
}

/// `domain` and `dns_config { ... }` over Consul's defaults (already checked when read).
fn dns_config(layer: &ConfigLayer) -> DnsConfig {
    let mut config = DnsConfig::default();
    let dns = &layer.dns;
    if let Some(domain) = &layer.domain {
        config.domain = domain.clone();
    }
    config.only_passing = dns.only_passing.unwrap_or(config.only_passing);
    config.udp_answer_limit = dns.udp_answer_limit.unwrap_or(config.udp_answer_limit);
    config.enable_truncate = dns.enable_truncate.unwrap_or(config.enable_truncate);
    config.a_record_limit = dns.a_record_limit.unwrap_or(config.a_record_limit);
    config.node_ttl_ms = dns.node_ttl_ms.unwrap_or(config.node_ttl_ms);
    if let Some(ttls) = &dns.service_ttl_ms {
        config.service_ttl_ms = ttls.clone();
    }
    config.allow_stale = dns.allow_stale.unwrap_or(config.allow_stale);
    config
}

/// `limits { ... }` over the defaults; a per-client limit of 0 means none, as in Consul.
fn apply_limits(node: &mut NodeConfig, limits: &crate::layer::Limits) {
    let per_client = |n: usize| if n == 0 { usize::MAX } else { n };
    if let Some(n) = limits.http_max_conns_per_client {
        node.http.http_max_conns_per_client = per_client(n);
    }
    if let Some(n) = limits.rpc_max_conns_per_client {
        node.inbound.rpc_max_conns_per_client = per_client(n);
    }
    if let Some(ms) = limits.http_idle_timeout_ms {
        node.http.idle_timeout_ms = ms;
    }
}

fn agent_config(
    layer: &ConfigLayer,
    host: &HostFacts,
    server: bool,
    dev: bool,
    advertise: IpAddr,
    (server_port, serf_lan_port): (u16, u16),
) -> AgentConfig {
    let name = layer
        .node_name
        .clone()
        .unwrap_or_else(|| host.hostname.clone());
    let role = if server { Role::Server } else { Role::Client };
    let mut agent = AgentConfig::new(&name, &advertise.to_string(), role);
    if let Some(datacenter) = &layer.datacenter {
        agent.datacenter = datacenter.clone();
    }
    agent.gossip_addr = SocketAddr::new(advertise, serf_lan_port).to_string();
    agent.rpc_addr = SocketAddr::new(advertise, server_port).to_string();
    // -bootstrap and -dev are -bootstrap-expect 1: this server elects itself.
    let single = dev || layer.bootstrap.unwrap_or(false);
    agent.bootstrap_expect = if single && server {
        1
    } else {
        layer.bootstrap_expect.unwrap_or(0)
    };
    if dev || host.quick_timings {
        agent = agent.fast();
    }
    layer.gossip.apply(&mut agent.membership);
    if let Some(entries) = layer.raft_snapshot_threshold {
        agent.snapshot_threshold_entries = entries;
    }
    if let Some(interval_ms) = layer.raft_snapshot_interval_ms {
        agent.snapshot_interval_ms = interval_ms;
    }
    layer.autopilot.apply(&mut agent.autopilot);
    if let Some(bytes) = layer.raft_snapshot_chunk_bytes {
        agent.raft.snapshot_chunk_bytes_max = usize::try_from(bytes).unwrap_or(usize::MAX);
    }
    agent
}

/// `-1` turns a port off.
fn optional_port(value: Option<i32>, default: u16) -> Option<u16> {
    match value {
        None => Some(default),
        Some(port) => u16::try_from(port).ok().filter(|p| *p > 0),
    }
}

/// `-client`: one or more IPs separated by spaces (Consul's form), default 127.0.0.1.
fn client_addrs(text: Option<&str>) -> Result<Vec<IpAddr>, String> {
    let text = text.unwrap_or("").trim();
    if text.is_empty() {
        return Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
    text.split_whitespace()
        .map(|word| {
            word.parse()
                .map_err(|_| format!("invalid client address {word:?}: expected an IP address such as 127.0.0.1 or 0.0.0.0"))
        })
        .collect()
}

/// Join addresses without a port get our LAN gossip port (memberlist does the same).
fn join_addrs(addrs: &[String], serf_lan_port: u16) -> Vec<String> {
    addrs
        .iter()
        .map(|addr| concord_core::ports::with_default_port(addr.trim(), serf_lan_port))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn host() -> HostFacts {
        HostFacts {
            hostname: "myhost".into(),
            interfaces: vec![Interface {
                name: "eth0".into(),
                ip: "192.168.11.143".parse().unwrap(),
            }],
            seed: 7,
            quick_timings: false,
        }
    }

    fn layer(f: impl FnOnce(&mut ConfigLayer)) -> ConfigLayer {
        let mut layer = ConfigLayer::default();
        f(&mut layer);
        layer
    }

    #[test]
    fn dev_is_an_in_memory_fast_single_server_on_loopback() {
        let plan = build(&layer(|l| l.dev = Some(true)), &host()).unwrap();
        assert!(plan.dev && plan.ui);
        assert_eq!(plan.node.data_dir, None);
        assert_eq!(plan.node.agent.role, Role::Server);
        assert_eq!(plan.node.agent.bootstrap_expect, 1);
        assert_eq!(
            plan.node.agent.raft,
            AgentConfig::new("x", "127.0.0.1", Role::Server).fast().raft
        );
        assert_eq!(plan.node.rpc_listen, "127.0.0.1:8300".parse().unwrap());
        assert_eq!(plan.log_level, Level::Debug);
        assert_eq!(plan.node.agent.node_name, "myhost");
        assert_eq!(plan.http_listen, ["127.0.0.1:8500".parse().unwrap()]);
    }

    #[test]
    fn a_server_from_the_guide() {
        let l = layer(|l| {
            l.data_dir = Some("/tmp/node0".into());
            l.node_name = Some("node0".into());
            l.bind_addr = Some("192.168.11.143".into());
            l.client_addr = Some("192.168.11.143".into());
            l.server = Some(true);
            l.bootstrap_expect = Some(1);
            l.start_join = vec!["192.168.11.144".into()];
        });
        let plan = build(&l, &host()).unwrap();
        let agent = &plan.node.agent;
        assert_eq!(
            (agent.gossip_addr.as_str(), agent.rpc_addr.as_str()),
            ("192.168.11.143:8301", "192.168.11.143:8300")
        );
        assert_eq!(
            plan.node.gossip_listen,
            "192.168.11.143:8301".parse().unwrap()
        );
        assert_eq!(plan.node.data_dir, Some(PathBuf::from("/tmp/node0")));
        assert_eq!(plan.node.join, ["192.168.11.144:8301"]);
        assert_eq!(plan.node.seed, 7);
        let defaults = (
            plan.node.retry_interval_ms,
            plan.node.agent.datacenter.as_str(),
        );
        assert_eq!(defaults, (30_000, "dc1"));
        assert_eq!(plan.http_listen, ["192.168.11.143:8500".parse().unwrap()]);
        assert_eq!(plan.log_level, Level::Info);
    }

    #[test]
    fn advertise_overrides_bind_for_other_agents() {
        let l = layer(|l| {
            l.data_dir = Some("/d".into());
            l.bind_addr = Some("0.0.0.0".into());
            l.advertise_addr = Some("10.1.1.1".into());
            l.ports.serf_lan = Some(9301);
        });
        let plan = build(&l, &host()).unwrap();
        assert_eq!(plan.node.gossip_listen, "0.0.0.0:9301".parse().unwrap());
        assert_eq!(plan.node.agent.gossip_addr, "10.1.1.1:9301");
        assert_eq!(plan.node.agent.role, Role::Client);
    }

    #[test]
    fn consul_refusals() {
        let cases: [(ConfigLayer, &str); 5] = [
            (
                layer(|l| {
                    l.dev = Some(true);
                    l.bootstrap_expect = Some(3)
                }),
                "not allowed in dev mode",
            ),
            (
                layer(|l| {
                    l.server = Some(true);
                    l.bootstrap = Some(true);
                    l.bootstrap_expect = Some(3);
                    l.data_dir = Some("/d".into())
                }),
                "mutually exclusive",
            ),
            (
                layer(|l| {
                    l.bootstrap_expect = Some(3);
                    l.data_dir = Some("/d".into())
                }),
                "not allowed in client mode",
            ),
            (layer(|l| l.server = Some(true)), "data_dir cannot be empty"),
            (
                layer(|l| {
                    l.dev = Some(true);
                    l.encrypt = Some("short".into())
                }),
                "-encrypt: gossip encryption is not built",
            ),
        ];
        for (l, want) in cases {
            let err = build(&l, &host()).unwrap_err();
            assert!(err.contains(want), "{err} should mention {want}");
        }
    }

    #[test]
    fn dns_settings_reach_the_plan_over_consul_s_defaults() {
        let plan = build(&layer(|l| l.dev = Some(true)), &host()).unwrap();
        assert_eq!(plan.dns, DnsConfig::default());
        assert_eq!(
            (plan.dns.domain.as_str(), plan.dns.udp_answer_limit),
            ("consul.", 3)
        );
        let l = layer(|l| {
            l.dev = Some(true);
            l.domain = Some("example.".into());
            l.dns.udp_answer_limit = Some(7);
            l.dns.allow_stale = Some(false);
        });
        let dns = build(&l, &host()).unwrap().dns;
        assert_eq!(
            (dns.domain.as_str(), dns.udp_answer_limit, dns.allow_stale),
            ("example.", 7, false)
        );
    }

    #[test]
    fn bootstrap_means_expect_one_and_ports_can_be_off() {
        let l = layer(|l| {
            l.server = Some(true);
            l.bootstrap = Some(true);
            l.data_dir = Some("/d".into());
            l.ports.http = Some(-1);
            l.ports.dns = Some(-1);
        });
        let plan = build(&l, &host()).unwrap();
        assert_eq!(plan.node.agent.bootstrap_expect, 1);
        assert!(plan.http_listen.is_empty());
        assert_eq!(plan.dns_port, None);
    }

    #[test]
    fn bad_ports_from_any_layer_are_refused() {
        let cases = [
            (layer(|l| l.ports.http = Some(70_000)), "ports.http: 70000"),
            (layer(|l| l.ports.dns = Some(0)), "ports.dns: 0"),
            (layer(|l| l.ports.server = Some(0)), "ports.server: 0"),
            (layer(|l| l.ports.serf_lan = Some(0)), "ports.serf_lan: 0"),
        ];
        for (mut l, want) in cases {
            l.dev = Some(true);
            let err = build(&l, &host()).unwrap_err();
            assert!(err.starts_with(want), "{err} should start with {want}");
        }
    }

    #[test]
    fn limits_reach_the_node_config() {
        let plan = build(&layer(|l| l.dev = Some(true)), &host()).unwrap();
        assert_eq!(plan.node.http.http_max_conns_per_client, 200);
        assert_eq!(plan.node.inbound.rpc_max_conns_per_client, 100);
        let l = layer(|l| {
            l.dev = Some(true);
            l.limits.http_max_conns_per_client = Some(0);
            l.limits.rpc_max_conns_per_client = Some(3);
            l.limits.http_idle_timeout_ms = Some(1_500);
        });
        let plan = build(&l, &host()).unwrap();
        assert_eq!(plan.node.http.http_max_conns_per_client, usize::MAX);
        assert_eq!(plan.node.inbound.rpc_max_conns_per_client, 3);
        assert_eq!(plan.node.http.idle_timeout_ms, 1_500);
    }

    #[test]
    fn autopilot_keys_reach_the_agent_over_the_defaults() {
        let plan = build(&layer(|l| l.data_dir = Some("/d".into())), &host()).unwrap();
        assert_eq!(
            plan.node.agent.autopilot.server_stabilization_time_ms,
            10_000
        );
        let plan = build(&layer(|l| l.dev = Some(true)), &host()).unwrap();
        assert_eq!(
            plan.node.agent.autopilot.server_stabilization_time_ms,
            2_000
        );
        let l = layer(|l| {
            l.dev = Some(true);
            l.autopilot.min_quorum = Some(3);
            l.autopilot.server_stabilization_time_ms = Some(5_000);
        });
        let agent = build(&l, &host()).unwrap().node.agent;
        assert_eq!(agent.autopilot.min_quorum, 3);
        assert_eq!(agent.autopilot.server_stabilization_time_ms, 5_000);
        assert!(agent.autopilot.cleanup_dead_servers);
        assert!(!agent.raft.promote_caught_up_learners, "autopilot promotes");
    }

    #[test]
    fn several_client_addresses() {
        let l = layer(|l| {
            l.dev = Some(true);
            l.client_addr = Some("127.0.0.1 0.0.0.0".into())
        });
        let plan = build(&l, &host()).unwrap();
        assert_eq!(plan.http_listen.len(), 2);
        let bad = layer(|l| {
            l.dev = Some(true);
            l.client_addr = Some("localhost".into())
        });
        assert!(build(&bad, &host())
            .unwrap_err()
            .contains("invalid client address"));
    }
}
