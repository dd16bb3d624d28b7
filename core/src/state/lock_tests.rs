//! Locks through the state machine: Consul's `?acquire=` / `?release=` rules.

use super::test_support::*;
use super::{StateBug, StateMachine, TableId};
use crate::agent::command::Command;
use crate::kv::{KvCommand, LockChange};

#[test]
fn lock_index_follows_consuls_table() {
    let mut state = with_sessions();
    // (index, command, answer, holder after, LockIndex after)
    let steps: [(u64, _, bool, Option<&str>, u64); 6] = [
        (11, lock("k", "a", "s1"), true, Some("s1"), 1),
        (12, lock("k", "b", "s1"), true, Some("s1"), 1),
        (13, lock("k", "c", "s2"), false, Some("s1"), 1),
        (14, unlock("k", "d", "s2"), false, Some("s1"), 1),
        (15, unlock("k", "e", "s1"), true, None, 1),
        (16, lock("k", "f", "s2"), true, Some("s2"), 2),
    ];
    for (index, command, answer, holder, lock_index) in steps {
        assert_eq!(state.apply(index, &command), answer, "at {index}");
        let e = entry(&state, "k");
        assert_eq!(e.session.as_deref(), holder, "at {index}");
        assert_eq!(e.lock_index, lock_index, "at {index}");
        assert_eq!(e.create_index, 11, "at {index}");
    }
    let e = entry(&state, "k");
    assert_eq!(
        (e.value.as_slice(), e.flags, e.modify_index),
        (&b"f"[..], 3, 16)
    );
    assert_eq!(state.check_invariants(), Ok(()));
}

#[test]
fn a_refused_lock_changes_nothing() {
    let mut state = with_sessions();
    assert!(state.apply(11, &lock("k", "a", "s1")));
    let before = state.clone();
    assert!(!state.apply(12, &lock("k", "b", "s2")));
    assert!(!state.apply(13, &lock("other", "b", "no-such-session")));
    assert!(!state.apply(14, &unlock("absent", "b", "s1")));
    assert_eq!(state, before);
}

#[test]
fn a_plain_write_keeps_the_lock_and_a_release_writes_its_value() {
    let mut state = with_sessions();
    assert!(state.apply(11, &lock("k", "a", "s1")));
    assert!(state.apply(12, &set("k", "plain")));
    let e = entry(&state, "k");
    assert_eq!((e.session.as_deref(), e.lock_index), (Some("s1"), 1));
    assert_eq!((e.value.as_slice(), e.modify_index), (&b"plain"[..], 12));
    let outcome = state.apply_traced(13, 1, &unlock("k", "released", "s1"));
    assert!(outcome.ok);
    let e = entry(&state, "k");
    assert_eq!((e.value.as_slice(), e.flags), (&b"released"[..], 4));
    assert_eq!((e.session, e.lock_index, e.modify_index), (None, 1, 13));
    let change = LockChange {
        key: "k".into(),
        before: Some("s1".into()),
        after: None,
        lock_index: 1,
        modify_index: 13,
        deleted: false,
        delay_ns: 0,
    };
    assert_eq!(outcome.lock_changes, vec![change]);
}

#[test]
fn every_grant_and_a_deleted_held_key_are_lock_changes() {
    let mut state = with_sessions();
    let grant = state.apply_traced(11, 1, &lock("k", "a", "s1"));
    assert_eq!(grant.lock_changes.len(), 1);
    assert_eq!(grant.lock_changes[0].after.as_deref(), Some("s1"));
    assert_eq!(grant.lock_changes[0].before, None);
    let again = state.apply_traced(12, 1, &lock("k", "a", "s1"));
    assert_eq!(again.lock_changes[0].before.as_deref(), Some("s1"));
    let refused = state.apply_traced(13, 1, &lock("k", "a", "s2"));
    assert!(!refused.ok && refused.lock_changes.is_empty());
    let delete = Command::Kv(KvCommand::DeleteTree { prefix: "".into() });
    let deleted = state.apply_traced(14, 1, &delete);
    assert_eq!(deleted.lock_changes.len(), 1);
    assert!(deleted.lock_changes[0].deleted);
    assert_eq!(deleted.lock_changes[0].before.as_deref(), Some("s1"));
}

#[test]
fn the_planted_bug_steals_a_lock_only_in_a_later_term() {
    for planted in [false, true] {
        let mut state = with_sessions();
        if planted {
            state.plant_bug(StateBug::LockStealAfterLeaderChange);
        }
        assert!(state.apply_traced(11, 2, &lock("k", "a", "s1")).ok);
        assert!(
            !state.apply_traced(12, 2, &lock("k", "b", "s2")).ok,
            "same term"
        );
        let stolen = state.apply_traced(13, 3, &lock("k", "c", "s2"));
        assert_eq!(stolen.ok, planted);
        let e = entry(&state, "k");
        let holder = if planted { "s2" } else { "s1" };
        assert_eq!(e.session.as_deref(), Some(holder));
        assert_eq!(e.lock_index, if planted { 2 } else { 1 });
    }
}

#[test]
fn locks_move_the_kv_table_only_when_granted() {
    let mut state = with_sessions();
    assert!(!state.apply(11, &lock("k", "a", "nobody")));
    assert_eq!(state.table_index(TableId::Kv), 0);
    assert!(state.apply(12, &lock("k", "a", "s1")));
    assert_eq!(state.table_index(TableId::Kv), 12);
    assert_eq!(state.kv().last_applied_index(), 12);
    let fresh = StateMachine::new();
    assert_eq!(fresh.sessions().len(), 0);
}
