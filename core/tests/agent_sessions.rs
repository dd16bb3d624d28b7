//! Sessions through a cluster of agents (3 servers, 1 client): create names the taking
//! agent's node; TTL timers on the leader expire a session after twice its TTL and not before
//! its TTL; a renew pushes the expiry; a new leader restarts every timer (no early expiry);
//! renewing an unknown session is NotFound; timers fire even when the log is compacted at
//! every other entry (the leader's "caught up" test reads the snapshot's term). Seeds are
//! fixed (the net is deterministic).

use concord_core::agent::*;

#[path = "support/coordination.rs"]
mod coordination;
mod support;
use coordination::*;

const SEED: u64 = 13;
const TTL_MS: u64 = 10_000;
/// Time between the leader's timer running out and the destroy applying everywhere.
const SLACK_MS: u64 = 1_500;

#[test]
fn a_session_created_through_a_client_agent_is_on_the_client_node() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "c1", spec(None, None, 15_000));
    let leader = the_leader(&net);
    let stored = session(&mut net, &leader, &id).expect("created");
    assert_eq!(stored.node, "c1");
    assert!(stored.create_index > 0 && stored.create_index == stored.modify_index);
    // Asked of a server directly, it is on the server's node.
    let id = create_session(&mut net, "s2", spec(None, None, 15_000));
    assert_eq!(session(&mut net, &leader, &id).expect("created").node, "s2");
}

#[test]
fn a_session_on_an_unknown_node_is_refused_with_consuls_text() {
    let mut net = cluster(SEED);
    let request = Request::SessionCreate {
        spec: spec(Some("nowhere"), None, 0),
    };
    let answer = ask(&mut net, "s1", request);
    assert_eq!(
        answer,
        Err(ApiError::BadRequest("Missing node registration".into()))
    );
}

#[test]
fn a_ttl_session_lives_through_its_ttl_and_is_gone_after_twice_it() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "s1", spec(None, Some(TTL_MS), 0));
    run(&mut net, TTL_MS);
    for server in SERVERS {
        assert!(session(&mut net, server, &id).is_some(), "{server} at TTL");
    }
    run(&mut net, TTL_MS - SLACK_MS);
    assert!(session(&mut net, "s1", &id).is_some(), "not before 2 x TTL");
    run(&mut net, 2 * SLACK_MS);
    for server in SERVERS {
        assert!(
            session(&mut net, server, &id).is_none(),
            "{server} after 2 x TTL"
        );
    }
}

#[test]
fn a_renew_pushes_the_expiry_and_an_unknown_id_is_not_found() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "s1", spec(None, Some(TTL_MS), 0));
    run(&mut net, 15_000);
    // Renewed through a follower and through the client: both reach the leader.
    for name in ["s2", "c1"] {
        let renewed = ask(&mut net, name, Request::SessionRenew { id: id.clone() });
        match renewed {
            Ok(Response::Sessions { sessions, .. }) => assert_eq!(sessions[0].id, id),
            other => panic!("renew through {name}: {other:?}"),
        }
    }
    let renewed_at = net.now_ms;
    let leader = the_leader(&net);
    let deadline = net.agent(&leader).session_deadline_ms(&id);
    assert!(
        deadline.is_some_and(|d| d >= renewed_at + 2 * TTL_MS - 100),
        "{deadline:?}"
    );
    run(&mut net, 10_000);
    assert!(
        session(&mut net, "s1", &id).is_some(),
        "alive past the first 2 x TTL"
    );
    run(&mut net, 2 * TTL_MS);
    assert!(
        session(&mut net, "s1", &id).is_none(),
        "expired after the renew's"
    );
    let unknown = ask(&mut net, "s3", Request::SessionRenew { id: id.clone() });
    assert_eq!(
        unknown,
        Err(ApiError::NotFound(format!("Session id '{id}' not found")))
    );
}

#[test]
fn a_new_leader_restarts_the_timers_and_expires_nothing_early() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "s1", spec(None, Some(TTL_MS), 0));
    let created_at = net.now_ms;
    run(&mut net, 15_000);
    let target = transfer_leadership(&mut net);
    let changed_at = net.now_ms;
    let deadline = net.agent(&target).session_deadline_ms(&id);
    assert!(
        deadline.is_some_and(|d| d >= changed_at - 1_000 + 2 * TTL_MS),
        "restarted at the new term: {deadline:?}"
    );
    // The old leader's timer would have run out at created_at + 2 x TTL.
    run_until(&mut net, created_at + 2 * TTL_MS + SLACK_MS);
    assert!(session(&mut net, &target, &id).is_some(), "no early expiry");
    run_until(&mut net, changed_at + 2 * TTL_MS + SLACK_MS);
    assert!(
        session(&mut net, &target, &id).is_none(),
        "expired by the new leader"
    );
}

#[test]
fn destroy_answers_true_even_for_an_unknown_id_and_removes_the_session() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "s2", spec(None, None, 0));
    destroy(&mut net, "s3", &id);
    destroy(&mut net, "c1", "no-such-session");
    run(&mut net, 200);
    for server in SERVERS {
        assert!(session(&mut net, server, &id).is_none(), "{server}");
    }
}

/// A create over a bound (here a 1 MiB name, the HTTP body's limit) is refused before the
/// log: the largest entry stays within the command bound the node's storage counts on.
#[test]
fn a_session_create_over_its_bounds_is_refused_before_the_log() {
    let mut net = cluster(SEED);
    let leader = the_leader(&net);
    let before = net.agent(&leader).raft().unwrap().last_index();
    let mut huge = spec(None, None, 0);
    huge.name = "n".repeat(1 << 20);
    let answer = ask(&mut net, "s2", Request::SessionCreate { spec: huge });
    assert!(
        matches!(&answer, Err(ApiError::BadRequest(why)) if why.contains("SESSION_NAME_BYTES_MAX")),
        "{answer:?}"
    );
    let mut many = spec(None, None, 0);
    many.node_checks = vec!["serfHealth".to_string(); 65];
    let answer = ask(&mut net, "c1", Request::SessionCreate { spec: many });
    assert!(
        matches!(&answer, Err(ApiError::BadRequest(why)) if why.contains("SESSION_CHECKS_MAX")),
        "{answer:?}"
    );
    let destroy = Request::SessionDestroy {
        id: "x".repeat(200),
    };
    let answer = ask(&mut net, "c1", destroy);
    assert!(
        matches!(&answer, Err(ApiError::BadRequest(why)) if why.contains("SESSION_ID_BYTES_MAX")),
        "{answer:?}"
    );
    assert_eq!(net.agent(&leader).raft().unwrap().last_index(), before);
}

#[test]
fn a_ttl_session_expires_when_the_log_is_compacted_at_every_entry() {
    let mut net = cluster_configured(SEED, |config| {
        config.snapshot_threshold_entries = 2;
        config.snapshot_interval_ms = 0;
    });
    let id = create_session(&mut net, "s1", spec(None, Some(TTL_MS), 0));
    run(&mut net, 2 * TTL_MS + SLACK_MS);
    for server in SERVERS {
        assert!(
            session(&mut net, server, &id).is_none(),
            "{server} after 2 x TTL"
        );
    }
}
