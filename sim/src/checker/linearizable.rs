//! The history, as clients saw it, checked against a single copy of the store: consistent reads
//! and writes must be linearizable; stale reads of one server (between its restarts) must never
//! go back. Default-mode reads are not checked: like Consul's, they may be stale for a moment
//! after a leader is cut off (see README).

use crate::history::{History, Operation};
use crate::linearizability::{self as lin, KvOp, KvOutcome, Verdict};
use concord_core::agent::{ApiError, ApiResult, Consistency, Request, Response};
use concord_core::kv::KvCommand;
use std::collections::{BTreeMap, BTreeSet};

/// `servers`: the stale-read check covers reads sent to servers (a client agent forwards each
/// stale read to any server, so its answers may go back, as Consul's do).
pub fn check(history: &History, servers: &BTreeSet<String>) -> Vec<String> {
    let mut violations = Vec::new();
    let consistent: Vec<lin::Operation> = history
        .operations
        .iter()
        .filter_map(|op| convert(op, false))
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
    violations.extend(check_stale(history, servers));
    violations
}

/// Stale reads per (client, server, epoch), with every write to order them.
fn check_stale(history: &History, servers: &BTreeSet<String>) -> Vec<String> {
    let mut readers: BTreeMap<(u64, String, u64), u64> = BTreeMap::new();
    let mut ops = Vec::new();
    for op in &history.operations {
        let Some(mut converted) = convert(op, true) else {
            continue;
        };
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
    lin::check_stale_reads_monotonic(&ops)
        .into_iter()
        .map(|v| format!("stale reads went back: {v}"))
        .collect()
}

/// The checker's view of one operation: writes always; reads of the wanted consistency.
fn convert(op: &Operation, stale: bool) -> Option<lin::Operation> {
    let (kv_op, outcome, index) = match &op.request {
        Request::KvWrite {
            command: KvCommand::Set { key, value, .. },
        } => {
            let (outcome, index) = write_outcome(&op.result);
            (
                KvOp::Put {
                    key: key.clone(),
                    value: value.clone(),
                },
                outcome,
                index,
            )
        }
        Request::KvWrite {
            command: KvCommand::Delete { key },
        } => {
            let (outcome, index) = write_outcome(&op.result);
            (KvOp::Delete { key: key.clone() }, outcome, index)
        }
        Request::KvGet { key, consistency }
            if (*consistency == Consistency::Stale) == stale
                && *consistency != Consistency::Default =>
        {
            (
                KvOp::Get { key: key.clone() },
                read_outcome(&op.result),
                None,
            )
        }
        _ => return None,
    };
    let return_ms = if outcome == KvOutcome::Unknown {
        u64::MAX
    } else {
        op.return_ms
    };
    let converted = lin::Operation::new(op.client, kv_op, outcome, op.invoke_ms, return_ms);
    Some(match index {
        Some(i) => converted.at_index(i),
        None => converted,
    })
}

/// A write that timed out, or whose agent died before answering, may or may not have
/// happened; any other error means it was refused before it was proposed.
fn write_outcome(result: &ApiResult) -> (KvOutcome, Option<u64>) {
    match result {
        Ok(Response::KvWritten {
            applied: true,
            index,
        }) => (KvOutcome::Ok, Some(*index)),
        Ok(_) => (KvOutcome::Failed, None),
        Err(ApiError::Timeout) => (KvOutcome::Unknown, None),
        Err(ApiError::Unavailable(why)) if why.contains("shutting down") => {
            (KvOutcome::Unknown, None)
        }
        Err(_) => (KvOutcome::Failed, None),
    }
}

fn read_outcome(result: &ApiResult) -> KvOutcome {
    match result {
        Ok(Response::Kv { entries, .. }) => {
            KvOutcome::Value(entries.first().map(|e| e.value.clone()))
        }
        _ => KvOutcome::Failed,
    }
}
