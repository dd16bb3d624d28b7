//! The history, as clients saw it, checked against a single copy of the store: consistent reads
//! and writes must be linearizable; stale reads of one server (between its restarts) must never
//! go back. Default-mode reads are not checked: like Consul's, they may be stale for a moment
//! after a leader is cut off (see README). A transaction is one operation over several keys:
//! its projection on each key (`txn_ops`) is checked with that key's other operations.

use crate::history::{History, Operation};
use crate::linearizability::{self as lin, KvOp, KvOutcome, Verdict};
use crate::locks::is_lock_key;
use concord_core::agent::{ApiError, ApiResult, Consistency, Request, Response};
use concord_core::kv::txn::{TxnOp, TxnOutcome, TxnVerb};
use concord_core::kv::KvCommand;
use std::collections::{BTreeMap, BTreeSet};

/// `servers`: the stale-read check covers reads sent to servers (a client agent forwards each
/// stale read to any server, so its answers may go back, as Consul's do).
pub fn check(history: &History, servers: &BTreeSet<String>) -> Vec<String> {
    let mut violations = Vec::new();
    let keys = keys_of(history);
    let consistent: Vec<lin::Operation> = history
        .operations
        .iter()
        .flat_map(|op| convert(op, false, &keys))
        .collect();
    match lin::check(&consistent) {
        Verdict::Linearizable => {}
        Verdict::NotLinearizable { key, explanation } => {
            violations.push(format!("not linearizable: key {key}\n{explanation}"));
        }
        Verdict::Unknown { key, reason } => {
            println!("linearizability of key {key} unknown: {reason}")
        }
    }
    violations.extend(check_stale(history, servers, &keys));
    violations
}

/// Every key an operation names: what a recursive delete may have deleted (a key no operation
/// names is never read, so it cannot matter). A transaction names the keys of its operations
/// that are not prefixes.
fn keys_of(history: &History) -> BTreeSet<String> {
    let keys = |op: &Operation| match &op.request {
        Request::KvWrite {
            command: KvCommand::DeleteTree { .. },
        } => vec![],
        Request::KvWrite { command } => vec![command.key().to_string()],
        Request::KvGet { key, .. } => vec![key.clone()],
        Request::Txn { ops, .. } => ops
            .iter()
            .filter(|o| !matches!(o.verb, TxnVerb::GetTree | TxnVerb::DeleteTree))
            .map(|o| o.key.clone())
            .collect(),
        _ => vec![],
    };
    history.operations.iter().flat_map(keys).collect()
}

/// Stale reads per (client, server, epoch), with every write to order them.
fn check_stale(
    history: &History,
    servers: &BTreeSet<String>,
    keys: &BTreeSet<String>,
) -> Vec<String> {
    let mut readers: BTreeMap<(u64, String, u64), u64> = BTreeMap::new();
    let mut ops = Vec::new();
    for op in &history.operations {
        for mut converted in convert(op, true, keys) {
            if matches!(converted.op, KvOp::Get { .. }) {
                if !servers.contains(&op.node) {
                    continue;
                }
                let next = readers.len() as u64 + 1;
                converted.client = *readers
                    .entry((op.client, op.node.clone(), op.epoch))
                    .or_insert(next);
            }
            ops.push(converted);
        }
    }
    lin::check_stale_reads_monotonic(&ops)
        .into_iter()
        .map(|v| format!("stale reads went back: {v}"))
        .collect()
}

/// The checker's view of one operation: writes always; reads of the wanted consistency. A
/// recursive delete becomes a delete of each known key under its prefix, at the same times:
/// the checker splits histories per key, and the projection of an atomic multi-key delete on
/// each key is exactly a delete of that key (sound; its atomicity across keys is not checked).
/// A value stands with its flags, so a read that returns the wrong flags reads another value.
fn convert(op: &Operation, stale: bool, keys: &BTreeSet<String>) -> Vec<lin::Operation> {
    let (kv_ops, outcome, index) = match &op.request {
        Request::KvWrite { command } => {
            let (outcome, index) = write_outcome(&op.result);
            (write_ops(command, keys), outcome, index)
        }
        Request::Txn { ops, consistency } => return txn_ops(op, ops, *consistency, stale, keys),
        // Lock keys are written by session invalidation too, which no client op records.
        Request::KvGet { key, .. } if is_lock_key(key) => return Vec::new(),
        Request::KvGet { key, consistency }
            if (*consistency == Consistency::Stale) == stale
                && *consistency != Consistency::Default =>
        {
            let get = KvOp::Get { key: key.clone() };
            (vec![get], read_outcome(&op.result), None)
        }
        _ => return Vec::new(),
    };
    let conditional = kv_ops
        .iter()
        .any(|o| matches!(o, KvOp::Cas { .. } | KvOp::DeleteCas { .. }));
    let outcome = match outcome {
        // A cas that was not applied is a rejected cas, not a failed write.
        KvOutcome::Failed if conditional && op.result.is_ok() => KvOutcome::Rejected,
        other => other,
    };
    placed(op, kv_ops, outcome, index)
}

