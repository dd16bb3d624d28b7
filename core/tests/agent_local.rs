//! The agent's own services through a small cluster: a client agent's registration reaches
//! the servers' catalog by anti-entropy, follows its TTL check's status, and goes with its
//! deregistration.

use concord_core::agent::local::{CheckInput, CheckKind, LocalOptions};
use concord_core::agent::*;
use concord_core::catalog::{CheckRegistration, CheckStatus, ServiceRegistration};
use concord_core::membership::Role;

mod support;
use support::agent_net::AgentNet;

const FORM_MS_MAX: u64 = 10_000;
const ANSWER_MS_MAX: u64 = 3_000;
/// A change reaches the catalog within this (sent at once; a few round trips).
const SYNC_MS_MAX: u64 = 2_000;

fn cluster_with_client() -> AgentNet {
    let mut net = AgentNet::new();
    let mut out = String::new();
    for name in ["s1", "s2", "s3"] {
        net.add(name, Role::Server, 3);
    }
    net.add("c1", Role::Client, 0);
    let client = net.hosts.get_mut("c1").unwrap().agent.as_mut().unwrap();
    client.set_local_options(LocalOptions {
        sync_enabled: true,
        ..LocalOptions::default()
    });
    for name in ["s2", "s3", "c1"] {
        net.request(name, Request::Join { addr: "s1".into() });
    }
    net.run(FORM_MS_MAX, &mut out);
    assert!(
        ["s1", "s2", "s3"].iter().any(|n| net.agent(n).is_leader()),
        "no leader formed:\n{out}"
    );
    net
}

fn ask(net: &mut AgentNet, name: &str, request: Request) -> ApiResult {
    let id = net.request(name, request);
    let reply = net.await_reply(name, id, ANSWER_MS_MAX, &mut String::new());
    reply.unwrap_or_else(|| panic!("{name} did not answer"))
}

/// `web` instances on the servers' catalog (a stale read on s2), with their checks' status.
fn catalog_web(net: &mut AgentNet) -> Vec<(String, Vec<CheckStatus>)> {
    let read = CatalogRead::HealthService {
        name: "web".into(),
        tags: vec![],
        passing: false,
    };
    let request = Request::Catalog {
        read,
        consistency: Consistency::Stale,
    };
    match ask(net, "s2", request) {
        Ok(Response::Catalog {
            answer: CatalogAnswer::Entries(entries),
            ..
        }) => entries
            .into_iter()
            .map(|e| (e.node.name, e.checks.iter().map(|c| c.status).collect()))
            .collect(),
        other => panic!("expected health entries, got {other:?}"),
    }
}

fn ttl_service() -> LocalRequest {
    let check = CheckInput {
        check: CheckRegistration::default(),
        kind: CheckKind::Ttl { ttl_ms: 3_600_000 },
        interval_ms: 0,
        timeout_ms: 0,
        success_before_passing: 0,
        failures_before_critical: 0,
        deregister_critical_service_after_ms: 0,
    };
    let service = ServiceRegistration {
        name: "web".into(),
        port: 80,
        ..Default::default()
    };
    LocalRequest::RegisterService {
        service: Box::new(service),
        checks: vec![check],
        replace_existing_checks: false,
    }
}

#[test]
fn a_client_agents_service_reaches_the_catalog_and_follows_its_check() {
    let mut net = cluster_with_client();
    assert_eq!(catalog_web(&mut net), vec![], "nothing registered yet");
    ask(&mut net, "c1", Request::Local(ttl_service())).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    let critical = vec![("c1".to_string(), vec![CheckStatus::Critical])];
    assert_eq!(
        catalog_web(&mut net),
        critical,
        "critical until its TTL is passed"
    );
    let pass = LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status: CheckStatus::Passing,
        output: "ok".into(),
    };
    ask(&mut net, "c1", Request::Local(pass)).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    let passing = vec![("c1".to_string(), vec![CheckStatus::Passing])];
    assert_eq!(catalog_web(&mut net), passing);
    let deregister = LocalRequest::DeregisterService { id: "web".into() };
    ask(&mut net, "c1", Request::Local(deregister)).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    assert_eq!(catalog_web(&mut net), vec![]);
}

#[test]
fn a_service_removed_from_the_catalog_behind_the_agents_back_comes_back() {
    let mut net = cluster_with_client();
    ask(&mut net, "c1", Request::Local(ttl_service())).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    let command = concord_core::catalog::CatalogCommand::Deregister {
        node: "c1".into(),
        service_id: Some("web".into()),
        check_id: None,
    };
    ask(&mut net, "s1", Request::CatalogWrite { command }).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    assert_eq!(catalog_web(&mut net), vec![], "removed by hand");
    // The next full sync (1 min + up to 1 min for a small cluster) restores it.
    net.run(2 * 60_000 + SYNC_MS_MAX, &mut String::new());
    assert_eq!(catalog_web(&mut net).len(), 1, "anti-entropy restored it");
}

/// The last Raft log index on s2: any write, even one the catalog finds identical, is an
/// entry.
fn log_index(net: &AgentNet) -> u64 {
    net.agent("s2").raft().expect("a server").last_index()
}

#[test]
fn full_syncs_of_an_unchanged_agent_write_nothing() {
    let mut net = cluster_with_client();
    ask(&mut net, "c1", Request::Local(ttl_service())).unwrap();
    net.run(SYNC_MS_MAX, &mut String::new());
    let (services, index) = (catalog_web(&mut net), log_index(&net));
    assert_eq!(services.len(), 1);
    // Several full syncs (each 1-2 min): each finds the catalog as the agent has it, so
    // nothing is proposed (the servers' own work writes no entries in an idle cluster).
    net.run(5 * 60_000, &mut String::new());
    assert_eq!(log_index(&net), index, "no write was proposed");
    assert_eq!(catalog_web(&mut net), services);
}
