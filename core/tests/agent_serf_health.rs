//! The leader's catalog reconcile through a small cluster (3 servers, 1 client): every member
//! gets `serfHealth`, every server the `consul` service; a member that fails turns critical
//! (and its instances drop out of the passing ones), comes back passing, and is deregistered
//! once it leaves; a new leader keeps it so, and an unchanged cluster writes nothing.

use concord_core::agent::local::{LocalOptions, LocalRequest};
use concord_core::agent::*;
use concord_core::catalog::{CheckStatus, HealthCheck, ServiceRegistration};
use concord_core::membership::Role;

mod support;
use support::agent_net::AgentNet;

const FORM_MS_MAX: u64 = 10_000;
const ANSWER_MS_MAX: u64 = 3_000;
/// Membership counts a silent member failed after 2 s (`AgentConfig::fast`); the leader's
/// next rounds write it within a few gossip intervals more.
const FAIL_MS_MAX: u64 = 4_000;
/// A change of membership reaches the catalog within this.
const RECONCILE_MS_MAX: u64 = 2_000;
const SERVERS: [&str; 3] = ["s1", "s2", "s3"];

/// Anti-entropy, and with it the leader's reconcile, is off in core tests unless turned on.
fn enable_sync(net: &mut AgentNet, name: &str) {
    let agent = net.hosts.get_mut(name).unwrap().agent.as_mut().unwrap();
    agent.set_local_options(LocalOptions {
        sync_enabled: true,
        ..LocalOptions::default()
    });
}

fn cluster() -> AgentNet {
    let mut net = AgentNet::new();
    let mut out = String::new();
    for name in SERVERS {
        net.add(name, Role::Server, 3);
        enable_sync(&mut net, name);
    }
    net.add("c1", Role::Client, 0);
    enable_sync(&mut net, "c1");
    for name in ["s2", "s3", "c1"] {
        net.request(name, Request::Join { addr: "s1".into() });
    }
    net.run(FORM_MS_MAX, &mut out);
    assert!(leader(&net).is_some(), "no leader formed:\n{out}");
    net
}

fn leader(net: &AgentNet) -> Option<String> {
    let up = SERVERS.iter().filter(|n| net.hosts[**n].agent.is_some());
    up.map(|n| n.to_string()).find(|n| net.agent(n).is_leader())
}

fn read(net: &mut AgentNet, read: CatalogRead) -> CatalogAnswer {
    let server = leader(net).expect("a leader");
    let consistency = Consistency::Stale;
    let id = net.request(&server, Request::Catalog { read, consistency });
    match net.await_reply(&server, id, ANSWER_MS_MAX, &mut String::new()) {
        Some(Ok(Response::Catalog { answer, .. })) => answer,
        other => panic!("expected a catalog answer, got {other:?}"),
    }
}

/// The node's serfHealth as the catalog has it, if any.
fn serf_health(net: &mut AgentNet, node: &str) -> Option<HealthCheck> {
    let node = node.to_string();
    let CatalogAnswer::Checks(checks) = read(net, CatalogRead::HealthNode { node }) else {
        panic!("health/node answers checks");
    };
    checks
        .into_iter()
        .find(|c| c.check_id == SERF_HEALTH_CHECK_ID)
}

/// Nodes of the instances of `service`, all or only the passing ones.
fn instances(net: &mut AgentNet, service: &str, passing: bool) -> Vec<String> {
    let name = service.to_string();
    let tags = vec![];
    let health = CatalogRead::HealthService {
        name,
        tags,
        passing,
    };
    let CatalogAnswer::Entries(entries) = read(net, health) else {
        panic!("health/service answers entries");
    };
    entries.into_iter().map(|e| e.node.name).collect()
}

fn status_of(net: &mut AgentNet, node: &str) -> Option<CheckStatus> {
    serf_health(net, node).map(|c| c.status)
}

fn register_web_on_client(net: &mut AgentNet) {
    let service = ServiceRegistration {
        name: "web".into(),
        port: 80,
        ..Default::default()
    };
    let request = LocalRequest::RegisterService {
        service: Box::new(service),
        checks: vec![],
        replace_existing_checks: false,
    };
    let id = net.request("c1", Request::Local(request));
    let reply = net.await_reply("c1", id, ANSWER_MS_MAX, &mut String::new());
    assert!(matches!(reply, Some(Ok(_))), "registered: {reply:?}");
    net.run(RECONCILE_MS_MAX, &mut String::new());
}

