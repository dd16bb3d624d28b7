//! The startup banner, in Consul's layout (right-aligned labels), so operators find the same
//! lines where they are used to.

use concord_config::plan::AgentPlan;
use concord_node::NodeInfo;

const LABEL_WIDTH: usize = 21;

pub const STARTING: &str = "==> Starting Concord agent...";
pub const RUNNING: &str = "==> Concord agent running!";

/// The configuration lines between "Starting" and "running".
pub fn config_lines(plan: &AgentPlan, info: &NodeInfo) -> Vec<String> {
    let agent = &plan.node.agent;
    let server = agent.role == concord_core::membership::Role::Server;
    let bootstrap = server && agent.bootstrap_expect == 1;
    let mut server_line = format!("{server} (Bootstrap: {bootstrap})");
    if server && agent.bootstrap_expect > 1 {
        server_line = format!("{server} (Bootstrap Expect: {})", agent.bootstrap_expect);
    }
    let clients: Vec<String> = plan.client_addrs.iter().map(|ip| ip.to_string()).collect();
    let http = plan.http_port.map_or("-1".to_string(), |p| p.to_string());
    let dns = plan.dns_port.map_or("-1".to_string(), |p| p.to_string());
    let storage = match &plan.node.data_dir {
        Some(dir) => dir.display().to_string(),
        None => "in memory (-dev)".to_string(),
    };
    [
        ("Version", format!("'v{}'", info.version)),
        ("Node ID", format!("'{}'", info.node_id)),
        ("Node name", format!("'{}'", info.node_name)),
        ("Datacenter", format!("'{}'", info.datacenter)),
        ("Server", server_line),
        (
            "Client Addr",
            format!("[{}] (HTTP: {http}, DNS: {dns})", clients.join(" ")),
        ),
        (
            "Cluster Addr",
            format!(
                "{} (LAN: {}, Server: {})",
                plan.advertise, plan.serf_lan_port, plan.server_port
            ),
        ),
        ("Data Dir", storage),
        ("Gossip Encryption", "false".to_string()),
    ]
    .into_iter()
    .map(|(label, value)| format!("{label:>LABEL_WIDTH$}: {value}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_config::layer::ConfigLayer;
    use concord_config::plan::{build, HostFacts};
    use concord_core::membership::Role;

    #[test]
    fn banner_lines_line_up_like_consuls() {
        let layer = ConfigLayer {
            dev: Some(true),
            node_name: Some("n1".into()),
            ..Default::default()
        };
        let host = HostFacts {
            hostname: "h".into(),
            interfaces: vec![],
            seed: 1,
            quick_timings: false,
        };
        let plan = build(&layer, &host).unwrap();
        let info = NodeInfo {
            node_name: "n1".into(),
            node_id: "id-1".into(),
            datacenter: "dc1".into(),
            role: Role::Server,
            rpc_addr: "127.0.0.1:8300".into(),
            gossip_addr: "127.0.0.1:8301".into(),
            version: "0.1.0".into(),
        };
        let lines = config_lines(&plan, &info);
        assert_eq!(lines[0], "              Version: 'v0.1.0'");
        assert_eq!(lines[2], "            Node name: 'n1'");
        assert_eq!(lines[4], "               Server: true (Bootstrap: true)");
        assert_eq!(
            lines[5],
            "          Client Addr: [127.0.0.1] (HTTP: 8500, DNS: 8600)"
        );
        assert_eq!(
            lines[6],
            "         Cluster Addr: 127.0.0.1 (LAN: 8301, Server: 8300)"
        );
    }
}
