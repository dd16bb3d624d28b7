//! The projection of transactions on their keys (`txn_ops`), judged by the whole check: each
//! of these histories was "linearizable" before transactions were projected (they were left
//! out), so the violations below fail on that code.

use super::check;
use crate::history::{History, Operation};
use crate::txn_load::{txn_op, TXN_KEY_PREFIX};
use concord_core::agent::{ApiError, ApiResult, Consistency, QueryMeta, Request, Response};
use concord_core::kv::txn::{TxnError, TxnOp, TxnOutcome, TxnVerb};
use concord_core::kv::KvEntry;
use std::collections::BTreeSet;

fn entry(key: &str, value: &str, index: u64) -> KvEntry {
    KvEntry {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
        create_index: index,
        modify_index: index,
        lock_index: 0,
        session: None,
    }
}

fn txn(ops: Vec<TxnOp>, consistency: Consistency, result: ApiResult, at: (u64, u64)) -> Operation {
    Operation {
        client: 1,
        node: "s1".into(),
        request: Request::Txn { ops, consistency },
        result,
        invoke_ms: at.0,
        return_ms: at.1,
        epoch: 0,
    }
}

/// `set t0,t1,t2 = value`, answered as `result`.
fn group_write(value: &str, result: ApiResult, at: (u64, u64)) -> Operation {
    let ops = ["t0", "t1", "t2"]
        .map(|k| txn_op(TxnVerb::Set, k, value.as_bytes(), 0))
        .to_vec();
    txn(ops, Consistency::Default, result, at)
}

fn committed(index: u64) -> ApiResult {
    let outcome = TxnOutcome::Committed {
        entries: Vec::new(),
    };
    Ok(Response::Txn {
        outcome,
        index,
        meta: None,
    })
}

/// A `get-tree t` that saw `entries`.
fn read(entries: Vec<KvEntry>, consistency: Consistency, at: (u64, u64)) -> Operation {
    let ops = vec![txn_op(TxnVerb::GetTree, TXN_KEY_PREFIX, b"", 0)];
    let outcome = TxnOutcome::Committed { entries };
    let meta = Some(QueryMeta::default());
    let result = Ok(Response::Txn {
        outcome,
        index: 0,
        meta,
    });
    txn(ops, consistency, result, at)
}

fn violations(operations: Vec<Operation>) -> Vec<String> {
    check(&History { operations }, &BTreeSet::from(["s1".to_string()]))
}

fn all(value: &str, index: u64) -> Vec<KvEntry> {
    ["t0", "t1", "t2"].map(|k| entry(k, value, index)).to_vec()
}

/// A consistent read after a committed write must see it, on every key of the write.
#[test]
fn a_consistent_txn_read_that_misses_a_committed_txn_write_is_caught() {
    let ok = vec![
        group_write("a", committed(5), (0, 10)),
        read(all("a", 5), Consistency::Consistent, (20, 30)),
    ];
    assert_eq!(violations(ok), Vec::<String>::new());
    let missed = vec![
        group_write("a", committed(5), (0, 10)),
        read(Vec::new(), Consistency::Consistent, (20, 30)),
    ];
    let found = violations(missed);
    assert!(
        found.len() == 1 && found[0].contains("not linearizable: key t0"),
        "{found:?}"
    );
    // A stale read-only transaction promises nothing of the kind.
    let stale = vec![
        group_write("a", committed(5), (0, 10)),
        read(Vec::new(), Consistency::Stale, (20, 30)),
    ];
    assert_eq!(violations(stale), Vec::<String>::new());
}

/// A transaction refused with 409 never happened; one that timed out may have.
#[test]
fn a_refused_txn_never_happened_a_timed_out_one_may_have() {
    let errors = vec![TxnError {
        op_index: 0,
        what: "failed to set key \"t0\", index is stale".into(),
    }];
    let refused = Ok(Response::Txn {
        outcome: TxnOutcome::Failed { errors },
        index: 0,
        meta: None,
    });
    let seen_refused = vec![
        group_write("x", refused, (0, 10)),
        read(all("x", 5), Consistency::Consistent, (20, 30)),
    ];
    let found = violations(seen_refused);
    assert!(
        !found.is_empty() && found[0].contains("not linearizable"),
        "{found:?}"
    );
    let seen_timed_out = vec![
        group_write("x", Err(ApiError::Timeout), (0, 8_000)),
        read(all("x", 5), Consistency::Consistent, (9_000, 9_010)),
    ];
    assert_eq!(violations(seen_timed_out), Vec::<String>::new());
}

/// A cas inside a transaction is decided by the index the earlier transaction applied at.
#[test]
fn a_txn_cas_is_decided_by_the_txn_index() {
    let mut cas_ops = ["t0", "t1", "t2"]
        .map(|k| txn_op(TxnVerb::Set, k, b"b", 0))
        .to_vec();
    cas_ops[0].verb = TxnVerb::Cas;
    cas_ops[0].index = 4;
    let history = vec![
        group_write("a", committed(5), (0, 10)),
        // Applied with a stale index (4, not 5): impossible.
        txn(cas_ops, Consistency::Default, committed(9), (20, 30)),
    ];
    let found = violations(history);
    assert!(found.len() == 1 && found[0].contains("key t0"), "{found:?}");
}
