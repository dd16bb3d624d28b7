//! State machine safety: every server applies the same entry at each index.

use super::CheckState;
use concord_core::agent::AppliedEntry;

pub fn check(state: &mut CheckState, node: &str, entry: AppliedEntry, now_ms: u64) {
    match state.applied.get_mut(&entry.index) {
        Some((first, by)) if (first.term, first.digest) != (entry.term, entry.digest) => {
            let violation = format!(
                "state machine safety: index {} applied as term {} (digest {:x}) on {by} but as term {} (digest {:x}) on {node} at {now_ms} ms",
                entry.index, first.term, first.digest, entry.term, entry.digest
            );
            state.violations.push(violation);
        }
        Some((first, _)) => {
            // Keep the lowest applier term: the entry was committed in that term or before.
            first.applier_term = first.applier_term.min(entry.applier_term);
        }
        None => {
            state.applied.insert(entry.index, (entry, node.to_string()));
        }
    }
}
