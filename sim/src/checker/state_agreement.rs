//! State machine agreement: every server's KV state has the same digest after applying the
//! same index. Applied agreement compares the entries; this compares what they left, so a
//! server whose KV diverged (a wrong snapshot restored, a nondeterministic apply, a log replay
//! that skipped an entry) is caught at once, not when a later read happens to hit the key.

use super::CheckState;
use concord_core::agent::AppliedEntry;

/// `node` applied `entry` and its KV state then had digest `entry.state_digest`; `now_ms` is
/// world time.
pub fn check(state: &mut CheckState, node: &str, entry: &AppliedEntry, now_ms: u64) {
    assert!(entry.index > 0, "log indexes start at 1");
    match state.state_digests.get(&entry.index) {
        Some((digest, by)) if *digest != entry.state_digest => {
            let violation = format!(
                "state machine agreement: after index {} the KV digest is {digest:016x} on {by} but {:016x} on {node} (at {now_ms} ms)",
                entry.index, entry.state_digest
            );
            state.violations.push(violation);
        }
        Some(_) => {}
        None => {
            let first = (entry.state_digest, node.to_string());
            state.state_digests.insert(entry.index, first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(index: u64, state_digest: u64) -> AppliedEntry {
        AppliedEntry {
            index,
            term: 1,
            digest: 7,
            applier_term: 1,
            state_digest,
        }
    }

    #[test]
    fn same_entry_different_state_is_a_violation() {
        let mut state = CheckState::default();
        check(&mut state, "s1", &applied(5, 0xaa), 10);
        check(&mut state, "s2", &applied(5, 0xaa), 11);
        check(&mut state, "s3", &applied(6, 0xbb), 12);
        assert!(state.violations.is_empty(), "{:?}", state.violations);
        check(&mut state, "s3", &applied(5, 0xab), 13);
        assert_eq!(state.violations.len(), 1);
        assert!(state.violations[0].contains("after index 5"));
    }
}
