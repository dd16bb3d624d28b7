//! Transactions are all or nothing, judged at the end from the history: every write of the
//! txn load sets all of `t0..t2` to one value in one transaction, so every transaction that
//! read them (and was answered 200) must see all three absent or all three with one value
//! and flags; and no value of a transaction answered 409 may ever be read.

use crate::history::{History, Operation};
use crate::txn_load::txn_keys;
use concord_core::agent::{Request, Response};
use concord_core::kv::txn::{TxnOp, TxnOutcome, TxnVerb};
use concord_core::kv::KvEntry;
use std::collections::BTreeSet;

/// A stored value as compared here: bytes and flags.
type Value = (Vec<u8>, u64);

pub fn check(history: &History) -> Vec<String> {
    let refused = refused_values(history);
    let mut violations = Vec::new();
    for op in &history.operations {
        let Some(entries) = read_entries(op) else {
            continue;
        };
        let seen: Vec<Option<Value>> = txn_keys()
            .iter()
            .map(|key| entries.iter().find(|e| &e.key == key).map(value_of))
            .collect();
        let all_equal = seen.windows(2).all(|pair| pair[0] == pair[1]);
        if !all_equal {
            violations.push(format!(
                "txn not atomic: c{} on {} read at {}..{} ms {}",
                op.client,
                op.node,
                op.invoke_ms,
                op.return_ms,
                describe(&seen)
            ));
        }
        if let Some(value) = seen.iter().flatten().find(|v| refused.contains(*v)) {
            violations.push(format!(
                "txn not atomic: c{} on {} read at {}..{} ms {:?}, written only by a \
                 transaction answered 409",
                op.client,
                op.node,
                op.invoke_ms,
                op.return_ms,
                String::from_utf8_lossy(&value.0)
            ));
        }
    }
    violations
}

/// The entries of a transaction of only `get-tree` reads that was answered 200.
fn read_entries(op: &Operation) -> Option<&Vec<KvEntry>> {
    let (Request::Txn { ops, .. }, Ok(Response::Txn { outcome, .. })) = (&op.request, &op.result)
    else {
        return None;
    };
    let TxnOutcome::Committed { entries } = outcome else {
        return None;
    };
    ops.iter()
        .all(|o| o.verb == TxnVerb::GetTree)
        .then_some(entries)
}

/// Values written by transactions answered 409: they must never be seen.
fn refused_values(history: &History) -> BTreeSet<Value> {
    let written = |o: &TxnOp| matches!(o.verb, TxnVerb::Set | TxnVerb::Cas);
    history
        .operations
        .iter()
        .filter_map(|op| match (&op.request, &op.result) {
            (
                Request::Txn { ops, .. },
                Ok(Response::Txn {
                    outcome: TxnOutcome::Failed { .. },
                    ..
                }),
            ) => Some(ops),
            _ => None,
        })
        .flat_map(|ops| ops.iter().filter(|o| written(o)))
        .map(|o| (o.value.clone(), o.flags))
        .collect()
}

fn value_of(entry: &KvEntry) -> Value {
    (entry.value.clone(), entry.flags)
}

fn describe(seen: &[Option<Value>]) -> String {
    let keys = txn_keys();
    let shown: Vec<String> = keys
        .iter()
        .zip(seen)
        .map(|(key, value)| match value {
            Some((bytes, flags)) => {
                format!("{key}={:?}/{flags}", String::from_utf8_lossy(bytes))
            }
            None => format!("{key}=absent"),
        })
        .collect();
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn_load::{txn_op, TXN_KEY_PREFIX};
    use concord_core::agent::{ApiResult, Consistency, QueryMeta};
    use concord_core::kv::txn::TxnError;

    fn entry(key: &str, value: &str) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            flags: 7,
            create_index: 3,
            modify_index: 3,
            lock_index: 0,
            session: None,
        }
    }

    fn operation(ops: Vec<TxnOp>, result: ApiResult) -> Operation {
        Operation {
            client: 1,
            node: "s1".into(),
            request: Request::Txn {
                ops,
                consistency: Consistency::Consistent,
            },
            result,
            invoke_ms: 10,
            return_ms: 20,
            epoch: 0,
        }
    }

    fn read(entries: Vec<KvEntry>) -> Operation {
        let ops = vec![txn_op(TxnVerb::GetTree, TXN_KEY_PREFIX, b"", 0)];
        let outcome = TxnOutcome::Committed { entries };
        let meta = Some(QueryMeta::default());
        let response = Response::Txn {
            outcome,
            index: 0,
            meta,
        };
        operation(ops, Ok(response))
    }

    /// A read that saw a transaction's write on two keys but not the third (a planted split)
    /// is caught; all three equal, or all absent, is not.
    #[test]
    fn a_read_of_a_split_transaction_is_caught() {
        let whole = read(vec![entry("t0", "a"), entry("t1", "a"), entry("t2", "a")]);
        let empty = read(vec![]);
        let history = History {
            operations: vec![whole, empty],
        };
        assert_eq!(check(&history), Vec::<String>::new());
        let split = read(vec![entry("t0", "b"), entry("t1", "b"), entry("t2", "a")]);
        let history = History {
            operations: vec![split],
        };
        let violations = check(&history);
        assert!(
            violations.len() == 1 && violations[0].contains("t2=\"a\"/7"),
            "{violations:?}"
        );
    }

    /// A value of a transaction refused with 409 that a read returns is caught.
    #[test]
    fn a_read_of_a_refused_transaction_is_caught() {
        let ops = ["t0", "t1", "t2"]
            .map(|k| txn_op(TxnVerb::Set, k, b"x", 7))
            .to_vec();
        let errors = vec![TxnError {
            op_index: 0,
            what: "failed to set key \"t0\", index is stale".into(),
        }];
        let refused = operation(
            ops,
            Ok(Response::Txn {
                outcome: TxnOutcome::Failed { errors },
                index: 0,
                meta: None,
            }),
        );
        let seen = read(vec![entry("t0", "x"), entry("t1", "x"), entry("t2", "x")]);
        let history = History {
            operations: vec![refused, seen],
        };
        let violations = check(&history);
        assert!(
            violations.len() == 1 && violations[0].contains("409"),
            "{violations:?}"
        );
    }
}
