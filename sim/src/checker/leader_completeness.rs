//! Leader completeness: a leader of term L holds every entry committed in a term before L
//! (Raft §5.4). An entry applied by a server whose term was m was committed in a term <= m,
//! so every leader of a term above the lowest such m must hold it. Checked once per leader
//! and term, on the entries it has not compacted.

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
    let must_hold = state
        .applied
        .range(first_index..)
        .filter(|(_, (a, _))| a.applier_term < raft.term());
    for (index, (applied, by)) in must_hold {
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
