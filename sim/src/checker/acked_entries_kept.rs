//! A follower never loses an entry it acknowledged to the leader of its term: acknowledged
//! entries agree with that leader's log, so no conflict can remove them (openraft's
//! "committed entry lost" began with a stale AppendEntries truncating such entries).
//! Checked whenever a leader is observed, against each follower's last observed log.

use super::CheckState;
use concord_core::raft::Raft;

/// What the checker last saw of a server: (term, last log index).
pub type LogEnd = (u64, u64);

pub fn check(state: &mut CheckState, leader: &str, raft: &Raft, now_ms: u64) {
    let mut violations = Vec::new();
    for (follower, match_index) in raft.match_indexes() {
        let Some(&(term, last_index)) = state.log_ends.get(follower.as_str()) else {
            continue;
        };
        if term == raft.term() && last_index < match_index {
            violations.push(format!(
                "acknowledged entries lost: {follower} acknowledged up to {match_index} to {leader} (term {term}) but its log ends at {last_index} (at {now_ms} ms)"
            ));
        }
    }
    state.violations.extend(violations);
}
