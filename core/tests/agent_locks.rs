//! Locks and transactions through a cluster of agents (3 servers, 1 client): an acquire during
//! the lock-delay of an invalidated holder answers false without a proposal and true after
//! it; a transaction's lock in that delay fails with Consul's text, also without a proposal;
//! an acquire naming an unknown session is refused; the lock journal shows grants and
//! releases; a read-only consistent transaction goes through ReadIndex and writes nothing.

use concord_core::agent::journal::ReadEvent;
use concord_core::agent::*;
use concord_core::kv::txn::{TxnError, TxnOp, TxnOutcome, TxnVerb};
use concord_core::kv::KvCommand;
use concord_core::state::StateBug;

#[path = "support/coordination.rs"]
mod coordination;
mod support;
use coordination::*;

const SEED: u64 = 21;
const LOCK_DELAY_MS: u64 = 2_000;

fn txn_op(verb: TxnVerb, key: &str, session: &str) -> TxnOp {
    TxnOp {
        verb,
        key: key.into(),
        value: b"t".to_vec(),
        flags: 0,
        index: 0,
        session: session.into(),
    }
}

fn last_index(net: &support::agent_net::AgentNet, name: &str) -> u64 {
    net.agent(name).raft().expect("a server").last_index()
}

/// The lock journal of `name` since the last call, as (key, before, after) of each change.
fn lock_events(
    net: &mut support::agent_net::AgentNet,
    name: &str,
) -> Vec<(String, Option<String>, Option<String>)> {
    let host = net.hosts.get_mut(name).unwrap();
    let events = host.agent.as_mut().unwrap().take_lock_changes();
    let changes = events.into_iter().filter_map(|event| match event {
        LockJournalEvent::Change { change, .. } => Some(change),
        LockJournalEvent::Reset { .. } => None,
    });
    changes.map(|c| (c.key, c.before, c.after)).collect()
}

#[test]
fn lock_delay_refuses_an_acquire_without_a_proposal_until_it_ends() {
    let mut net = cluster(SEED);
    let leader = the_leader(&net);
    let first = create_session(&mut net, "c1", spec(None, None, LOCK_DELAY_MS));
    let second = create_session(&mut net, "c1", spec(None, None, LOCK_DELAY_MS));
    let granted = acquire(&mut net, "c1", "svc/lock", &first);
    assert!(
        matches!(granted, Ok(Response::KvWritten { applied: true, .. })),
        "{granted:?}"
    );
    let held = acquire(&mut net, "c1", "svc/lock", &second);
    assert!(
        matches!(held, Ok(Response::KvWritten { applied: false, .. })),
        "held by the first: {held:?}"
    );
    destroy(&mut net, "c1", &first);
    let before = last_index(&net, &leader);
    let delayed = acquire(&mut net, "c1", "svc/lock", &second);
    assert!(
        matches!(delayed, Ok(Response::KvWritten { applied: false, .. })),
        "in lock-delay: {delayed:?}"
    );
    let ops = vec![
        txn_op(TxnVerb::Set, "svc/other", ""),
        txn_op(TxnVerb::Lock, "svc/lock", &second),
    ];
    let request = Request::Txn {
        ops,
        consistency: Consistency::Default,
    };
    let failed = ask(&mut net, "s2", request);
    let expected = TxnOutcome::Failed {
        errors: vec![TxnError {
            op_index: 1,
            what: "failed to lock key \"svc/lock\" due to lock delay".into(),
        }],
    };
    assert!(
        matches!(&failed, Ok(Response::Txn { outcome, .. }) if *outcome == expected),
        "{failed:?}"
    );
    assert_eq!(last_index(&net, &leader), before, "nothing was proposed");
    run(&mut net, LOCK_DELAY_MS);
    let granted = acquire(&mut net, "c1", "svc/lock", &second);
    assert!(
        matches!(granted, Ok(Response::KvWritten { applied: true, .. })),
        "after the delay: {granted:?}"
    );
}

#[test]
fn an_acquire_naming_an_unknown_session_is_refused_before_the_log() {
    let mut net = cluster(SEED);
    let answer = acquire(&mut net, "s3", "k", "no-such-session");
    assert_eq!(
        answer,
        Err(ApiError::BadRequest(
            "invalid session \"no-such-session\"".into()
        ))
    );
}

