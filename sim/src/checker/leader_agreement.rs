//! Leader agreement: a node learns who leads its current term only from that leader's own
//! AppendEntries (Raft §5.2), so every node that names a leader for term T names the same one,
//! the one that won T. A follower that obeys a deposed leader of an older term names it as the
//! leader of its own, newer term, and two nodes disagree about that term.

use super::CheckState;

/// `node` is in `term` and believes `leader` leads it (a leader names itself).
pub fn check(state: &mut CheckState, node: &str, term: u64, leader: &str, now_ms: u64) {
    assert!(
        !node.is_empty() && !leader.is_empty(),
        "node names are never empty"
    );
    match state.leader_named.get(&term) {
        Some((named, by)) if named != leader => {
            let violation = format!(
                "leader agreement: {node} follows {leader} in term {term}, but {by} named {named} as its leader (at {now_ms} ms on {node})"
            );
            state.violations.push(violation);
        }
        Some(_) => {}
        None => {
            let first = (leader.to_string(), node.to_string());
            state.leader_named.insert(term, first);
        }
    }
}