/// The last Raft log index on s2: any write, even one the catalog finds identical, is one.
fn log_index(net: &AgentNet) -> u64 {
    net.agent("s2").raft().expect("a server").last_index()
}

#[test]
fn every_member_gets_serf_health_passing_and_every_server_the_consul_service() {
    let mut net = cluster();
    net.run(RECONCILE_MS_MAX, &mut String::new());
    let check = serf_health(&mut net, "c1").expect("the client's serfHealth");
    let wanted = ("Serf Health Status", CheckStatus::Passing);
    assert_eq!((check.name.as_str(), check.status), wanted);
    assert_eq!(check.output, "Agent alive and reachable");
    assert_eq!(
        (check.service_id.as_str(), check.check_type.as_str()),
        ("", "")
    );
    for name in SERVERS {
        assert_eq!(
            status_of(&mut net, name),
            Some(CheckStatus::Passing),
            "{name}"
        );
    }
    let servers: Vec<String> = SERVERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(instances(&mut net, CONSUL_SERVICE, true), servers);
}

#[test]
fn a_failed_member_turns_critical_drops_out_of_passing_and_comes_back() {
    let mut net = cluster();
    register_web_on_client(&mut net);
    assert_eq!(instances(&mut net, "web", true), vec!["c1".to_string()]);
    let before = log_index(&net);
    for to in SERVERS {
        net.blocked.insert(("c1".into(), to.into()));
    }
    net.run(FAIL_MS_MAX, &mut String::new());
    let check = serf_health(&mut net, "c1").expect("a failed member stays");
    assert_eq!(check.status, CheckStatus::Critical);
    assert_eq!(check.output, "Agent not live or unreachable");
    // One write, though many rounds ran while it committed.
    assert_eq!(log_index(&net), before + 1, "written once");
    assert_eq!(instances(&mut net, "web", true), Vec::<String>::new());
    assert_eq!(instances(&mut net, "web", false), vec!["c1".to_string()]);
    net.blocked.clear();
    net.run(RECONCILE_MS_MAX, &mut String::new());
    assert_eq!(status_of(&mut net, "c1"), Some(CheckStatus::Passing));
    assert_eq!(instances(&mut net, "web", true), vec!["c1".to_string()]);
}

#[test]
fn a_graceful_leave_deregisters_the_node_with_everything_on_it() {
    let mut net = cluster();
    register_web_on_client(&mut net);
    net.request("c1", Request::Leave);
    net.run(FAIL_MS_MAX, &mut String::new());
    assert!(net.hosts["c1"].agent.is_none(), "c1 exited after leaving");
    let node = CatalogRead::CatalogNode { name: "c1".into() };
    assert_eq!(read(&mut net, node), CatalogAnswer::Node(None));
    assert_eq!(instances(&mut net, "web", false), Vec::<String>::new());
}

#[test]
fn a_force_left_failed_member_is_deregistered() {
    let mut net = cluster();
    net.hosts.get_mut("c1").unwrap().agent = None;
    net.run(FAIL_MS_MAX, &mut String::new());
    assert_eq!(status_of(&mut net, "c1"), Some(CheckStatus::Critical));
    let server = leader(&net).expect("a leader");
    let node = "c1".to_string();
    let id = net.request(&server, Request::ForceLeave { node, prune: false });
    let reply = net.await_reply(&server, id, ANSWER_MS_MAX, &mut String::new());
    assert!(matches!(reply, Some(Ok(_))), "force-leave: {reply:?}");
    net.run(RECONCILE_MS_MAX, &mut String::new());
    let node = CatalogRead::CatalogNode { name: "c1".into() };
    assert_eq!(read(&mut net, node), CatalogAnswer::Node(None));
}

