//! `Stats` of `/v1/agent/self` (what `consul info` prints), in Consul's sections and key
//! names with string values, for the figures Concord has:
//! - `agent`: `check_monitors` (script checks: Consul's "monitors"), `check_ttls`, `checks`,
//!   `services` of this agent.
//! - `build`: `version`, `revision` and `prerelease` (Concord embeds neither: empty).
//! - `consul`: `server`; a server adds `leader`, `leader_addr`, `bootstrap` (Concord's
//!   `-bootstrap` is `bootstrap_expect = 1`) and `known_datacenters` (always 1: one
//!   datacenter); a client adds `known_servers`. `acl` is `disabled` (no ACLs).
//! - `raft` (servers): hashicorp/raft's keys from the driver's last round (`fsm_pending` is
//!   what is committed but not yet applied), `latest_configuration` when the leader answers.
//! - `serf_lan`: `members`, `failed`, `left` counted from the member table, Lifeguard's
//!   `health_score`, `encrypted` (false: no gossip encryption). Serf's Lamport times
//!   (`member_time`, `event_time`, `query_time`), its queues and `coordinate_resets` are not
//!   reported: Concord's gossip has no user events, queries or coordinates.
//! - `runtime`: `os`, `arch`, `cpu_count`; Go's `goroutines` is tokio's live tasks and
//!   `max_procs` its worker threads (the process's runtime, not the driver's thread); Go's
//!   `version` has no Rust counterpart at run time and is left out.

use crate::api_types::Stats;
use crate::handle::NodeInfo;
use crate::metrics::RaftStatus;
use concord_core::agent::{MemberInfo, RaftServer};
use concord_core::catalog::HealthCheck;
use concord_core::membership::{MemberStatus, Role};
use std::collections::BTreeMap;

/// Everything the sections are made of, gathered by the `/v1/agent/self` handler.
pub struct StatsInput<'a> {
    pub info: &'a NodeInfo,
    pub raft: RaftStatus,
    pub members: &'a [MemberInfo],
    /// Lifeguard's local health score, when the node answered.
    pub health_score: Option<u32>,
    pub services: usize,
    pub checks: &'a [HealthCheck],
    /// The Raft configuration, when asked (servers) and answered.
    pub raft_servers: Option<Vec<RaftServer>>,
    pub runtime: RuntimeFigures,
}

/// The process's runtime, as Consul's `runtime` section shows Go's.
#[derive(Clone, Debug, Default)]
pub struct RuntimeFigures {
    pub tasks: usize,
    pub workers: usize,
    pub cpu_count: usize,
}

