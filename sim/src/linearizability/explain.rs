//! The readable account of a violation: the key's operations sorted by invoke, the longest
//! linearizable prefix the search found, and why each operation that could come next cannot.

use std::fmt::Write;

use super::bitset::Bitset;
use super::history::{KvOp, KvOutcome, Operation};
use super::model::{step, KeyState, Refusal};
use super::partition::{Action, KeyHistory, KeyOp, RETURN_NEVER};
use super::search::{enabled, Step};
use super::tally::Tally;

/// Operations listed at most, so a long history gives a bounded report.
const EXPLANATION_OPS_MAX: usize = 200;
/// Last steps of the prefix listed at most (the end is where it went wrong).
const PREFIX_SHOWN_MAX: usize = 50;
/// Reads named at most in one reason.
const READERS_SHOWN_MAX: usize = 10;
/// Bytes of a value shown at most.
const VALUE_SHOWN_BYTES_MAX: usize = 32;

pub(crate) fn explain(history: &[Operation], h: &KeyHistory, best: &[Step]) -> String {
    let mut out = format!("key {:?}: no linearization of its operations.\n", h.key);
    list_ops(&mut out, history, h);
    let _ = writeln!(
        out,
        "Longest linearizable prefix found: {} operation{}{}",
        best.len(),
        if best.len() == 1 { "" } else { "s" },
        if best.is_empty() { "." } else { ":" }
    );
    let skipped = best.len().saturating_sub(PREFIX_SHOWN_MAX);
    if skipped > 0 {
        let _ = writeln!(out, "  ... {skipped} earlier");
    }
    for (op, state) in &best[skipped..] {
        let shown = describe(history, &h.ops[*op]);
        let _ = writeln!(out, "  {shown}  => {}", show_state(h, *state));
    }
    explain_stuck(&mut out, history, h, best);
    out
}

/// The account of a read of a value that no operation of its key writes.
pub(crate) fn explain_unwritten(history: &[Operation], h: &KeyHistory, read: usize) -> String {
    let mut out = format!(
        "key {:?}: {} saw a value that no operation of the key writes \
         (operations that failed do not count).\n",
        h.key,
        describe(history, &h.ops[read])
    );
    list_ops(&mut out, history, h);
    out
}

/// The key's operations, sorted by invoke, at most `EXPLANATION_OPS_MAX` of them.
fn list_ops(out: &mut String, history: &[Operation], h: &KeyHistory) {
    let _ = writeln!(
        out,
        "Its {} operations, sorted by invoke (#position in the history, [invoke, return] in ms):",
        h.ops.len()
    );
    for op in h.ops.iter().take(EXPLANATION_OPS_MAX) {
        let _ = writeln!(out, "  {}", describe(history, op));
    }
    if h.ops.len() > EXPLANATION_OPS_MAX {
        let _ = writeln!(out, "  ... and {} more", h.ops.len() - EXPLANATION_OPS_MAX);
    }
}

/// Why no operation can extend the prefix.
fn explain_stuck(out: &mut String, history: &[Operation], h: &KeyHistory, best: &[Step]) {
    let state = best.last().map_or(KeyState::ABSENT, |(_, state)| *state);
    let mut linearized = Bitset::new(h.ops.len());
    for (op, _) in best {
        linearized.insert(*op);
    }
    let _ = writeln!(
        out,
        "After it the key is {}, and no operation can come next:",
        show_state(h, state)
    );
    let next = enabled(h, &linearized);
    for op in &next {
        let why = why_not(h, &linearized, state, *op);
        let _ = writeln!(out, "  {}: {why}", describe(history, &h.ops[*op]));
    }
    let blocked = h.ops.iter().enumerate().filter(|(i, op)| {
        // A completed operation that must come later: it was invoked after another returned.
        op.required && !linearized.contains(*i) && !next.contains(i)
    });
    if let Some((_, op)) = blocked.min_by_key(|(_, op)| op.invoke) {
        let _ = writeln!(
            out,
            "  (and the rest, from {}, started after one of these returned)",
            describe(history, op)
        );
    }
}

/// Why operation `op` cannot extend the prefix that linearized `linearized`, ending in `state`.
fn why_not(h: &KeyHistory, linearized: &Bitset, state: KeyState, op: usize) -> String {
    let next = match step(state, h.ops[op].action, h.track_index) {
        Err(Refusal::ReadMismatch) => return "the key is not what it read".to_string(),
        Err(Refusal::CasCannotApply) => {
            return "it was applied, but its index does not match".into()
        }
        Err(Refusal::CasMustApply) => return "it was rejected, but its index matches".into(),
        Ok(next) => next,
    };
    let mut tally = Tally::new(h);
    let left = |i: usize| !linearized.contains(i);
    (0..h.ops.len())
        .filter(|i| !left(*i))
        .for_each(|i| tally.add(h.ops[i].action, -1));
    let overwrites = next.states().all(|next| next.value != state.value);
    if !(overwrites && tally.pinned(state.value)) {
        return "it is allowed here, but nothing can follow it".into();
    }
    let readers: Vec<String> = (0..h.ops.len())
        .filter(|i| {
            left(*i)
                && h.ops[*i].action
                    == Action::Read {
                        observed: state.value,
                    }
        })
        .map(|i| format!("#{}", h.ops[i].id))
        .take(READERS_SHOWN_MAX)
        .collect();
    format!(
        "it would overwrite {}, which {} must still read, and nothing left writes it again",
        show_state(h, state),
        readers.join(", ")
    )
}

/// One operation as the client saw it.
fn describe(history: &[Operation], op: &KeyOp) -> String {
    let o = &history[op.id];
    let args = match &o.op {
        KvOp::Put { value, .. } => format!(" {}", show_value(Some(value))),
        KvOp::Cas {
            value,
            expect_modify_index,
            ..
        } => format!(
            " {} if index {expect_modify_index}",
            show_value(Some(value))
        ),
        KvOp::DeleteCas {
            expect_modify_index,
            ..
        } => format!(" if index {expect_modify_index}"),
        KvOp::Get { .. } | KvOp::Delete { .. } => String::new(),
    };
    let outcome = match &o.outcome {
        KvOutcome::Value(value) => show_value(value.as_deref()),
        other => format!("{other:?}").to_lowercase(),
    };
    let index = o.index.map(|i| format!(" @{i}")).unwrap_or_default();
    let ret = match op.ret {
        RETURN_NEVER => "never".to_string(),
        ret => ret.to_string(),
    };
    let kind = o.op.kind();
    let (id, client, invoke) = (op.id, o.client, op.invoke);
    format!("#{id} client {client} {kind}{args} -> {outcome}{index} [{invoke}, {ret}]")
}

fn show_state(h: &KeyHistory, state: KeyState) -> String {
    let value = state.value.map(|v| h.values[v as usize].as_slice());
    match state.modify_index {
        Some(index) => format!("{} @{index}", show_value(value)),
        None => show_value(value),
    }
}

/// A value, quoted if it is short printable text, else in hex; truncated if long.
pub(crate) fn show_value(value: Option<&[u8]>) -> String {
    let Some(bytes) = value else {
        return "(absent)".to_string();
    };
    let shown = &bytes[..bytes.len().min(VALUE_SHOWN_BYTES_MAX)];
    let ellipsis = if shown.len() < bytes.len() { "..." } else { "" };
    match std::str::from_utf8(shown) {
        Ok(text) if text.chars().all(|c| !c.is_control()) => format!("{text:?}{ellipsis}"),
        _ => {
            let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}{ellipsis}")
        }
    }
}
