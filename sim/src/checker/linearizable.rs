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
/// names is never read, so it cannot matter).
fn keys_of(history: &History) -> BTreeSet<String> {
    let key = |op: &Operation| match &op.request {
        Request::KvWrite {
            command: KvCommand::DeleteTree { .. },
        } => None,
        Request::KvWrite { command } => Some(command.key().to_string()),
        Request::KvGet { key, .. } => Some(key.clone()),
        _ => None,
    };
    history.operations.iter().filter_map(key).collect()
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
    let return_ms = if outcome == KvOutcome::Unknown {
        u64::MAX
    } else {
        op.return_ms
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
