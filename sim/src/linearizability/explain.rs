//! The readable account of a violation: the key's operations sorted by invoke, the longest
//! linearizable prefix the search found, and why each operation that could come next cannot.

use std::fmt::Write;

use super::bitset::Bitset;
use super::history::{KvOp, KvOutcome, Operation};
use super::model::{step, KeyState, Refusal};
use super::partition::{KeyHistory, KeyOp, RETURN_NEVER};
use super::search::{enabled, Step};

/// Operations listed at most, so a long history gives a bounded report.
const EXPLANATION_OPS_MAX: usize = 200;
/// Last steps of the prefix listed at most (the end is where it went wrong).
const PREFIX_SHOWN_MAX: usize = 50;
/// Bytes of a value shown at most.
const VALUE_SHOWN_BYTES_MAX: usize = 32;

pub(crate) fn explain(history: &[Operation], h: &KeyHistory, best: &[Step]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "key {:?}: no linearization of its {} operations. Sorted by invoke \
         (#position in the history, [invoke, return] in ms):",
        h.key,
        h.ops.len()
    );
    for op in h.ops.iter().take(EXPLANATION_OPS_MAX) {
        let _ = writeln!(out, "  {}", describe(history, op));
    }
    if h.ops.len() > EXPLANATION_OPS_MAX {
        let _ = writeln!(out, "  ... and {} more", h.ops.len() - EXPLANATION_OPS_MAX);
    }
    let _ = writeln!(
        out,
        "Longest linearizable prefix found: {} operations{}",
        best.len(),
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
        let op = &h.ops[*op];
        let why = match step(state, op.action, h.track_index) {
            Err(Refusal::ReadMismatch) => "the key is not what it read".to_string(),
            Err(Refusal::CasCannotApply) => "it was applied, but its index does not match".into(),
            Err(Refusal::CasMustApply) => "it was rejected, but its index matches".into(),
            Ok(_) => "it is allowed here, but nothing can follow it".into(),
        };
        let _ = writeln!(out, "  {}: {why}", describe(history, op));
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
