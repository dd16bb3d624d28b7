//! Remote input never panics an agent nor makes it act on another's word.

use concord_core::agent::*;
use concord_core::membership::Role;
use concord_core::raft::RaftRestore;

fn agent() -> Agent {
    let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
    config.bootstrap_expect = 1;
    let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
    agent.tick(10);
    agent.poll();
    agent
}

fn forward(request: Request) -> Envelope {
    Envelope {
        from_addr: "10.9.9.9:8300".into(),
        msg: WireMessage::Forward {
            request_id: 7,
            hops: 1,
            request,
        },
    }
}

#[test]
fn a_forwarded_leave_is_refused_and_the_agent_stays() {
    let mut agent = agent();
    agent.handle_message(20, forward(Request::Leave));
    let actions = agent.poll();
    let refused = actions.iter().any(|a| {
        matches!(a, Action::Send { to, envelope } if to == "10.9.9.9:8300"
            && matches!(&envelope.msg, WireMessage::ForwardReply { request_id: 7, result: Err(ApiError::BadRequest(_)) }))
    });
    assert!(refused, "{actions:?}");
    assert!(!agent.is_leaving());
}

#[test]
fn stray_replies_and_messages_are_dropped_and_counted() {
    let mut agent = agent();
    let before = agent.stats.messages_dropped;
    let reply = WireMessage::ForwardReply {
        request_id: 999,
        result: Ok(Response::Done),
    };
    agent.handle_message(
        20,
        Envelope {
            from_addr: "x:1".into(),
            msg: reply,
        },
    );
    let promise = BootstrapMessage::Promise {
        config: vec!["zz".into()],
        granted: true,
        already_bootstrapped: false,
    };
    agent.handle_message(
        21,
        Envelope {
            from_addr: "x:1".into(),
            msg: WireMessage::Bootstrap(promise),
        },
    );
    let commit = BootstrapMessage::Commit {
        config: vec!["evil".into()],
        addrs: vec!["x:1".into()],
    };
    agent.handle_message(
        22,
        Envelope {
            from_addr: "x:1".into(),
            msg: WireMessage::Bootstrap(commit),
        },
    );
    agent.poll();
    assert_eq!(agent.stats.messages_dropped, before + 1);
    assert!(agent.is_leader(), "the agent still leads its own cluster");
    assert_eq!(agent.raft().unwrap().config().voters.len(), 1);
}

/// One request of each variant. The match below has no catch-all, so a new variant is a
/// compile error here until it is added to the list (and so to the tests that use it).
fn one_of_each() -> Vec<Request> {
    let read = |consistency| Request::KvGet {
        key: "k".into(),
        consistency,
    };
    let all = vec![
        read(Consistency::Default),
        read(Consistency::Consistent),
        read(Consistency::Stale),
        Request::KvList {
            prefix: "k".into(),
            consistency: Consistency::Consistent,
        },
        Request::KvKeys {
            prefix: "".into(),
            separator: Some("/".into()),
            consistency: Consistency::Default,
        },
        Request::KvWrite {
            command: concord_core::kv::KvCommand::Delete { key: "k".into() },
        },
        Request::CatalogWrite {
            command: concord_core::catalog::CatalogCommand::Deregister {
                node: "n1".into(),
                service_id: None,
                check_id: None,
            },
        },
        Request::Catalog {
            read: CatalogRead::CatalogServices,
            consistency: Consistency::Stale,
        },
        Request::StatusLeader,
        Request::StatusPeers,
        Request::RaftConfiguration,
        Request::RaftRemovePeer {
            id_or_address: "nobody".into(),
        },
        Request::RaftTransferLeader { target: None },
        Request::Members,
        Request::Join {
            addr: "10.1.1.1:8301".into(),
        },
        Request::Leave,
        Request::ForceLeave {
            node: "a".into(),
            prune: false,
        },
        Request::Local(LocalRequest::DeregisterService { id: "web".into() }),
        // Index 0 never blocks, so it is answered at once like the read.
        Request::watch(read(Consistency::Stale), 0, 1_000).expect("a read blocks"),
        Request::AutopilotGetConfig,
        Request::AutopilotSetConfig {
            options: Default::default(),
            cas: Some(0),
        },
        Request::AutopilotHealth,
        Request::SessionCreate {
            spec: Default::default(),
        },
        Request::SessionDestroy { id: "s".into() },
        Request::SessionRenew { id: "s".into() },
        Request::Session {
            read: concord_core::session::SessionRead::List,
            consistency: Consistency::Stale,
        },
        Request::Txn {
            ops: Vec::new(),
            consistency: Consistency::Stale,
        },
        Request::SnapshotSave {
            consistency: Consistency::Stale,
        },
        Request::SnapshotRestore { state: Vec::new() },
        Request::GossipHealth,
    ];
    for request in &all {
        match request {
            Request::KvGet { .. }
            | Request::KvList { .. }
            | Request::KvKeys { .. }
            | Request::KvWrite { .. }
            | Request::CatalogWrite { .. }
            | Request::Catalog { .. }
            | Request::StatusLeader
            | Request::StatusPeers
            | Request::RaftConfiguration
            | Request::RaftRemovePeer { .. }
            | Request::RaftTransferLeader { .. }
            | Request::Members
            | Request::Join { .. }
            | Request::Leave
            | Request::ForceLeave { .. }
            | Request::Watch { .. }
            | Request::Local(_)
            | Request::AutopilotGetConfig
            | Request::AutopilotSetConfig { .. }
            | Request::AutopilotHealth
            | Request::SessionCreate { .. }
            | Request::SessionDestroy { .. }
            | Request::SessionRenew { .. }
            | Request::Session { .. }
            | Request::Txn { .. }
            | Request::SnapshotSave { .. }
            | Request::SnapshotRestore { .. }
            | Request::GossipHealth => {}
        }
    }
    all
}

