//! A committed entry is on a majority of the voters: when a leader's commit index is c, at
//! least a quorum of the configuration's voters (the leader included) hold logs reaching c.
//! Learners never count (openraft #1802). Judged on each server's last observed log end, which
//! is never older than what it acknowledged, and against the configuration in force (skipped
//! while a newer configuration is still uncommitted).

use super::CheckState;
use concord_core::raft::Raft;

pub fn check(state: &mut CheckState, leader: &str, raft: &Raft, now_ms: u64) {
    let commit_index = raft.commit_index();
    let inherited = state
        .commit_at_election
        .get(&(leader.to_string(), raft.term()))
        .copied()
        .unwrap_or(0);
    if commit_index <= inherited {
        return; // committed by an earlier leader, whose quorum the checker saw then
    }
    if raft.config_index() > commit_index {
        // A newer configuration is in the log: the commit index may have been decided under
        // the one before it (single-server changes take effect when appended).
        return;
    }
    let voters = &raft.config().voters;
    let holding = voters
        .iter()
        .filter(|v| {
            v.as_str() == leader
                || state
                    .log_ends
                    .get(v.as_str())
                    .is_some_and(|(_, last)| *last >= commit_index)
        })
        .count();
    if holding < voters.len() / 2 + 1 {
        state.violations.push(format!(
            "commit quorum: {leader} committed {commit_index} in term {} but only {holding} of {} voters hold it (at {now_ms} ms)",
            raft.term(),
            voters.len()
        ));
    }
}
