//! A duplicated `Forward` frame is served once: a write forwarded twice must not apply twice.

use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_core::raft::RaftRestore;

mod support;
use support::drive::run_until_idle;

fn leader() -> Agent {
    let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
    config.bootstrap_expect = 1;
    let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
    agent.tick(10);
    run(&mut agent);
    assert!(agent.is_leader());
    agent
}

/// Runs the agent until idle; the results it sent back to 10.9.9.9 for request 7.
fn run(agent: &mut Agent) -> Vec<ApiResult> {
    let mut replies = Vec::new();
    run_until_idle(agent, 20, |action| {
        if let Action::Send { to, envelope } = action {
            if let WireMessage::ForwardReply {
                request_id: 7,
                result,
            } = envelope.msg
            {
                if to == "10.9.9.9:8300" {
                    replies.push(result);
                }
            }
        }
    });
    replies
}

#[test]
fn a_duplicated_forwarded_write_applies_once() {
    let mut agent = leader();
    let command = KvCommand::Set {
        key: "k".into(),
        value: b"v".to_vec(),
        flags: 0,
    };
    let forward = Envelope {
        from_addr: "10.9.9.9:8300".into(),
        msg: WireMessage::Forward {
            request_id: 7,
            hops: 1,
            request: Request::KvWrite { command },
        },
    };
    let dropped = agent.stats.messages_dropped;
    agent.handle_message(20, forward.clone());
    agent.handle_message(21, forward);
    let replies = run(&mut agent);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(agent.stats.messages_dropped, dropped + 1);
    let entry = agent.kv().get("k").expect("written");
    assert_eq!(entry.create_index, entry.modify_index, "applied once");
}