/// The checker's operations for `kv_ops`, all at `op`'s client and times (an unknown outcome
/// may take effect any time after the invoke), at `index` when the answer named one.
fn placed(
    op: &Operation,
    kv_ops: Vec<KvOp>,
    outcome: KvOutcome,
    index: Option<u64>,
) -> Vec<lin::Operation> {
    let return_ms = match outcome {
        KvOutcome::Unknown => u64::MAX,
        _ => op.return_ms,
    };
    let at = |kv_op: KvOp| {
        let converted =
            lin::Operation::new(op.client, kv_op, outcome.clone(), op.invoke_ms, return_ms);
        match index {
            Some(i) => converted.at_index(i),
            None => converted,
        }
    };
    kv_ops.into_iter().map(at).collect()
}

/// A write command as the checker's operations (one per key it touches).
fn write_ops(command: &KvCommand, keys: &BTreeSet<String>) -> Vec<KvOp> {
    let op = match command {
        KvCommand::Set { key, value, flags } => KvOp::Put {
            key: key.clone(),
            value: with_flags(value, *flags),
        },
        KvCommand::Delete { key } => KvOp::Delete { key: key.clone() },
        KvCommand::Cas {
            key,
            value,
            flags,
            modify_index,
        } => KvOp::Cas {
            key: key.clone(),
            value: with_flags(value, *flags),
            expect_modify_index: *modify_index,
        },
        KvCommand::DeleteCas { key, modify_index } => KvOp::DeleteCas {
            key: key.clone(),
            expect_modify_index: *modify_index,
        },
        KvCommand::DeleteTree { prefix } => {
            let under = keys.iter().filter(|k| k.starts_with(prefix.as_str()));
            return under.map(|key| KvOp::Delete { key: key.clone() }).collect();
        }
        // Lock keys are also written by session invalidation, which no client op records.
        KvCommand::Lock { .. } | KvCommand::Unlock { .. } => return Vec::new(),
    };
    vec![op]
}

/// A transaction's projection on each key it touches, at the transaction's invoke and return
/// times (and, once applied, its log index, every key's ModifyIndex after it):
///
/// - writes (a transaction with any write verb): set -> put, cas -> cas, delete -> delete,
///   delete-cas -> delete-cas, delete-tree -> a delete of each known key under the prefix;
///   applied (200) -> done; refused (409, or refused before it was proposed) -> dropped,
///   nothing happened; any other error -> each write may or may not have happened. Its reads
///   are not projected (they see the transaction's own earlier writes).
/// - reads (a transaction of only read verbs), consistent ones only: get -> a read of what it
///   returned, check-not-exists -> a read of nothing, get-tree -> a read of each known key under
///   the prefix (absent if not returned); answered 200 -> checked, otherwise dropped.
///
/// Lock and unlock verbs, and lock keys, are left out (as single-key lock writes are).
pub fn txn_ops(
    op: &Operation,
    ops: &[TxnOp],
    consistency: Consistency,
    stale: bool,
    keys: &BTreeSet<String>,
) -> Vec<lin::Operation> {
    let read_only = ops.iter().all(|o| o.verb.is_read());
    let (kv_ops, outcome, index) = match (&op.result, read_only) {
        (Ok(Response::Txn { outcome, .. }), true) => {
            let TxnOutcome::Committed { entries } = outcome else {
                return Vec::new();
            };
            if stale || consistency != Consistency::Consistent {
                return Vec::new();
            }
            return txn_reads(op, ops, entries, keys);
        }
        (_, true) => return Vec::new(),
        (Ok(Response::Txn { outcome, index, .. }), false) => match outcome {
            TxnOutcome::Committed { .. } => (txn_writes(ops, keys), KvOutcome::Ok, Some(*index)),
            TxnOutcome::Failed { .. } => return Vec::new(),
        },
        (Ok(_), false) => return Vec::new(),
        (Err(error), false) if refused_before_proposal(error) => return Vec::new(),
        (Err(_), false) => (txn_writes(ops, keys), KvOutcome::Unknown, None),
    };
    placed(op, kv_ops, outcome, index)
}

