//! The catalog and health requests end to end in the core: writes proposed on the leader after
//! Consul's checks, reads served by consistency (leader, any server, ReadIndex), and blocking
//! health reads that wake on their service's changes only.

use concord_core::agent::*;
use concord_core::catalog::{
    CatalogCommand, CheckRegistration, CheckStatus, NodeRegistration, Registration,
    ServiceRegistration,
};
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_core::raft::RaftRestore;
use std::collections::BTreeMap;

mod support;
use support::agent_net::AgentNet;
use support::drive::run_until_idle;

/// How long a cluster of three may take to form, and a request to be answered in it.
const FORM_MS_MAX: u64 = 10_000;
const ANSWER_MS_MAX: u64 = 3_000;

/// A registration of `node` with the service `name` (id = name) and its check `check_status`.
fn register(node: &str, name: &str, check_status: CheckStatus) -> Request {
    let check = CheckRegistration {
        check_id: format!("check:{name}"),
        name: format!("check:{name}"),
        status: check_status,
        service_id: name.into(),
        ..Default::default()
    };
    let reg = Registration {
        node: NodeRegistration {
            name: node.into(),
            address: "10.0.0.1".into(),
            ..Default::default()
        },
        service: Some(ServiceRegistration {
            name: name.into(),
            port: 8080,
            ..Default::default()
        }),
        checks: vec![check],
        skip_node_update: false,
    };
    let command = CatalogCommand::Register(Box::new(reg));
    Request::CatalogWrite { command }
}

fn read(read: CatalogRead, consistency: Consistency) -> Request {
    Request::Catalog { read, consistency }
}

fn health(name: &str, passing: bool) -> CatalogRead {
    CatalogRead::HealthService {
        name: name.into(),
        tags: vec![],
        passing,
    }
}

/// The names of the instances a health or catalog answer lists, and its index.
fn listed(result: Option<&ApiResult>) -> (Vec<String>, u64) {
    match result {
        Some(Ok(Response::Catalog {
            answer: CatalogAnswer::Entries(entries),
            meta,
        })) => (
            entries.iter().map(|e| e.service.id.clone()).collect(),
            meta.index,
        ),
        Some(Ok(Response::Catalog {
            answer: CatalogAnswer::Instances(instances),
            meta,
        })) => (
            instances.iter().map(|(_, s)| s.id.clone()).collect(),
            meta.index,
        ),
        other => panic!("expected a service listing, got {other:?}"),
    }
}

fn written(result: Option<&ApiResult>) -> u64 {
    match result {
        Some(Ok(Response::KvWritten {
            applied: true,
            index,
        })) => *index,
        other => panic!("expected an applied write, got {other:?}"),
    }
}

/// Three servers that formed a cluster; returns the net and the leader's name.
fn three_servers() -> (AgentNet, String) {
    let mut net = AgentNet::new();
    let mut out = String::new();
    for name in ["s1", "s2", "s3"] {
        net.add(name, Role::Server, 3);
    }
    for name in ["s2", "s3"] {
        net.request(name, Request::Join { addr: "s1".into() });
    }
    net.run(FORM_MS_MAX, &mut out);
    let leader = ["s1", "s2", "s3"]
        .into_iter()
        .find(|n| net.agent(n).is_leader())
        .unwrap_or_else(|| panic!("no leader formed:\n{out}"));
    (net, leader.to_string())
}

fn ask(net: &mut AgentNet, name: &str, request: Request) -> Option<ApiResult> {
    let id = net.request(name, request);
    net.await_reply(name, id, ANSWER_MS_MAX, &mut String::new())
}

#[test]
fn a_registration_through_a_follower_reads_everywhere_by_consistency() {
    let (mut net, leader) = three_servers();
    let follower = if leader == "s1" { "s2" } else { "s1" };
    let at = written(
        ask(
            &mut net,
            follower,
            register("n1", "web", CheckStatus::Passing),
        )
        .as_ref(),
    );
    for (name, consistency) in [
        (leader.as_str(), Consistency::Default),
        (follower, Consistency::Default),
        (follower, Consistency::Consistent),
        (follower, Consistency::Stale),
    ] {
        let answer = ask(&mut net, name, read(health("web", true), consistency));
        assert_eq!(
            listed(answer.as_ref()),
            (vec!["web".into()], at),
            "{name} {consistency:?}"
        );
    }
    let services = ask(
        &mut net,
        follower,
        read(CatalogRead::CatalogServices, Consistency::Stale),
    );
    match services {
        Some(Ok(Response::Catalog {
            answer: CatalogAnswer::Services(map),
            meta,
        })) => assert_eq!(
            (
                map.keys().map(String::as_str).collect::<Vec<_>>(),
                meta.index
            ),
            (vec!["web"], at)
        ),
        other => panic!("catalog services: {other:?}"),
    }
}

