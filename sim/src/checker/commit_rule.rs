//! The commitment rule (Raft §5.4.2, Figure 8): a leader moves its commit index only to an
//! entry of its own term; earlier entries become committed only with one. (Counting replicas of
//! an old-term entry can lose it to a later leader.) The commit index a leader brings from its
//! follower days is exempt.

use super::CheckState;
use concord_core::raft::Raft;

pub fn check(state: &mut CheckState, leader: &str, raft: &Raft, now_ms: u64) {
    let key = (leader.to_string(), raft.term());
    let commit_index = raft.commit_index();
    let inherited = *state.commit_at_election.entry(key).or_insert(commit_index);
    if commit_index == inherited {
        return;
    }
    let term_at_commit = raft.log().term_at(commit_index);
    if term_at_commit.is_some_and(|t| t != raft.term()) {
        state.violations.push(format!(
            "commit rule: {leader}, leader of term {}, committed index {commit_index} of term {} (at {now_ms} ms)",
            raft.term(),
            term_at_commit.unwrap_or(0)
        ));
    }
}