#[test]
fn an_unchanged_cluster_writes_nothing_and_a_new_leader_keeps_the_catalog() {
    let mut net = cluster();
    net.run(RECONCILE_MS_MAX, &mut String::new());
    let index = log_index(&net);
    // Many rounds (one per gossip interval, 100 ms): each finds the catalog as membership
    // says, so nothing is proposed.
    net.run(10_000, &mut String::new());
    assert_eq!(log_index(&net), index, "no write in a steady state");
    let old = leader(&net).expect("a leader");
    net.hosts.get_mut(&old).unwrap().agent = None;
    net.run(FAIL_MS_MAX, &mut String::new());
    let new = leader(&net).expect("a new leader");
    assert_ne!(new, old);
    assert_eq!(status_of(&mut net, &old), Some(CheckStatus::Critical));
    assert_eq!(status_of(&mut net, "c1"), Some(CheckStatus::Passing));
    net.start(&old);
    enable_sync(&mut net, &old);
    net.run(FAIL_MS_MAX, &mut String::new());
    assert_eq!(status_of(&mut net, &old), Some(CheckStatus::Passing));
    let index = log_index(&net);
    net.run(10_000, &mut String::new());
    assert_eq!(log_index(&net), index, "the new leader writes nothing more");
}

/// Longer than a gossip round (100 ms, so at least one more round runs while the write is
/// uncommitted), shorter than CheckQuorum's window (150 ms, so the leader stays).
const COMMIT_HELD_MS: u64 = 120;

#[test]
fn a_write_still_committing_is_not_proposed_again() {
    let mut net = cluster();
    net.run(RECONCILE_MS_MAX, &mut String::new());
    let leader_name = leader(&net).expect("a leader");
    let last = |net: &AgentNet| net.agent(&leader_name).raft().unwrap().last_index();
    let before = last(&net);
    net.hosts.get_mut("c1").unwrap().agent = None;
    let mut waited_ms = 0;
    while last(&net) == before && waited_ms < FAIL_MS_MAX {
        net.run(support::agent_net::STEP_MS, &mut String::new());
        waited_ms += support::agent_net::STEP_MS;
    }
    assert_eq!(last(&net), before + 1, "the critical serfHealth proposed");
    // Its commit waits: the followers' answers are held back for a while.
    for follower in SERVERS.iter().filter(|s| **s != leader_name) {
        let rule = (
            follower.to_string(),
            leader_name.clone(),
            "AppendEntriesResp".into(),
        );
        net.hold_rules.insert(rule);
    }
    net.run(COMMIT_HELD_MS, &mut String::new());
    for follower in SERVERS.iter().filter(|s| **s != leader_name) {
        net.release(follower, &leader_name, &["AppendEntriesResp"]);
    }
    net.run(RECONCILE_MS_MAX, &mut String::new());
    assert_eq!(leader(&net), Some(leader_name.clone()), "same leader");
    assert_eq!(last(&net), before + 1, "proposed once");
}

/// Fills node `name` with node-level checks up to the catalog's maximum, so that its
/// serfHealth cannot be added.
fn fill_node_with_checks(net: &mut AgentNet, name: &str) {
    use concord_core::catalog::{
        CatalogCommand, CheckRegistration, NodeRegistration, Registration, CHECKS_PER_NODE_MAX,
    };
    let batch = 1024;
    for first in (0..CHECKS_PER_NODE_MAX).step_by(batch) {
        let checks = (first..first + batch)
            .map(|i| CheckRegistration {
                check_id: format!("c{i}"),
                name: format!("c{i}"),
                ..CheckRegistration::default()
            })
            .collect();
        let node = NodeRegistration {
            name: name.into(),
            address: "10.0.0.9".into(),
            ..NodeRegistration::default()
        };
        let registration = Registration {
            node,
            checks,
            ..Registration::default()
        };
        let command = CatalogCommand::Register(Box::new(registration));
        let id = net.request("s1", Request::CatalogWrite { command });
        let reply = net.await_reply("s1", id, ANSWER_MS_MAX, &mut String::new());
        assert!(matches!(reply, Some(Ok(_))), "filled: {reply:?}");
    }
}

#[test]
fn a_member_whose_write_is_refused_does_not_hold_up_the_others() {
    let mut net = cluster();
    fill_node_with_checks(&mut net, "a1");
    // a1 comes before c1 in every round (clients by name); its serfHealth is refused.
    net.add("a1", Role::Client, 0);
    net.request("a1", Request::Join { addr: "s1".into() });
    net.run(RECONCILE_MS_MAX, &mut String::new());
    assert_eq!(status_of(&mut net, "a1"), None, "refused: the node is full");
    net.hosts.get_mut("c1").unwrap().agent = None;
    net.run(FAIL_MS_MAX, &mut String::new());
    assert_eq!(status_of(&mut net, "c1"), Some(CheckStatus::Critical));
}