/// A one-server cluster, leader at once; time moves only when a test says so.
struct One {
    agent: Agent,
}

impl One {
    fn new() -> One {
        let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
        config.bootstrap_expect = 1;
        let mut one = One {
            agent: Agent::new(config, 1, 0, RaftRestore::default()),
        };
        one.agent.tick(10);
        one.run();
        assert!(one.agent.is_leader());
        one
    }

    fn run(&mut self) -> BTreeMap<u64, ApiResult> {
        let mut replies = BTreeMap::new();
        run_until_idle(&mut self.agent, 20, |action| {
            if let Action::Reply { request_id, result } = action {
                replies.insert(request_id, result);
            }
        });
        replies
    }

    fn request(&mut self, id: u64, request: Request) -> BTreeMap<u64, ApiResult> {
        self.agent.handle_request(10, id, request);
        self.run()
    }
}

#[test]
fn a_blocking_health_read_wakes_on_its_service_and_not_on_other_writes() {
    let mut one = One::new();
    let at = written(
        one.request(1, register("n1", "web", CheckStatus::Passing))
            .get(&1),
    );
    let blocking = Request::watch(read(health("web", false), Consistency::Default), at, 60_000);
    assert!(one
        .request(2, blocking.expect("a health read blocks"))
        .is_empty());
    let kv = KvCommand::Set {
        key: "k".into(),
        value: b"v".to_vec(),
        flags: 0,
    };
    let replies = one.request(3, Request::KvWrite { command: kv });
    assert!(!replies.contains_key(&2), "a KV write woke the read");
    let replies = one.request(4, register("n2", "db", CheckStatus::Passing));
    assert!(
        !replies.contains_key(&2),
        "another service's write woke the read"
    );
    let replies = one.request(5, register("n1", "web", CheckStatus::Critical));
    let changed = written(replies.get(&5));
    assert_eq!(listed(replies.get(&2)), (vec!["web".into()], changed));
    let passing = one.request(6, read(health("web", true), Consistency::Default));
    assert_eq!(
        listed(passing.get(&6)),
        (vec![], changed),
        "same index when filtered"
    );
}

#[test]
fn deregistering_a_node_removes_its_services() {
    let mut one = One::new();
    written(
        one.request(1, register("n1", "web", CheckStatus::Passing))
            .get(&1),
    );
    let command = CatalogCommand::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
    };
    let at = written(one.request(2, Request::CatalogWrite { command }).get(&2));
    let service = CatalogRead::CatalogService {
        name: "web".into(),
        tags: vec![],
    };
    let replies = one.request(3, read(service, Consistency::Default));
    assert_eq!(listed(replies.get(&3)), (vec![], at), "extinction index");
    let node = one.request(
        4,
        read(
            CatalogRead::CatalogNode { name: "n1".into() },
            Consistency::Stale,
        ),
    );
    assert!(
        matches!(
            node.get(&4),
            Some(Ok(Response::Catalog {
                answer: CatalogAnswer::Node(None),
                ..
            }))
        ),
        "{node:?}"
    );
}

#[test]
fn a_bad_registration_is_refused_with_consuls_message_before_the_log() {
    let mut one = One::new();
    let Request::CatalogWrite {
        command: CatalogCommand::Register(mut reg),
    } = register("n1", "web", CheckStatus::Passing)
    else {
        unreachable!()
    };
    reg.checks[0].service_id = "nope".into();
    let command = CatalogCommand::Register(reg);
    let replies = one.request(1, Request::CatalogWrite { command });
    match replies.get(&1) {
        Some(Err(ApiError::BadRequest(why))) => {
            assert!(why.contains("\"nope\" does not exist"), "{why}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let nodes = one.request(2, read(CatalogRead::CatalogNodes, Consistency::Default));
    match nodes.get(&2) {
        Some(Ok(Response::Catalog {
            answer: CatalogAnswer::Nodes(nodes),
            ..
        })) => assert!(nodes.is_empty(), "nothing was written: {nodes:?}"),
        other => panic!("catalog nodes: {other:?}"),
    }
}
