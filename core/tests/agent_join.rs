//! `join ADDR` pushes its state to ADDR and waits for the pull. A push can be lost without a
//! word from TCP (written into a connection the peer's kernel had forgotten), so an unanswered
//! join pushes again each `JOIN_RESEND_INTERVAL_MS` until its timeout, and stops once answered.

use concord_core::agent::*;
use concord_core::membership::{GossipBody, GossipPacket, Role};
use concord_core::raft::RaftRestore;

mod support;
use support::drive::run_until_idle;

const PEER_ADDR: &str = "10.9.9.9:8301";

/// What one run of the agent sent towards the join's address, and its replies.
#[derive(Default)]
struct Seen {
    pushes: Vec<Option<u64>>,
    replies: Vec<ApiResult>,
}

fn client() -> Agent {
    let config = AgentConfig::new("a", "127.0.0.1", Role::Client).fast();
    let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
    agent.tick(0);
    run(&mut agent);
    agent
}

fn run(agent: &mut Agent) -> Seen {
    let mut seen = Seen::default();
    run_until_idle(agent, 20, |action| match action {
        Action::Send { to, envelope } if to == PEER_ADDR => {
            if let WireMessage::Gossip { packet, .. } = envelope.msg {
                if let GossipBody::PushPull { join_id, .. } = packet.body {
                    seen.pushes.push(join_id);
                }
            }
        }
        Action::Reply { result, .. } => seen.replies.push(result),
        _ => {}
    });
    seen
}

/// Ticks from `from_ms` to `to_ms` in 100 ms steps; everything the agent did meanwhile.
fn run_between(agent: &mut Agent, from_ms: u64, to_ms: u64) -> Seen {
    let mut seen = Seen::default();
    for now_ms in (from_ms..=to_ms).step_by(100) {
        agent.tick(now_ms);
        let round = run(agent);
        seen.pushes.extend(round.pushes);
        seen.replies.extend(round.replies);
    }
    seen
}

fn join(agent: &mut Agent, now_ms: u64) -> Seen {
    agent.handle_request(
        now_ms,
        1,
        Request::Join {
            addr: PEER_ADDR.into(),
        },
    );
    run(agent)
}

#[test]
fn an_unanswered_join_pushes_again_each_interval_then_fails_at_its_timeout() {
    let mut agent = client();
    let first = join(&mut agent, 100);
    assert_eq!(first.pushes.len(), 1);
    let join_id = first.pushes[0].expect("a join's push carries its id");
    let before_timeout = run_between(&mut agent, 200, 100 + JOIN_TIMEOUT_MS - 100);
    let resent = (JOIN_TIMEOUT_MS - 1) / JOIN_RESEND_INTERVAL_MS;
    assert_eq!(before_timeout.pushes, vec![Some(join_id); resent as usize]);
    assert!(before_timeout.replies.is_empty(), "still waiting");
    let after = run_between(&mut agent, 100 + JOIN_TIMEOUT_MS, 100 + 2 * JOIN_TIMEOUT_MS);
    assert!(
        after.pushes.is_empty(),
        "a failed join pushes no more: {:?}",
        after.pushes
    );
    assert!(
        matches!(after.replies.as_slice(), [Err(ApiError::JoinFailed(_))]),
        "{:?}",
        after.replies
    );
}

#[test]
fn an_answered_join_pushes_no_more() {
    let mut agent = client();
    let join_id = join(&mut agent, 100).pushes[0];
    let answer = Envelope {
        from_addr: PEER_ADDR.into(),
        msg: WireMessage::Gossip {
            packet: GossipPacket {
                from: "b".into(),
                from_addr: PEER_ADDR.into(),
                body: GossipBody::PushPull {
                    records: Vec::new(),
                    reply_wanted: false,
                    join_id,
                },
                updates: Vec::new(),
            },
            channel: concord_core::membership::Channel::Stream,
        },
    };
    agent.handle_message(600, answer);
    let answered = run(&mut agent);
    assert!(
        matches!(answered.replies.as_slice(), [Ok(Response::Joined { .. })]),
        "{:?}",
        answered.replies
    );
    let later = run_between(&mut agent, 700, 100 + 2 * JOIN_TIMEOUT_MS);
    let join_pushes: Vec<_> = later.pushes.iter().filter(|p| p.is_some()).collect();
    assert!(join_pushes.is_empty(), "{join_pushes:?}");
    assert!(later.replies.is_empty());
}
