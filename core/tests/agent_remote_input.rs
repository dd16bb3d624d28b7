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