/// Requests that act on the agent that takes them (membership, its own services and
/// checks): never served on another's word.
fn is_membership(request: &Request) -> bool {
    matches!(
        request,
        Request::Members
            | Request::GossipHealth
            | Request::Join { .. }
            | Request::Leave
            | Request::ForceLeave { .. }
            | Request::Local(_)
    )
}

/// Runs the agent until it sends a reply to request 7 (writing what it asks to persist);
/// every reply to 7 it sent.
fn replies_to_forward(agent: &mut Agent, now_ms: &mut u64) -> Vec<ApiResult> {
    let mut replies = Vec::new();
    for _ in 0..50 {
        for action in agent.poll() {
            match action {
                Action::Persist { entries, .. } => {
                    if let Some(last) = entries.last() {
                        agent.on_persisted(last.index, last.term);
                    }
                }
                Action::Send { to, envelope } if to == "10.9.9.9:8300" => {
                    if let WireMessage::ForwardReply {
                        request_id: 7,
                        result,
                    } = envelope.msg
                    {
                        replies.push(result);
                    }
                }
                _ => {}
            }
        }
        if !replies.is_empty() {
            break;
        }
        *now_ms += 10;
        agent.tick(*now_ms);
    }
    replies
}

#[test]
fn every_request_from_a_remote_node_gets_one_answer_and_membership_ones_are_refused() {
    for request in one_of_each() {
        let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
        config.bootstrap_expect = 1;
        let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
        let mut now_ms = 0;
        replies_to_forward(&mut agent, &mut now_ms);
        assert!(agent.is_leader() && agent.raft().unwrap().commit_index() > 0);
        let members_before = agent.membership().list(now_ms).len();
        agent.handle_message(now_ms, forward(request.clone()));
        let replies = replies_to_forward(&mut agent, &mut now_ms);
        assert_eq!(replies.len(), 1, "{}: {replies:?}", request.kind());
        if is_membership(&request) {
            let refused = matches!(&replies[0], Err(ApiError::BadRequest(why)) if why.contains("not forwarded"));
            assert!(refused, "{}: {replies:?}", request.kind());
        }
        assert!(!agent.is_leaving(), "{}", request.kind());
        assert_eq!(agent.membership().list(now_ms).len(), members_before);
    }
}

#[test]
fn a_client_agent_refuses_every_forwarded_request_with_a_typed_error() {
    for request in one_of_each() {
        let config = AgentConfig::new("c", "127.0.0.2", Role::Client).fast();
        let mut agent = Agent::new(config, 3, 0, RaftRestore::default());
        agent.handle_message(20, forward(request.clone()));
        let replies = replies_to_forward(&mut agent, &mut 20);
        let refused = match &replies[..] {
            [Err(ApiError::BadRequest(_))] => is_membership(&request),
            [Err(ApiError::Unavailable(why))] => why.contains("client agent"),
            _ => false,
        };
        assert!(refused, "{}: {replies:?}", request.kind());
        assert_eq!(agent.pending_requests(), 0, "{}", request.kind());
    }
}
