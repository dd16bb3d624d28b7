//! `concord members`: the gossip pool as this agent sees it, in Consul's table.

use super::pattern::Pattern;
use super::{fail, HttpArgs};
use crate::row;
use crate::table::columnize;
use clap::Args;
use concord_node::api_types::{member_status_name, AgentMember};
use std::net::IpAddr;

#[derive(Args, Clone, Debug)]
pub struct MembersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Show every tag of each member.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub detailed: Option<bool>,
    /// Only members whose status (alive, leaving, left, failed) matches this regexp.
    #[arg(long, value_name = "REGEXP")]
    pub status: Option<String>,
}

/// `ip:port`, with brackets for IPv6 as Go prints a TCP address.
fn address(m: &AgentMember) -> String {
    match m.addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", m.port),
        _ => format!("{}:{}", m.addr, m.port),
    }
}

pub fn run(args: &MembersArgs) -> i32 {
    let filter = match Pattern::parse(args.status.as_deref().unwrap_or("")) {
        Ok(pattern) => pattern,
        Err(why) => return fail(format!("Failed to compile status regexp: {why}")),
    };
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let reply = client
        .get("/v1/agent/members", &[])
        .and_then(|r| r.success());
    let mut members: Vec<AgentMember> = match reply.and_then(|r| r.json()) {
        Ok(members) => members,
        Err(e) => return fail(format!("Error retrieving members: {e}")),
    };
    members.retain(|m| filter.is_match(member_status_name(m.status)));
    // Consul: no member matched the filter.
    if members.is_empty() {
        return 2;
    }
    sort_members(&mut members);
    let rows = if args.detailed.unwrap_or(false) {
        detailed_rows(&members)
    } else {
        standard_rows(&members)
    };
    println!("{}", columnize(&rows));
    0
}

/// Servers first, then by name (Consul's order for the default partition).
pub fn sort_members(members: &mut [AgentMember]) {
    members.sort_by(|a, b| {
        let server = |m: &AgentMember| m.tag("role") != "consul";
        (server(a), &a.name).cmp(&(server(b), &b.name))
    });
}

pub fn standard_rows(members: &[AgentMember]) -> Vec<Vec<String>> {
    let mut rows = vec![row![
        "Node",
        "Address",
        "Status",
        "Type",
        "Build",
        "Protocol",
        "DC",
        "Partition",
        "Segment"
    ]];
    for m in members {
        let status = member_status_name(m.status);
        let (kind, segment) = match m.tag("role") {
            "consul" => ("server", "<all>"),
            "node" => ("client", "<default>"),
            _ => {
                rows.push(row![m.name, address(m), status, "unknown"]);
                continue;
            }
        };
        let build = match m.tag("build") {
            "" => "< 0.3",
            build => build.split(':').next().unwrap_or(build),
        };
        let partition = match m.tag("ap") {
            "" => "default",
            ap => ap,
        };
        rows.push(row![
            m.name,
            address(m),
            status,
            kind,
            build,
            m.tag("vsn"),
            m.tag("dc"),
            partition,
            segment
        ]);
    }
    rows
}

pub fn detailed_rows(members: &[AgentMember]) -> Vec<Vec<String>> {
    let mut rows = vec![row!["Node", "Address", "Status", "Tags"]];
    for m in members {
        let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(row![
            m.name,
            address(m),
            member_status_name(m.status),
            tags.join(",")
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::ports::SERF_LAN_PORT_DEFAULT;

    fn member(name: &str, addr: &str, role: &str, status: u8) -> AgentMember {
        let tags = [
            ("role", role),
            ("dc", "dc1"),
            ("build", "0.1.0"),
            ("vsn", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        AgentMember {
            name: name.into(),
            addr: addr.into(),
            port: SERF_LAN_PORT_DEFAULT,
            tags,
            status,
            ..AgentMember::default()
        }
    }

    #[test]
    fn the_guides_cluster_as_a_table() {
        let mut members = vec![
            member("node2", "192.168.11.145", "node", 1),
            member("node1", "192.168.11.144", "node", 4),
            member("node0", "192.168.11.143", "consul", 1),
        ];
        sort_members(&mut members);
        let expected = "\
Node   Address              Status  Type    Build  Protocol  DC   Partition  Segment
node0  192.168.11.143:8301  alive   server  0.1.0  2         dc1  default    <all>
node1  192.168.11.144:8301  failed  client  0.1.0  2         dc1  default    <default>
node2  192.168.11.145:8301  alive   client  0.1.0  2         dc1  default    <default>";
        assert_eq!(columnize(&standard_rows(&members)), expected);
    }

    #[test]
    fn detailed_shows_sorted_tags() {
        let members = vec![member("s1", "10.0.0.1", "consul", 3)];
        let expected = "\
Node  Address        Status  Tags
s1    10.0.0.1:8301  left    build=0.1.0,dc=dc1,role=consul,vsn=2";
        assert_eq!(columnize(&detailed_rows(&members)), expected);
    }

    #[test]
    fn api_json_is_read() {
        let json = r#"[{"Name":"n","Addr":"::1","Port":8301,"Tags":{"role":"node","build":"0.1.0:abc"},"Status":2,"ProtocolMin":1}]"#;
        let members: Vec<AgentMember> = serde_json::from_str(json).unwrap();
        let rows = standard_rows(&members);
        assert_eq!(rows[1][1], "[::1]:8301");
        assert_eq!(rows[1][2], "leaving");
        assert_eq!(rows[1][4], "0.1.0");
    }
}
