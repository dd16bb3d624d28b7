#![allow(dead_code)]
//! A small cluster for the coordination tests (sessions, locks, transactions, restores): three
//! servers and a client with anti-entropy on, so the leader registers every member's node
//! with a passing serfHealth (what a session's default check needs).

use crate::support::agent_net::AgentNet;
use concord_core::agent::local::LocalOptions;
use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_core::session::SessionSpec;
use concord_core::state::StateBug;

pub const SERVERS: [&str; 3] = ["s1", "s2", "s3"];
const FORM_MS: u64 = 10_000;
const ANSWER_MS_MAX: u64 = 5_000;

fn enable_sync(net: &mut AgentNet, name: &str) {
    let agent = net.hosts.get_mut(name).unwrap().agent.as_mut().unwrap();
    agent.set_local_options(LocalOptions {
        sync_enabled: true,
        ..LocalOptions::default()
    });
    agent.enable_apply_journal();
}

/// Three servers and the client `c1`, formed, every node registered with serfHealth.
pub fn cluster(seed: u64) -> AgentNet {
    cluster_with(seed, None)
}

/// As `cluster`, with `planted` planted in every server's state machine.
pub fn cluster_with(seed: u64, planted: Option<StateBug>) -> AgentNet {
    cluster_configured(seed, |config| config.planted_state_bug = planted)
}

/// As `cluster`, with every server's configuration changed by `configure`.
pub fn cluster_configured(seed: u64, configure: impl Fn(&mut AgentConfig)) -> AgentNet {
    let mut net = AgentNet::new();
    net.seed = seed;
    for name in SERVERS {
        net.add(name, Role::Server, 3);
        configure(&mut net.hosts.get_mut(name).unwrap().config);
        net.start(name);
        enable_sync(&mut net, name);
    }
    net.add("c1", Role::Client, 0);
    enable_sync(&mut net, "c1");
    for name in ["s2", "s3", "c1"] {
        net.request(name, Request::Join { addr: "s1".into() });
    }
    let mut out = String::new();
    net.run(FORM_MS, &mut out);
    assert!(
        leader(&net).is_some(),
        "seed {seed}: no leader formed:\n{out}"
    );
    net
}

pub fn leader(net: &AgentNet) -> Option<String> {
    let up = SERVERS.iter().filter(|n| net.hosts[**n].agent.is_some());
    up.map(|n| n.to_string()).find(|n| net.agent(n).is_leader())
}

pub fn the_leader(net: &AgentNet) -> String {
    leader(net).expect("a leader")
}

pub fn run(net: &mut AgentNet, ms: u64) {
    net.run(ms, &mut String::new());
}

pub fn ask(net: &mut AgentNet, name: &str, request: Request) -> ApiResult {
    let id = net.request(name, request);
    let mut logs = String::new();
    net.await_reply(name, id, ANSWER_MS_MAX, &mut logs)
        .unwrap_or_else(|| panic!("{name} did not answer; logs:\n{logs}"))
}

/// A session on `node` (None: the asked agent's) with `ttl_ms` and `lock_delay_ms`.
pub fn spec(node: Option<&str>, ttl_ms: Option<u64>, lock_delay_ms: u64) -> SessionSpec {
    SessionSpec {
        node: node.map(str::to_string),
        ttl: ttl_ms.map_or(String::new(), |ms| format!("{}s", ms / 1000)),
        ttl_ms,
        lock_delay_ns: lock_delay_ms * 1_000_000,
        ..SessionSpec::default()
    }
}

pub fn create_session(net: &mut AgentNet, name: &str, spec: SessionSpec) -> String {
    match ask(net, name, Request::SessionCreate { spec }) {
        Ok(Response::SessionCreated { id }) => id,
        other => panic!("session create: {other:?}"),
    }
}

/// The session as server `name` has it, if it does.
pub fn session(net: &mut AgentNet, name: &str, id: &str) -> Option<Session> {
    let read = SessionRead::Info(id.to_string());
    let request = Request::Session {
        read,
        consistency: Consistency::Stale,
    };
    match ask(net, name, request) {
        Ok(Response::Sessions { sessions, .. }) => sessions.into_iter().next(),
        other => panic!("session info: {other:?}"),
    }
}

pub fn acquire(net: &mut AgentNet, name: &str, key: &str, session: &str) -> ApiResult {
    let command = KvCommand::Lock {
        key: key.into(),
        value: b"held".to_vec(),
        flags: 0,
        session: session.into(),
    };
    ask(net, name, Request::KvWrite { command })
}

pub fn destroy(net: &mut AgentNet, name: &str, id: &str) {
    let request = Request::SessionDestroy { id: id.into() };
    let answer = ask(net, name, request);
    assert!(
        matches!(answer, Ok(Response::KvWritten { applied: true, .. })),
        "{answer:?}"
    );
}

/// Runs until the net's clock reads `at_ms` (at once if it already does).
pub fn run_until(net: &mut AgentNet, at_ms: u64) {
    let ms = at_ms.saturating_sub(net.now_ms);
    run(net, ms);
}

/// Moves leadership from the current leader to another server; returns the new leader.
pub fn transfer_leadership(net: &mut AgentNet) -> String {
    let old = the_leader(net);
    let target = SERVERS.iter().find(|n| **n != old).unwrap().to_string();
    let request = Request::RaftTransferLeader {
        target: Some(target.clone()),
    };
    assert_eq!(ask(net, &old, request), Ok(Response::Done));
    run(net, 1_000);
    assert_eq!(the_leader(net), target);
    target
}
