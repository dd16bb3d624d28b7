//! Transactions through the state machine: every verb, Consul's error texts, all or nothing.

use super::test_support::*;
use super::{StateMachine, TableId};
use crate::agent::command::Command;
use crate::kv::txn::{TxnError, TxnOp, TxnOutcome, TxnVerb::*};

fn run(state: &mut StateMachine, index: u64, ops: Vec<TxnOp>) -> TxnOutcome {
    let outcome = state.apply_traced(index, 1, &Command::Txn(ops));
    let txn = outcome.txn.expect("a txn answers with its outcome");
    assert_eq!(outcome.ok, matches!(txn, TxnOutcome::Committed { .. }));
    txn
}

fn committed(outcome: TxnOutcome) -> Vec<crate::kv::KvEntry> {
    match outcome {
        TxnOutcome::Committed { entries } => entries,
        TxnOutcome::Failed { errors } => panic!("failed: {errors:?}"),
    }
}

fn errors(outcome: TxnOutcome) -> Vec<(usize, String)> {
    match outcome {
        TxnOutcome::Failed { errors } => errors
            .into_iter()
            .map(|TxnError { op_index, what }| (op_index, what))
            .collect(),
        TxnOutcome::Committed { entries } => panic!("committed: {entries:?}"),
    }
}

/// A state with a (5, value "va"), b/x (6), b/y (7), and the sessions of `with_sessions`.
fn state() -> StateMachine {
    let mut state = with_sessions();
    for (index, key) in [(5, "a"), (6, "b/x"), (7, "b/y")] {
        assert!(state.apply(index, &set(key, &format!("v{key}"))));
    }
    state
}

#[test]
fn writes_commit_at_one_index_and_later_ops_see_earlier_ones() {
    let mut state = state();
    let ops = vec![
        op(Set, "n", "1", 0, ""),
        op(Cas, "n", "2", 20, ""),
        op(CheckIndex, "n", "", 20, ""),
        op(Lock, "l", "held", 0, "s1"),
        op(CheckSession, "l", "", 0, "s1"),
        op(Unlock, "l", "free", 0, "s1"),
        op(Get, "l", "", 0, ""),
        op(DeleteCas, "a", "", 5, ""),
        op(CheckNotExists, "a", "", 0, ""),
        op(DeleteTree, "b/", "", 0, ""),
        op(GetTree, "", "", 0, ""),
        op(GetOrEmpty, "zz", "", 0, ""),
        op(Delete, "n", "", 0, ""),
    ];
    let entries = committed(run(&mut state, 20, ops));
    let shown: Vec<(&str, &[u8], u64)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_slice(), e.modify_index))
        .collect();
    let expected: Vec<(&str, &[u8], u64)> = vec![
        ("n", b"", 20),
        ("n", b"", 20),
        ("n", b"", 20),
        ("l", b"", 20),
        ("l", b"", 20),
        ("l", b"", 20),
        ("l", b"free", 20),
        ("l", b"free", 20),
        ("n", b"2", 20),
        ("zz", b"", 0),
    ];
    assert_eq!(shown, expected);
    let keys: Vec<String> = state.kv().list("").into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["l"]);
    let l = entry(&state, "l");
    assert_eq!((l.lock_index, l.session, l.create_index), (1, None, 20));
    assert_eq!(state.table_index(TableId::Kv), 20);
    assert_eq!(state.check_invariants(), Ok(()));
}

#[test]
fn every_failure_is_listed_with_consuls_text_and_nothing_is_written() {
    let mut state = state();
    assert!(state.apply(8, &lock("held", "v", "s2")));
    let before = state.clone();
    let ops = vec![
        op(Set, "new", "v", 0, ""),
        op(Get, "missing", "", 0, ""),
        op(CheckIndex, "a", "", 4, ""),
        op(CheckIndex, "missing", "", 4, ""),
        op(CheckSession, "held", "", 0, "s1"),
        op(CheckSession, "missing", "", 0, "s1"),
        op(CheckNotExists, "a", "", 0, ""),
        op(Cas, "a", "v", 4, ""),
        op(DeleteCas, "a", "", 4, ""),
        op(Lock, "held", "v", 0, "s1"),
        op(Lock, "x", "v", 0, "nope"),
        op(Unlock, "held", "v", 0, "s1"),
        op(CheckNotExists, "new", "", 0, ""),
    ];
    let expected: Vec<(usize, String)> = vec![
        (1, r#"key "missing" doesn't exist"#.into()),
        (
            2,
            r#"failed index check for key "a", current modify index 5 != 4"#.into(),
        ),
        (
            3,
            r#"failed to check index, key "missing" doesn't exist"#.into(),
        ),
        (
            4,
            r#"failed session check for key "held", current session "s2" != "s1""#.into(),
        ),
        (
            5,
            r#"failed to check session, key "missing" doesn't exist"#.into(),
        ),
        (6, r#"key "a" exists"#.into()),
        (7, r#"failed to set key "a", index is stale"#.into()),
        (8, r#"failed to delete key "a", index is stale"#.into()),
        (
            9,
            r#"failed to lock key "held", lock is already held"#.into(),
        ),
        (10, r#"invalid session "nope""#.into()),
        (
            11,
            r#"failed to unlock key "held", lock isn't held, or is held by another session"#.into(),
        ),
        (12, r#"key "new" exists"#.into()),
    ];
    let outcome = state.apply_traced(9, 1, &Command::Txn(ops));
    assert!(!outcome.ok && outcome.lock_changes.is_empty());
    assert_eq!(errors(outcome.txn.expect("txn")), expected);
    assert_eq!(state, before, "rolled back whole");
}

#[test]
fn a_read_only_txn_reads_without_writing() {
    let state = state();
    let ops = vec![op(Get, "a", "", 0, ""), op(CheckIndex, "b/x", "", 6, "")];
    let entries = committed(state.read_txn(&ops));
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].value.as_slice(), entries[1].value.is_empty()),
        (&b"va"[..], true)
    );
    let failed = errors(state.read_txn(&[op(Get, "nope", "", 0, "")]));
    assert_eq!(failed, vec![(0, r#"key "nope" doesn't exist"#.to_string())]);
}

#[test]
fn a_lock_in_a_txn_is_a_lock_change() {
    let mut state = state();
    let ops = vec![op(Lock, "l", "v", 0, "s1"), op(Set, "a", "w", 0, "")];
    let outcome = state.apply_traced(20, 1, &Command::Txn(ops));
    assert_eq!(outcome.lock_changes.len(), 1);
    let change = &outcome.lock_changes[0];
    assert_eq!(
        (change.key.as_str(), change.after.as_deref()),
        ("l", Some("s1"))
    );
    assert_eq!((change.lock_index, change.modify_index), (1, 20));
}
