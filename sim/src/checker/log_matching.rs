//! Log matching (Raft §5.3): two logs holding an entry with the same index and term hold the
//! same entry there (and, by induction on how entries are appended, the same log before it;
//! the prefix is covered by `applied_agreement`). Each new entry of every server is checked.

use super::CheckState;
use concord_core::agent::apply::payload_digest;
use concord_core::raft::Raft;

pub fn check(state: &mut CheckState, node: &str, raft: &Raft, now_ms: u64) {
    let log = raft.log();
    let (checked, checked_term) = state.log_checked.get(node).copied().unwrap_or((0, 0));
    // A log rewritten since (a conflict truncated it) is checked again past its commit index:
    // committed entries are never rewritten.
    let rewritten = checked > 0 && log.term_at(checked).is_some_and(|t| t != checked_term);
    let resume = if rewritten || checked > log.last_index() {
        raft.commit_index()
    } else {
        checked
    };
    let from = (resume + 1).max(log.first_index());
    for index in from..=log.last_index() {
        let Some(entry) = log.entry(index) else {
            continue;
        };
        let digest = payload_digest(&entry.payload);
        match state.entries_seen.get(&(index, entry.term)) {
            Some((seen, by)) if *seen != digest => {
                let violation = format!(
                    "log matching: {node} and {by} hold different entries at index {index} of term {} (at {now_ms} ms)",
                    entry.term
                );
                state.violations.push(violation);
                break;
            }
            Some(_) => {}
            None => {
                state
                    .entries_seen
                    .insert((index, entry.term), (digest, node.to_string()));
            }
        }
    }
    let end = (log.last_index(), log.last_term());
    match state.log_checked.get_mut(node) {
        Some(checked) => *checked = end,
        None => {
            state.log_checked.insert(node.to_string(), end);
        }
    }
}
