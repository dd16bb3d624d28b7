//! `concord info`: sections of `key = value` lines about the local agent, like `consul info`.
//! When the agent reports Consul's `Stats` in `/v1/agent/self` they are printed as given;
//! otherwise the sections are assembled from the other endpoints.

use super::{fail, HttpArgs};
use crate::http_client::Client;
use clap::Args;
use concord_node::api_types::{member_status_name, AgentMember};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Args, Clone, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

pub fn run(args: &InfoArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let reply = client.get("/v1/agent/self", &[]).and_then(|r| r.success());
    let agent_self: Value = match reply.and_then(|r| r.json()) {
        Ok(value) => value,
        Err(e) => return fail(format!("Error querying agent: {e}")),
    };
    let sections = match stats_of(&agent_self) {
        Some(stats) => stats,
        None => assemble(&agent_self, &Extras::fetch(&client)),
    };
    print!("{}", render(&sections));
    0
}

/// What the other endpoints add; each is optional (no leader, a client agent, ...).
#[derive(Debug, Default)]
pub struct Extras {
    pub leader: Option<String>,
    pub peers: Option<Vec<String>>,
    pub members: Option<Vec<AgentMember>>,
}

impl Extras {
    fn fetch(client: &Client) -> Extras {
        let get = |path: &str| client.get(path, &[]).and_then(|r| r.success()).ok();
        Extras {
            leader: get("/v1/status/leader").and_then(|r| r.json().ok()),
            peers: get("/v1/status/peers").and_then(|r| r.json().ok()),
            members: get("/v1/agent/members").and_then(|r| r.json().ok()),
        }
    }
}

/// Consul's `Stats`: `{"section": {"key": "value"}}`.
fn stats_of(agent_self: &Value) -> Option<Sections> {
    let stats = agent_self.get("Stats")?.as_object()?;
    let mut sections = Sections::new();
    for (name, entries) in stats {
        let entries = entries.as_object()?;
        let lines = entries.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
        sections.insert(name.clone(), lines);
    }
    Some(sections)
}

pub fn assemble(agent_self: &Value, extras: &Extras) -> Sections {
    let config = &agent_self["Config"];
    let member = &agent_self["Member"];
    let server = config["Server"].as_bool().unwrap_or(false);
    let mut sections = Sections::new();
    let mut put = |section: &str, key: &str, value: String| {
        sections
            .entry(section.to_string())
            .or_default()
            .insert(key.to_string(), value);
    };
    put("agent", "node_name", plain(&config["NodeName"]));
    put("agent", "node_id", plain(&config["NodeID"]));
    put("agent", "datacenter", plain(&config["Datacenter"]));
    put("build", "version", plain(&config["Version"]));
    put("build", "revision", plain(&config["Revision"]));
    put("consul", "server", server.to_string());
    if server {
        let own_rpc = format!(
            "{}:{}",
            plain(&member["Addr"]),
            plain(&member["Tags"]["port"])
        );
        let leader = extras.leader.clone().unwrap_or_default();
        put(
            "consul",
            "leader",
            (!leader.is_empty() && leader == own_rpc).to_string(),
        );
        put("consul", "leader_addr", leader);
        if let Some(peers) = &extras.peers {
            put(
                "raft",
                "num_peers",
                peers.len().saturating_sub(1).to_string(),
            );
            put("raft", "peers", peers.join(","));
        }
    }
    if let Some(members) = &extras.members {
        for (status, count) in member_counts(members) {
            put("serf_lan", &format!("members_{status}"), count.to_string());
        }
        put("serf_lan", "members", members.len().to_string());
        let servers = members.iter().filter(|m| m.tag("role") == "consul").count();
        put("consul", "known_servers", servers.to_string());
    }
    put("runtime", "os", std::env::consts::OS.to_string());
    put("runtime", "arch", std::env::consts::ARCH.to_string());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    put("runtime", "cpu_count", cpus.to_string());
    sections
}

fn member_counts(members: &[AgentMember]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for m in members {
        *counts.entry(member_status_name(m.status)).or_insert(0) += 1;
    }
    counts
}

/// A JSON scalar as text (strings without quotes).
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `section:` then a tab-indented `key = value` line per entry, sections and keys sorted.
pub fn render(sections: &Sections) -> String {
    let mut out = String::new();
    for (name, entries) in sections {
        out.push_str(&format!("{name}:\n"));
        for (key, value) in entries {
            out.push_str(&format!("\t{key} = {value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sections_from_self_and_status() {
        let agent_self = json!({
            "Config": {"NodeName": "n1", "NodeID": "id", "Datacenter": "dc1", "Server": true, "Version": "0.1.0", "Revision": ""},
            "Member": {"Name": "n1", "Addr": "10.0.0.1", "Port": 8301, "Tags": {"port": "8300", "role": "consul"}, "Status": 1}
        });
        let extras = Extras {
            leader: Some("10.0.0.1:8300".into()),
            peers: Some(vec!["10.0.0.1:8300".into(), "10.0.0.2:8300".into()]),
            members: None,
        };
        let text = render(&assemble(&agent_self, &extras));
        assert!(
            text.starts_with("agent:\n\tdatacenter = dc1\n\tnode_id = id\n\tnode_name = n1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "consul:\n\tleader = true\n\tleader_addr = 10.0.0.1:8300\n\tserver = true\n"
            ),
            "{text}"
        );
        assert!(text.contains("raft:\n\tnum_peers = 1\n"), "{text}");
    }

    #[test]
    fn consul_stats_are_printed_as_given() {
        let agent_self = json!({"Stats": {"raft": {"state": "Leader", "term": "2"}}});
        let text = render(&stats_of(&agent_self).unwrap());
        assert_eq!(text, "raft:\n\tstate = Leader\n\tterm = 2\n");
    }
}
