//! The guarantee left to "stale" reads (`?stale`): any server answers from its own state, and
//! each server's state is a prefix of the one Raft log that only grows. So the reads a client
//! makes of one server never go back: once it saw the value written at index i, it never
//! again sees a value whose writes all precede i. (Across servers they may go back: a caller
//! whose clients switch servers should number each (client, server) pair as its own client.)
//!
//! Writes are ordered by the Raft index they were acknowledged at (`Operation::index`), and a
//! value read is traced to the write(s) that wrote it: values should be unique per key (a
//! value written several times is only known to come from one of them, which weakens the
//! check but keeps it sound). A write whose index is unknown (unknown outcome, or not
//! reported) may be anywhere in the log, so reading its value never counts as going back.

use std::collections::BTreeMap;

use super::explain::show_value;
use super::history::{KvOp, KvOutcome, Operation};

/// The write indexes a (key, value) may have been written at: absent is written at 0 (every
/// key starts absent) or by a delete.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    low: u64,
    high: u64,
}

type Written<'h> = BTreeMap<(&'h str, Option<&'h [u8]>), Bounds>;
/// A read with its position in the history and the bounds of what it saw.
type Read<'h> = (usize, &'h Operation, Bounds);

/// Checks every get in `history` (pass the stale reads, and every write): per client and
/// key, a read that starts after another read returned never sees an older write than it.
/// Also flags reads of a value no write of the key ever wrote. Returns the violations, empty
/// if none: reads of unwritten values in history order, then reads that went back in
/// (client, key, invoke) order.
pub fn check_stale_reads_monotonic(history: &[Operation]) -> Vec<String> {
    let written = written(history);
    let mut reads: BTreeMap<(u64, &str), Vec<Read>> = BTreeMap::new();
    let mut violations = Vec::new();
    for (id, op) in history.iter().enumerate() {
        let (KvOp::Get { key }, KvOutcome::Value(value)) = (&op.op, &op.outcome) else {
            continue;
        };
        match written.get(&(key.as_str(), value.as_deref())) {
            Some(bounds) => reads
                .entry((op.client, key))
                .or_default()
                .push((id, op, *bounds)),
            None => violations.push(format!(
                "stale read #{id} by client {} of key {key:?} saw {}, which no write wrote",
                op.client,
                show_value(value.as_deref())
            )),
        }
    }
    for ((client, key), client_reads) in &mut reads {
        check_client_key(*client, key, client_reads, &mut violations);
    }
    violations
}

/// Where each (key, value) may have been written, from every write that may have happened.
fn written(history: &[Operation]) -> Written<'_> {
    let mut written: Written = BTreeMap::new();
    for op in history {
        let none: Option<&[u8]> = None;
        let initial = Bounds { low: 0, high: 0 };
        written.entry((op.op.key(), none)).or_insert(initial);
        let value = match &op.op {
            KvOp::Put { value, .. } | KvOp::Cas { value, .. } => Some(value.as_slice()),
            KvOp::Delete { .. } | KvOp::DeleteCas { .. } => None,
            KvOp::Get { .. } => continue,
        };
        let index = match (&op.outcome, op.index) {
            (KvOutcome::Ok, Some(index)) => Some(index),
            (KvOutcome::Ok | KvOutcome::Unknown, _) => None,
            (KvOutcome::Rejected | KvOutcome::Failed | KvOutcome::Value(_), _) => continue,
        };
        // Unknown index: anywhere in the log, so it neither raises nor lowers anything.
        let (low, high) = index.map_or((0, u64::MAX), |i| (i, i));
        let bounds = written
            .entry((op.op.key(), value))
            .or_insert(Bounds { low, high });
        bounds.low = bounds.low.min(low);
        bounds.high = bounds.high.max(high);
    }
    written
}

/// One client's reads of one key: each must not be older than any it saw return before.
fn check_client_key(client: u64, key: &str, reads: &mut [Read], violations: &mut Vec<String>) {
    let mut by_return: Vec<Read> = reads.to_vec();
    by_return.sort_by_key(|(id, op, _)| (op.return_ms, *id));
    reads.sort_by_key(|(id, op, _)| (op.invoke_ms, *id));
    // The newest write seen by a read returned so far: (its lowest index, that read's id).
    let mut floor: Option<(u64, usize)> = None;
    let mut returned = by_return.iter().peekable();
    for (id, op, bounds) in reads.iter() {
        // Strictly before: a return and an invoke in the same millisecond are unordered.
        while let Some((seen_id, _, seen)) =
            returned.next_if(|(_, r, _)| r.return_ms < op.invoke_ms)
        {
            if floor.is_none_or(|(low, _)| seen.low > low) {
                floor = Some((seen.low, *seen_id));
            }
        }
        if let Some((low, seen_id)) = floor.filter(|(low, _)| bounds.high < *low) {
            violations.push(format!(
                "stale read #{id} by client {client} of key {key:?} at {} ms went back: it saw \
                 a value written at index {} at the latest, after read #{seen_id} had seen one \
                 written at index {low} at the earliest",
                op.invoke_ms, bounds.high
            ));
        }
    }
}
