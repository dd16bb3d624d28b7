//! Random transactions against a plain model of Consul's txn rules: the same answers (entries,
//! or which operations failed), and the same store after each one, all or nothing.

use super::test_support::*;
use super::StateMachine;
use crate::agent::command::Command;
use crate::kv::txn::{TxnOp, TxnOutcome, TxnVerb};
use crate::kv::KvEntry;
use proptest::prelude::*;
use std::collections::BTreeMap;

const KEYS: [&str; 4] = ["a", "a/x", "a/y", "b"];
const SESSIONS: [&str; 3] = ["s1", "s2", "s9"];

type Model = BTreeMap<String, KvEntry>;

/// One operation on the model at `index`: its entries, or `Err` if it fails.
fn model_op(m: &mut Model, op: &TxnOp, index: u64) -> Result<Vec<KvEntry>, ()> {
    let key = op.key.clone();
    let current = m.get(&key).cloned();
    let strip = |e: &KvEntry| KvEntry {
        value: Vec::new(),
        ..e.clone()
    };
    let fresh = || KvEntry {
        key: key.clone(),
        value: op.value.clone(),
        flags: op.flags,
        create_index: index,
        modify_index: index,
        lock_index: 0,
        session: None,
    };
    let write = |m: &mut Model, e: KvEntry| {
        m.insert(e.key.clone(), e.clone());
        Ok(vec![strip(&e)])
    };
    let updated = |e: &KvEntry| KvEntry {
        value: op.value.clone(),
        flags: op.flags,
        modify_index: index,
        ..e.clone()
    };
    let session_ok = op.session == "s1" || op.session == "s2";
    match (op.verb, &current) {
        (TxnVerb::Get, Some(e)) => Ok(vec![e.clone()]),
        (TxnVerb::GetOrEmpty, e) => Ok(vec![e.clone().unwrap_or(KvEntry {
            value: Vec::new(),
            flags: 0,
            create_index: 0,
            modify_index: 0,
            ..fresh()
        })]),
        (TxnVerb::GetTree, _) => Ok(m
            .values()
            .filter(|e| e.key.starts_with(&key))
            .cloned()
            .collect()),
        (TxnVerb::CheckIndex, Some(e)) if e.modify_index == op.index => Ok(vec![strip(e)]),
        (TxnVerb::CheckSession, Some(e)) if e.session.clone().unwrap_or_default() == op.session => {
            Ok(vec![strip(e)])
        }
        (TxnVerb::CheckNotExists, None) => Ok(Vec::new()),
        (TxnVerb::Set, None) => write(m, fresh()),
        (TxnVerb::Set, Some(e)) => write(m, updated(e)),
        (TxnVerb::Cas, None) if op.index == 0 => write(m, fresh()),
        (TxnVerb::Cas, Some(e)) if op.index != 0 && e.modify_index == op.index => {
            write(m, updated(e))
        }
        (TxnVerb::Lock, _) if !session_ok => Err(()),
        (TxnVerb::Lock, None) => write(
            m,
            KvEntry {
                lock_index: 1,
                session: Some(op.session.clone()),
                ..fresh()
            },
        ),
        (TxnVerb::Lock, Some(e))
            if e.session.is_none() || e.session.as_deref() == Some(&op.session) =>
        {
            let lock_index = e.lock_index + u64::from(e.session.is_none());
            write(
                m,
                KvEntry {
                    lock_index,
                    session: Some(op.session.clone()),
                    ..updated(e)
                },
            )
        }
        (TxnVerb::Unlock, Some(e)) if e.session.as_deref() == Some(&op.session) => write(
            m,
            KvEntry {
                session: None,
                ..updated(e)
            },
        ),
        (TxnVerb::Delete, _) => {
            m.remove(&key);
            Ok(Vec::new())
        }
        (TxnVerb::DeleteTree, _) => {
            m.retain(|k, _| !k.starts_with(&key));
            Ok(Vec::new())
        }
        (TxnVerb::DeleteCas, None) => Ok(Vec::new()),
        (TxnVerb::DeleteCas, Some(e)) if e.modify_index == op.index => {
            m.remove(&key);
            Ok(Vec::new())
        }
        _ => Err(()),
    }
}

/// The model's answer: entries, or the indexes of the failed operations (model unchanged).
fn model_txn(m: &mut Model, ops: &[TxnOp], index: u64) -> Result<Vec<KvEntry>, Vec<usize>> {
    let mut staged = m.clone();
    let mut entries = Vec::new();
    let mut failed = Vec::new();
    for (at, op) in ops.iter().enumerate() {
        match model_op(&mut staged, op, index) {
            Ok(answered) => entries.extend(answered),
            Err(()) => failed.push(at),
        }
    }
    if !failed.is_empty() {
        return Err(failed);
    }
    *m = staged;
    Ok(entries)
}

fn arb_op() -> impl Strategy<Value = TxnOp> {
    let index = prop_oneof![Just(0u64), 1u64..8, 20u64..26];
    (
        0..TxnVerb::ALL.len(),
        0..KEYS.len() + 1,
        index,
        0..SESSIONS.len(),
        0u8..3,
    )
        .prop_map(|(verb, key, index, session, value)| TxnOp {
            verb: TxnVerb::ALL[verb],
            // The last choice is the empty key: a get-tree or delete-tree of everything.
            key: KEYS.get(key).copied().unwrap_or("").to_string(),
            value: vec![b'v', value],
            flags: u64::from(value),
            index,
            session: SESSIONS[session].to_string(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_txns_match_the_model(txns in prop::collection::vec(prop::collection::vec(arb_op(), 1..7), 1..6)) {
        let mut state: StateMachine = with_sessions();
        let mut model = Model::new();
        for (n, ops) in txns.into_iter().enumerate() {
            // Indexes 20, 21, ...: the ops' `index` fields sometimes match a modify index.
            let index = 20 + n as u64;
            let before = state.clone();
            let expected = model_txn(&mut model, &ops, index);
            let outcome = state.apply_traced(index, 1, &Command::Txn(ops.clone()));
            match (outcome.txn.expect("txn outcome"), expected) {
                (TxnOutcome::Committed { entries }, Ok(want)) => prop_assert_eq!(entries, want),
                (TxnOutcome::Failed { errors }, Err(want)) => {
                    let got: Vec<usize> = errors.iter().map(|e| e.op_index).collect();
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(&state, &before);
                }
                (got, want) => prop_assert!(false, "{ops:?}: got {got:?}, model {want:?}"),
            }
            prop_assert_eq!(state.kv().list(""), model.values().cloned().collect::<Vec<_>>());
            prop_assert_eq!(state.check_invariants(), Ok(()));
        }
    }
}