#[test]
fn the_lock_journal_shows_grants_and_releases_on_every_server() {
    let mut net = cluster(SEED);
    for server in SERVERS {
        lock_events(&mut net, server);
    }
    let id = create_session(&mut net, "c1", spec(None, None, 0));
    acquire(&mut net, "c1", "a", &id).expect("acquired");
    let release = KvCommand::Unlock {
        key: "a".into(),
        value: vec![],
        flags: 0,
        session: id.clone(),
    };
    let released = ask(&mut net, "c1", Request::KvWrite { command: release });
    assert!(
        matches!(released, Ok(Response::KvWritten { applied: true, .. })),
        "{released:?}"
    );
    run(&mut net, 200);
    let expected = vec![
        ("a".to_string(), None, Some(id.clone())),
        ("a".to_string(), Some(id.clone()), None),
    ];
    for server in SERVERS {
        assert_eq!(lock_events(&mut net, server), expected, "{server}");
    }
}

#[test]
fn a_read_only_consistent_transaction_goes_through_read_index() {
    let mut net = cluster(SEED);
    let leader = the_leader(&net);
    let set = KvCommand::Set {
        key: "r/x".into(),
        value: b"1".to_vec(),
        flags: 0,
    };
    ask(&mut net, "s1", Request::KvWrite { command: set }).expect("written");
    let agent = net.hosts.get_mut(&leader).unwrap().agent.as_mut().unwrap();
    agent.take_read_events();
    let before = last_index(&net, &leader);
    let ops = vec![
        txn_op(TxnVerb::Get, "r/x", ""),
        txn_op(TxnVerb::GetTree, "r/", ""),
    ];
    for consistency in [Consistency::Default, Consistency::Consistent] {
        let request = Request::Txn {
            ops: ops.clone(),
            consistency,
        };
        let answer = ask(&mut net, "c1", request);
        let Ok(Response::Txn {
            outcome: TxnOutcome::Committed { entries },
            index: 0,
            meta: Some(_),
        }) = answer
        else {
            panic!("{consistency:?}: {answer:?}");
        };
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].value, b"1");
        let agent = net.hosts.get_mut(&leader).unwrap().agent.as_mut().unwrap();
        let events = agent.take_read_events();
        let arrived = events
            .iter()
            .filter(|e| matches!(e, ReadEvent::Arrived { .. }))
            .count();
        let expected = usize::from(consistency == Consistency::Consistent);
        assert_eq!(arrived, expected, "{consistency:?}: {events:?}");
    }
    assert_eq!(last_index(&net, &leader), before, "reads write nothing");
}

#[test]
fn a_writing_transaction_applies_all_or_nothing_and_answers_its_index() {
    let mut net = cluster(SEED);
    let ops = vec![
        txn_op(TxnVerb::Set, "t/a", ""),
        txn_op(TxnVerb::Set, "t/b", ""),
    ];
    let request = Request::Txn {
        ops,
        consistency: Consistency::Default,
    };
    let answer = ask(&mut net, "c1", request);
    let Ok(Response::Txn {
        outcome: TxnOutcome::Committed { entries },
        index,
        meta: None,
    }) = answer
    else {
        panic!("{answer:?}");
    };
    assert!(index > 0);
    assert!(
        entries.iter().all(|e| e.modify_index == index),
        "{entries:?}"
    );
    let failing = vec![
        txn_op(TxnVerb::Set, "t/c", ""),
        txn_op(TxnVerb::CheckNotExists, "t/a", ""),
    ];
    let request = Request::Txn {
        ops: failing,
        consistency: Consistency::Default,
    };
    let answer = ask(&mut net, "s1", request);
    assert!(
        matches!(&answer, Ok(Response::Txn { outcome: TxnOutcome::Failed { errors }, .. }) if errors.len() == 1 && errors[0].op_index == 1),
        "{answer:?}"
    );
    run(&mut net, 100);
    assert!(net.agent("s2").kv().get("t/c").is_none(), "nothing written");
}

