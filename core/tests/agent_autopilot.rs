//! Autopilot in a network of agents (fast timings: 2 s of stabilization): a killed voter is
//! removed once membership has declared it failed for `DEAD_SERVER_GRACE_MS` while writes go
//! on; a new server joins as a non-voter and is promoted only after it has been healthy for the
//! stabilization time; a returning server is re-added and promoted; a restart shorter than the
//! grace costs no vote. Asserts on the Raft configuration only (not on log lines), so it
//! does not depend on how membership words its logs.

use concord_core::agent::autopilot::DEAD_SERVER_GRACE_MS;
use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;

mod support;
use support::agent_net::AgentNet;

/// Time enough for the slowest answer the tests wait for.
const REPLY_WAIT_MS: u64 = 10_000;

fn ask(net: &mut AgentNet, name: &str, request: Request) -> ApiResult {
    let id = net.request(name, request);
    let mut logs = String::new();
    net.await_reply(name, id, REPLY_WAIT_MS, &mut logs)
        .unwrap_or_else(|| panic!("{name} did not answer; logs:\n{logs}"))
}

fn run(net: &mut AgentNet, ms: u64) {
    let mut logs = String::new();
    net.run(ms, &mut logs);
}

/// (voters, non-voters) as `name` sees the configuration, names sorted.
fn members(net: &AgentNet, name: &str) -> (Vec<String>, Vec<String>) {
    let config = net.agent(name).raft().expect("a server").config();
    let names =
        |set: &std::collections::BTreeSet<_>| set.iter().map(|id| format!("{id}")).collect();
    (names(&config.voters), names(&config.learners))
}

fn three_servers() -> AgentNet {
    let mut net = AgentNet::new();
    for name in ["s1", "s2", "s3"] {
        net.add(name, Role::Server, 3);
    }
    for name in ["s2", "s3"] {
        let joined = ask(
            &mut net,
            name,
            Request::Join {
                addr: "s1:8301".into(),
            },
        );
        assert!(joined.is_ok(), "{joined:?}");
    }
    run(&mut net, 3_000);
    assert_eq!(members(&net, "s1").0, ["s1", "s2", "s3"]);
    net
}

fn leader(net: &AgentNet) -> String {
    let name = net.agent("s1").raft().unwrap().leader().expect("a leader");
    format!("{name}")
}

fn put(net: &mut AgentNet, name: &str, key: &str) -> bool {
    let command = KvCommand::Set {
        key: key.into(),
        value: b"v".to_vec(),
        flags: 0,
    };
    matches!(
        ask(net, name, Request::KvWrite { command }),
        Ok(Response::KvWritten { applied: true, .. })
    )
}

#[test]
fn a_dead_voter_is_removed_after_the_grace_and_a_new_server_promoted_after_stabilization() {
    let mut net = three_servers();
    let leader = leader(&net);
    let victim = ["s1", "s2", "s3"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    net.hosts.get_mut(victim).unwrap().agent = None;
    // Failure detection takes seconds; the grace 10 s more. Before both, it keeps its vote.
    run(&mut net, DEAD_SERVER_GRACE_MS / 2);
    assert!(members(&net, &leader).0.contains(&victim.to_string()));
    run(&mut net, DEAD_SERVER_GRACE_MS);
    let (voters, learners) = members(&net, &leader);
    assert!(!voters.contains(&victim.to_string()), "{voters:?}");
    assert!(learners.is_empty(), "{learners:?}");
    assert!(put(&mut net, &leader, "after-removal"), "writes go on");

    net.add("s4", Role::Server, 0);
    let joined = ask(
        &mut net,
        "s4",
        Request::Join {
            addr: format!("{leader}:8301"),
        },
    );
    assert!(joined.is_ok(), "{joined:?}");
    run(&mut net, 1_000);
    assert_eq!(members(&net, &leader).1, ["s4"], "joins as a non-voter");
    run(&mut net, 500);
    assert_eq!(members(&net, &leader).1, ["s4"], "not stable for 2 s yet");
    run(&mut net, 2_500);
    let (voters, learners) = members(&net, &leader);
    assert!(
        voters.contains(&"s4".to_string()) && learners.is_empty(),
        "{voters:?}"
    );

    net.start(victim);
    run(&mut net, 8_000);
    let (voters, learners) = members(&net, &leader);
    assert_eq!(
        voters.len(),
        4,
        "{voters:?} {learners:?}: back, re-added, promoted"
    );
}

#[test]
fn a_restart_within_the_grace_costs_no_vote() {
    let mut net = three_servers();
    let leader = leader(&net);
    let victim = ["s1", "s2", "s3"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    net.hosts.get_mut(victim).unwrap().agent = None;
    run(&mut net, 5_000);
    net.start(victim);
    for _ in 0..20 {
        run(&mut net, 1_000);
        assert_eq!(members(&net, &leader).0, ["s1", "s2", "s3"]);
    }
}

#[test]
fn autopilot_requests_answer_from_the_leader() {
    let mut net = three_servers();
    let Ok(Response::AutopilotConfig { config }) = ask(&mut net, "s2", Request::AutopilotGetConfig)
    else {
        panic!("not a config");
    };
    assert!(config.modify_index > 0, "stored at leadership: {config:?}");
    assert_eq!(config.options.server_stabilization_time_ms, 2_000);
    let options = AutopilotOptions {
        min_quorum: 3,
        ..config.options
    };
    let stale = Request::AutopilotSetConfig {
        options,
        cas: Some(config.modify_index + 1),
    };
    assert!(matches!(
        ask(&mut net, "s3", stale),
        Ok(Response::KvWritten { applied: false, .. })
    ));
    let fresh = Request::AutopilotSetConfig {
        options,
        cas: Some(config.modify_index),
    };
    assert!(matches!(
        ask(&mut net, "s3", fresh),
        Ok(Response::KvWritten { applied: true, .. })
    ));
    let Ok(Response::AutopilotHealth { health }) = ask(&mut net, "s3", Request::AutopilotHealth)
    else {
        panic!("not health");
    };
    assert!(health.healthy, "{health:?}");
    assert_eq!((health.failure_tolerance, health.servers.len()), (1, 3));
    assert!(health
        .servers
        .iter()
        .all(|s| s.voter && s.serf_status == "alive"));

    // min_quorum 3 now: a dead voter of three is kept.
    let leader = leader(&net);
    let victim = ["s1", "s2", "s3"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    net.hosts.get_mut(victim).unwrap().agent = None;
    run(&mut net, 3 * DEAD_SERVER_GRACE_MS);
    assert_eq!(members(&net, &leader).0.len(), 3);
}
