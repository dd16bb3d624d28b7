//! Datadriven agent tests: bootstrap, membership, KV and leave across agents,
//! `core/testdata/agent/*.txt`. `REWRITE=1` regenerates.

mod support;

use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use std::fmt::Write as _;
use support::agent_net::AgentNet;
use support::datadriven::{run_file, Case};

const REPLY_WAIT_MS: u64 = 8_000;

fn consistency(case: &Case) -> Consistency {
    match case.arg("mode") {
        Some("consistent") => Consistency::Consistent,
        Some("stale") => Consistency::Stale,
        _ => Consistency::Default,
    }
}

fn show(result: Option<ApiResult>) -> String {
    match result {
        None => "no answer".to_string(),
        Some(Err(e)) => format!("error: {e}"),
        Some(Ok(Response::Kv { entries, meta })) if entries.is_empty() => {
            format!("not found (index={})", meta.index)
        }
        Some(Ok(Response::Kv { entries, .. })) => entries
            .iter()
            .map(|e| {
                format!(
                    "{}={} flags={} create={} modify={}",
                    e.key,
                    String::from_utf8_lossy(&e.value),
                    e.flags,
                    e.create_index,
                    e.modify_index
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Ok(Response::Keys { keys, .. })) => format!("keys: {}", keys.join(" ")),
        Some(Ok(Response::KvWritten { applied, .. })) => format!("written: {applied}"),
        Some(Ok(Response::Leader { addr })) => format!("leader: {}", addr.unwrap_or_default()),
        Some(Ok(Response::Members { members })) => members
            .iter()
            .map(|m| {
                format!(
                    "{} {} {} {} {}",
                    m.member.name,
                    m.member.gossip_addr,
                    m.status.name(),
                    m.member.role.name(),
                    m.member.datacenter
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Ok(Response::RaftConfiguration { servers, .. })) => servers
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} voter={}",
                    s.node,
                    s.address,
                    if s.leader { "leader" } else { "follower" },
                    s.voter
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Ok(Response::AutopilotHealth { health })) => {
            let mut lines = vec![format!(
                "healthy={} failure_tolerance={} leader={}",
                health.healthy, health.failure_tolerance, health.leader
            )];
            lines.extend(health.servers.iter().map(|s| {
                format!(
                    "{} {} voter={} healthy={} last_index={}",
                    s.id, s.serf_status, s.voter, s.healthy, s.last_index
                )
            }));
            lines.join("\n")
        }
        Some(Ok(other)) => format!("{other:?}"),
    }
}

/// Each distinct log line once, with how often it came, in order of first appearance.
fn summarize(logs: &str) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in logs.lines() {
        let text = line
            .split_once("ms ")
            .map_or(line, |(_, rest)| rest)
            .to_string();
        match seen.iter_mut().find(|(t, _)| *t == text) {
            Some((_, count)) => *count += 1,
            None => seen.push((text, 1)),
        }
    }
    seen.iter().map(|(t, n)| format!("{t} (x{n})\n")).collect()
}

fn ask(net: &mut AgentNet, name: &str, request: Request, out: &mut String) {
    let id = net.request(name, request);
    let mut logs = String::new(); // `run` shows logs; requests show only their answer
    let answer = net.await_reply(name, id, REPLY_WAIT_MS, &mut logs);
    writeln!(out, "{}", show(answer)).unwrap();
}

fn run(net: &mut AgentNet, case: &Case) -> String {
    let mut out = String::new();
    let pos = case.positional();
    let arg_u64 = |k: &str| case.arg(k).map(|v| v.parse::<u64>().unwrap());
    match case.command.as_str() {
        "agent" => {
            let role = if pos[1] == "server" {
                Role::Server
            } else {
                Role::Client
            };
            net.add(pos[0], role, arg_u64("expect").unwrap_or(0) as u32);
        }
        "run" => {
            let mut logs = String::new();
            net.run(arg_u64("ms").expect("ms="), &mut logs);
            if case.arg("logs") == Some("summary") {
                out.push_str(&summarize(&logs));
            } else {
                out.push_str(&logs);
            }
        }
        "join" => ask(
            net,
            pos[0],
            Request::Join {
                addr: format!("{}:8301", pos[1]),
            },
            &mut out,
        ),
        "kv-put" => {
            let (key, value) = (
                pos[1].to_string(),
                pos.get(2).unwrap_or(&"").as_bytes().to_vec(),
            );
            let value = match arg_u64("bytes") {
                Some(n) => vec![b'x'; n as usize],
                None => value,
            };
            let flags = arg_u64("flags").unwrap_or(0);
            let command = match arg_u64("cas") {
                Some(modify_index) => KvCommand::Cas {
                    key,
                    value,
                    flags,
                    modify_index,
                },
                None => KvCommand::Set { key, value, flags },
            };
            ask(net, pos[0], Request::KvWrite { command }, &mut out);
        }
        "kv-fill" => {
            let count = arg_u64("count").expect("count=");
            let mut failures = 0;
            for i in 0..count {
                let command = KvCommand::Set {
                    key: format!("{}{i}", pos[1]),
                    value: i.to_string().into_bytes(),
                    flags: 0,
                };
                let id = net.request(pos[0], Request::KvWrite { command });
                let mut logs = String::new();
                if !matches!(
                    net.await_reply(pos[0], id, REPLY_WAIT_MS, &mut logs),
                    Some(Ok(_))
                ) {
                    failures += 1;
                }
            }
            writeln!(out, "wrote {} keys, {failures} failed", count - failures).unwrap();
        }
        "kv-get" => ask(
            net,
            pos[0],
            Request::KvGet {
                key: pos[1].into(),
                consistency: consistency(case),
            },
            &mut out,
        ),
        "kv-delete" => ask(
            net,
            pos[0],
            Request::KvWrite {
                command: KvCommand::Delete { key: pos[1].into() },
            },
            &mut out,
        ),
        "members" => ask(net, pos[0], Request::Members, &mut out),
        "peers" => ask(net, pos[0], Request::RaftConfiguration, &mut out),
        "autopilot-health" => ask(net, pos[0], Request::AutopilotHealth, &mut out),
        "leader" => ask(net, pos[0], Request::StatusLeader, &mut out),
        "leave" => ask(net, pos[0], Request::Leave, &mut out),
        // A leave whose progress the next `run` shows in its logs (`leave` waits for the end).
        "start-leave" => {
            net.request(pos[0], Request::Leave);
        }
        "force-leave" => ask(
            net,
            pos[0],
            Request::ForceLeave {
                node: pos[1].into(),
                prune: case.args.iter().any(|a| a == "prune"),
            },
            &mut out,
        ),
        "partition" => {
            net.blocked.clear();
            let groups: Vec<Vec<String>> =
                case.args.split(|a| a == "|").map(|g| g.to_vec()).collect();
            for (i, a) in groups.iter().enumerate() {
                for (j, b) in groups.iter().enumerate() {
                    if i != j {
                        for x in a {
                            for y in b {
                                net.blocked.insert((x.clone(), y.clone()));
                            }
                        }
                    }
                }
            }
        }
        "heal" => net.blocked.clear(),
        // `hold FROM TO KIND...`: keep those messages back until `release FROM TO KIND...`,
        // which delivers them after everything sent meanwhile (a reordering network).
        "hold" => {
            for kind in &pos[2..] {
                let rule = (pos[0].to_string(), pos[1].to_string(), kind.to_string());
                net.hold_rules.insert(rule);
            }
        }
        "release" => net.release(pos[0], pos[1], &pos[2..]),
        "kill" => net.hosts.get_mut(pos[0]).unwrap().agent = None,
        "restart" => net.start(pos[0]),
        "raft" => {
            for name in &pos {
                let raft = net.agent(name).raft().expect("a server");
                let leader = raft.leader().map_or("none".to_string(), |l| l.to_string());
                writeln!(
                    out,
                    "{name}: {} term={} leader={leader} commit={} snapshot={}",
                    raft.role().name(),
                    raft.term(),
                    raft.commit_index(),
                    raft.log().snapshot_meta().last_index
                )
                .unwrap();
            }
        }
        other => panic!("line {}: unknown command {other}", case.line_number),
    }
    out
}

#[test]
fn agent_testdata() {
    for path in support::datadriven::testdata_files("agent") {
        let mut net = AgentNet::new();
        run_file(&path, |case| run(&mut net, case));
    }
}