#[test]
fn the_planted_lock_steal_is_wired_and_only_steals_after_a_leader_change() {
    for planted in [None, Some(StateBug::LockStealAfterLeaderChange)] {
        let mut net = cluster_with(SEED, planted);
        let first = create_session(&mut net, "c1", spec(None, None, 0));
        let second = create_session(&mut net, "c1", spec(None, None, 0));
        acquire(&mut net, "c1", "k", &first).expect("acquired");
        let same_term = acquire(&mut net, "c1", "k", &second);
        assert!(
            matches!(same_term, Ok(Response::KvWritten { applied: false, .. })),
            "{planted:?}: {same_term:?}"
        );
        transfer_leadership(&mut net);
        let stolen = matches!(
            acquire(&mut net, "c1", "k", &second),
            Ok(Response::KvWritten { applied: true, .. })
        );
        assert_eq!(stolen, planted.is_some(), "{planted:?}");
    }
}

#[test]
fn a_holder_whose_agent_dies_loses_the_lock_and_lock_delay_applies() {
    let mut net = cluster(SEED);
    let holder = create_session(&mut net, "c1", spec(None, None, LOCK_DELAY_MS));
    let waiter = create_session(&mut net, "s1", spec(None, None, LOCK_DELAY_MS));
    acquire(&mut net, "c1", "job", &holder).expect("acquired");
    net.hosts.get_mut("c1").unwrap().agent = None;
    // serfHealth turns critical within seconds; the session is swept with its lock.
    let mut waited_ms = 0;
    while net
        .agent("s1")
        .kv()
        .get("job")
        .and_then(|e| e.session.clone())
        .is_some()
    {
        assert!(waited_ms < 10_000, "the lock was never released");
        run(&mut net, 50);
        waited_ms += 50;
    }
    let released_at = net.now_ms;
    let early = acquire(&mut net, "s1", "job", &waiter);
    assert!(
        matches!(early, Ok(Response::KvWritten { applied: false, .. })),
        "within the lock-delay: {early:?}"
    );
    run_until(&mut net, released_at + LOCK_DELAY_MS + 100);
    let later = acquire(&mut net, "s1", "job", &waiter);
    assert!(
        matches!(later, Ok(Response::KvWritten { applied: true, .. })),
        "after the lock-delay: {later:?}"
    );
}

/// A new leader whose first entry of its term is not applied yet may not know the sessions,
/// releases and lock-delays its predecessor committed: an acquire or a transaction's lock is
/// answered 503 "catching up" then, before any check or proposal.
#[test]
fn a_leader_not_caught_up_with_its_term_refuses_acquires_and_txn_locks() {
    let mut net = cluster(SEED);
    let id = create_session(&mut net, "c1", spec(None, None, 0));
    let old = the_leader(&net);
    let target = SERVERS.iter().find(|n| **n != old).unwrap().to_string();
    // The target's appends (its term's first entry among them) are held back: it wins the
    // election but cannot commit.
    for other in SERVERS.iter().filter(|n| **n != target) {
        let rule = (
            target.clone(),
            other.to_string(),
            "AppendEntries".to_string(),
        );
        net.hold_rules.insert(rule);
    }
    let transfer = Request::RaftTransferLeader {
        target: Some(target.clone()),
    };
    assert_eq!(ask(&mut net, &old, transfer), Ok(Response::Done));
    for _ in 0..100 {
        if net.agent(&target).is_leader() {
            break;
        }
        run(&mut net, 10);
    }
    assert!(net.agent(&target).is_leader(), "seed {SEED}: no transfer");
    let before = last_index(&net, &target);
    let catching_up = |answer: &ApiResult| matches!(answer, Err(ApiError::Unavailable(why)) if why.starts_with("leader is catching up"));
    let answer = acquire(&mut net, &target, "k", &id);
    assert!(catching_up(&answer), "{answer:?}");
    let ops = vec![txn_op(TxnVerb::Lock, "k", &id)];
    let request = Request::Txn {
        ops,
        consistency: Consistency::Default,
    };
    let answer = ask(&mut net, &target, request);
    assert!(catching_up(&answer), "{answer:?}");
    assert_eq!(last_index(&net, &target), before, "nothing was proposed");
}