/// The writes of a transaction, one per key (per known key under a deleted prefix).
fn txn_writes(ops: &[TxnOp], keys: &BTreeSet<String>) -> Vec<KvOp> {
    let mut written = Vec::new();
    for o in ops.iter().filter(|o| !is_lock_key(&o.key)) {
        let key = o.key.clone();
        match o.verb {
            TxnVerb::Set => written.push(KvOp::Put {
                key,
                value: with_flags(&o.value, o.flags),
            }),
            TxnVerb::Cas => written.push(KvOp::Cas {
                key,
                value: with_flags(&o.value, o.flags),
                expect_modify_index: o.index,
            }),
            TxnVerb::Delete => written.push(KvOp::Delete { key }),
            TxnVerb::DeleteCas => written.push(KvOp::DeleteCas {
                key,
                expect_modify_index: o.index,
            }),
            TxnVerb::DeleteTree => written.extend(
                keys.iter()
                    .filter(|k| k.starts_with(o.key.as_str()) && !is_lock_key(k))
                    .map(|k| KvOp::Delete { key: k.clone() }),
            ),
            _ => {}
        }
    }
    written
}

/// The reads of a read-only transaction answered 200, with what each returned.
fn txn_reads(
    op: &Operation,
    ops: &[TxnOp],
    entries: &[concord_core::kv::KvEntry],
    keys: &BTreeSet<String>,
) -> Vec<lin::Operation> {
    let found = |key: &str| {
        let entry = entries.iter().find(|e| e.key == key);
        KvOutcome::Value(entry.map(|e| with_flags(&e.value, e.flags)))
    };
    let mut reads = Vec::new();
    for o in ops.iter().filter(|o| !is_lock_key(&o.key)) {
        match o.verb {
            TxnVerb::Get => reads.push((o.key.clone(), found(&o.key))),
            TxnVerb::CheckNotExists => reads.push((o.key.clone(), KvOutcome::Value(None))),
            TxnVerb::GetTree => reads.extend(
                keys.iter()
                    .filter(|k| k.starts_with(o.key.as_str()) && !is_lock_key(k))
                    .map(|k| (k.clone(), found(k))),
            ),
            _ => {}
        }
    }
    let read = |(key, outcome): (String, KvOutcome)| {
        let get = KvOp::Get { key };
        lin::Operation::new(op.client, get, outcome, op.invoke_ms, op.return_ms)
    };
    reads.into_iter().map(read).collect()
}

/// A stored value as the checker compares it: the bytes, and the flags if any.
fn with_flags(value: &[u8], flags: u64) -> Vec<u8> {
    match flags {
        0 => value.to_vec(),
        flags => [value, format!(" flags={flags}").as_bytes()].concat(),
    }
}

/// A write refused before it was proposed never happened; any other error (a timeout, an
/// agent that died, or one not known here, such as an error added later) may or may not have.
fn write_outcome(result: &ApiResult) -> (KvOutcome, Option<u64>) {
    match result {
        Ok(Response::KvWritten {
            applied: true,
            index,
        }) => (KvOutcome::Ok, Some(*index)),
        Ok(_) => (KvOutcome::Failed, None),
        Err(error) if refused_before_proposal(error) => (KvOutcome::Failed, None),
        Err(_) => (KvOutcome::Unknown, None),
    }
}

/// Unavailable reasons given only before a write is proposed: a forwarding loop, and Raft's
/// refusals to propose (overload comes as `RateLimited`, which says so itself).
const REFUSALS_BEFORE_PROPOSAL: &[&str] = &[
    "too many forwarding hops",
    "forwarded requests go to servers",
    "leadership transfer in progress",
    "configuration change is already in progress",
    "leader has not committed an entry of its term yet",
    // An acquire or a txn lock on a leader not caught up with its term (`lock_delay.rs`).
    "leader is catching up",
];

/// Whether `error` says the write was never proposed (and so can never be applied).
fn refused_before_proposal(error: &ApiError) -> bool {
    match error {
        ApiError::NoLeader
        | ApiError::NoServers
        | ApiError::Kv(_)
        | ApiError::BadRequest(_)
        | ApiError::LeadershipLost
        | ApiError::RateLimited(_) => true,
        ApiError::Unavailable(why) => REFUSALS_BEFORE_PROPOSAL.iter().any(|r| why.contains(r)),
        _ => false,
    }
}

fn read_outcome(result: &ApiResult) -> KvOutcome {
    match result {
        Ok(Response::Kv { entries, .. }) => {
            KvOutcome::Value(entries.first().map(|e| with_flags(&e.value, e.flags)))
        }
        _ => KvOutcome::Failed,
    }
}

#[cfg(test)]
#[path = "linearizable_txn_tests.rs"]
mod txn_tests;
