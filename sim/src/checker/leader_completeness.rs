//! Leader completeness: a leader's log holds every entry applied anywhere (committed entries
//! are never lost). Checked once per leader and term, on the entries it has not compacted.

use super::CheckState;
use concord_core::agent::apply::payload_digest;
use concord_core::raft::Raft;

pub fn check(state: &mut CheckState, node: &str, raft: &Raft, now_ms: u64) {
    let key = (node.to_string(), raft.term());
    if state.leaders_checked.contains_key(&key) {
        return;
    }
    state.leaders_checked.insert(key, ());
    let log = raft.log();
    let first_index = log.first_index();
    let mut violations = Vec::new();
    for (index, (applied, by)) in state.applied.range(first_index..) {
        let found = log
            .entry(*index)
            .map(|e| (e.term, payload_digest(&e.payload)));
        if found != Some((applied.term, applied.digest)) {
            violations.push(format!(
                "leader completeness: {node} leads term {} at {now_ms} ms but its log has {:?} at index {index}, where {by} applied term {}",
                raft.term(), found.map(|f| f.0), applied.term
            ));
            break;
        }
    }
    state.violations.extend(violations);
}