impl RuntimeFigures {
    /// The current tokio runtime's figures.
    pub fn current() -> RuntimeFigures {
        let metrics = tokio::runtime::Handle::current().metrics();
        RuntimeFigures {
            tasks: metrics.num_alive_tasks(),
            workers: metrics.num_workers(),
            cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

pub fn stats(input: &StatsInput<'_>) -> Stats {
    let server = input.info.role == Role::Server;
    let mut stats = Stats::new();
    stats.insert("agent".into(), agent_section(input));
    stats.insert("build".into(), build_section(input.info));
    stats.insert("consul".into(), consul_section(input, server));
    if server {
        stats.insert("raft".into(), raft_section(input));
    }
    stats.insert(
        "serf_lan".into(),
        serf_section(input.members, input.health_score),
    );
    stats.insert("runtime".into(), runtime_section(&input.runtime));
    stats
}

type Section = BTreeMap<String, String>;

fn section<const N: usize>(pairs: [(&str, String); N]) -> Section {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn agent_section(input: &StatsInput<'_>) -> Section {
    let of_type = |t: &str| input.checks.iter().filter(|c| c.check_type == t).count();
    section([
        ("check_monitors", of_type("script").to_string()),
        ("check_ttls", of_type("ttl").to_string()),
        ("checks", input.checks.len().to_string()),
        ("services", input.services.to_string()),
    ])
}

fn build_section(info: &NodeInfo) -> Section {
    section([
        ("version", info.version.clone()),
        ("revision", String::new()),
        ("prerelease", String::new()),
    ])
}

fn consul_section(input: &StatsInput<'_>, server: bool) -> Section {
    let mut consul = section([("server", server.to_string()), ("acl", "disabled".into())]);
    if !server {
        let servers = input
            .members
            .iter()
            .filter(|m| m.member.role == Role::Server && m.status == MemberStatus::Alive);
        consul.insert("known_servers".into(), servers.count().to_string());
        return consul;
    }
    let own = input
        .members
        .iter()
        .find(|m| m.member.name == input.info.node_name);
    let bootstrap = own.is_some_and(|m| m.member.bootstrap_expect == 1);
    let leader = input.raft.state_name() == "Leader";
    consul.extend(section([
        ("leader", leader.to_string()),
        (
            "leader_addr",
            input.raft.leader_addr.clone().unwrap_or_default(),
        ),
        ("bootstrap", bootstrap.to_string()),
        ("known_datacenters", "1".into()),
    ]));
    consul
}

fn raft_section(input: &StatsInput<'_>) -> Section {
    let r = &input.raft;
    let last_contact = match r.last_contact_ms {
        None => "never".to_string(),
        Some(0) => "0".to_string(),
        Some(ms) => format!("{ms}ms"),
    };
    let mut raft = section([
        ("state", r.state_name().to_string()),
        ("term", r.term.to_string()),
        ("commit_index", r.commit_index.to_string()),
        ("applied_index", r.applied_index.to_string()),
        (
            "fsm_pending",
            r.commit_index.saturating_sub(r.applied_index).to_string(),
        ),
        ("last_log_index", r.last_log_index.to_string()),
        ("last_log_term", r.last_log_term.to_string()),
        ("last_snapshot_index", r.last_snapshot_index.to_string()),
        ("last_snapshot_term", r.last_snapshot_term.to_string()),
        ("num_peers", r.num_peers.to_string()),
        ("last_contact", last_contact),
        (
            "protocol_version",
            crate::api_types::RAFT_PROTOCOL_VERSION.to_string(),
        ),
    ]);
    if let Some(servers) = &input.raft_servers {
        raft.insert("latest_configuration".into(), configuration(servers));
    }
    raft
}

/// hashicorp/raft's `%+v` of its configuration: `[{Suffrage:Voter ID:n1 Address:a:8300} ...]`.
fn configuration(servers: &[RaftServer]) -> String {
    let one = |s: &RaftServer| {
        let suffrage = if s.voter { "Voter" } else { "Nonvoter" };
        format!("{{Suffrage:{suffrage} ID:{} Address:{}}}", s.id, s.address)
    };
    let all: Vec<String> = servers.iter().map(one).collect();
    format!("[{}]", all.join(" "))
}

fn serf_section(members: &[MemberInfo], health_score: Option<u32>) -> Section {
    let count = |status: MemberStatus| members.iter().filter(|m| m.status == status).count();
    let mut serf = section([
        ("members", members.len().to_string()),
        ("failed", count(MemberStatus::Failed).to_string()),
        ("left", count(MemberStatus::Left).to_string()),
        ("encrypted", "false".into()),
    ]);
    if let Some(score) = health_score {
        serf.insert("health_score".into(), score.to_string());
    }
    serf
}

fn runtime_section(runtime: &RuntimeFigures) -> Section {
    section([
        ("os", std::env::consts::OS.to_string()),
        ("arch", std::env::consts::ARCH.to_string()),
        ("cpu_count", runtime.cpu_count.to_string()),
        ("goroutines", runtime.tasks.to_string()),
        ("max_procs", runtime.workers.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::membership::Member;

    fn info(role: Role) -> NodeInfo {
        NodeInfo {
            node_name: "n1".into(),
            node_id: "id".into(),
            datacenter: "dc1".into(),
            role,
            rpc_addr: "10.0.0.1:8300".into(),
            gossip_addr: "10.0.0.1:8301".into(),
            version: "0.1.0".into(),
        }
    }

    fn member(name: &str, role: Role, status: MemberStatus) -> MemberInfo {
        let member = Member {
            name: name.into(),
            gossip_addr: "10.0.0.1:8301".into(),
            rpc_addr: "10.0.0.1:8300".into(),
            role,
            datacenter: "dc1".into(),
            bootstrap_expect: 1,
            in_raft: true,
            build: "0.1.0".into(),
            incarnation: 0,
            announced: status,
        };
        MemberInfo { member, status }
    }

    fn input<'a>(info: &'a NodeInfo, members: &'a [MemberInfo]) -> StatsInput<'a> {
        StatsInput {
            info,
            raft: RaftStatus::default(),
            members,
            health_score: Some(0),
            services: 2,
            checks: &[],
            raft_servers: None,
            runtime: RuntimeFigures {
                tasks: 40,
                workers: 2,
                cpu_count: 2,
            },
        }
    }

    #[test]
    fn a_leading_server_reports_consuls_sections_as_strings() {
        let info = info(Role::Server);
        let members = [
            member("n1", Role::Server, MemberStatus::Alive),
            member("n2", Role::Client, MemberStatus::Failed),
        ];
        let mut input = input(&info, &members);
        input.raft.role = Some(concord_core::raft::Role::Leader);
        input.raft.term = 3;
        input.raft.commit_index = 10;
        input.raft.applied_index = 9;
        input.raft.leader_addr = Some("10.0.0.1:8300".into());
        input.raft.last_contact_ms = Some(0);
        input.raft_servers = Some(vec![RaftServer {
            id: "n1".into(),
            node: "n1".into(),
            address: "10.0.0.1:8300".into(),
            leader: true,
            voter: true,
        }]);
        let s = stats(&input);
        let names: Vec<&String> = s.keys().collect();
        assert_eq!(
            names,
            ["agent", "build", "consul", "raft", "runtime", "serf_lan"]
        );
        assert_eq!(s["consul"]["leader"], "true");
        assert_eq!(s["consul"]["bootstrap"], "true");
        assert_eq!(s["raft"]["state"], "Leader");
        assert_eq!(s["raft"]["fsm_pending"], "1");
        assert_eq!(s["raft"]["last_contact"], "0");
        assert_eq!(
            s["raft"]["latest_configuration"],
            "[{Suffrage:Voter ID:n1 Address:10.0.0.1:8300}]"
        );
        assert_eq!(
            (
                s["serf_lan"]["members"].as_str(),
                s["serf_lan"]["failed"].as_str()
            ),
            ("2", "1")
        );
        assert_eq!(s["agent"]["services"], "2");
        assert_eq!(s["serf_lan"]["health_score"], "0");
        assert_eq!(s["runtime"]["goroutines"], "40");
    }

    #[test]
    fn a_client_has_no_raft_section_and_counts_known_servers() {
        let info = info(Role::Client);
        let members = [
            member("s1", Role::Server, MemberStatus::Alive),
            member("s2", Role::Server, MemberStatus::Failed),
            member("n1", Role::Client, MemberStatus::Alive),
        ];
        let s = stats(&input(&info, &members));
        assert!(!s.contains_key("raft"));
        assert_eq!(s["consul"]["server"], "false");
        assert_eq!(s["consul"]["known_servers"], "1");
    }
}
