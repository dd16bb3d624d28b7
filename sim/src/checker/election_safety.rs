//! Election safety: at most one leader per term (Raft Figure 3).

use super::CheckState;

pub fn check(state: &mut CheckState, node: &str, term: u64, now_ms: u64) {
    match state.leaders.get(&term) {
        Some(leader) if leader != node => {
            let violation = format!("election safety: {leader} and {node} both lead term {term} (at {now_ms} ms on {node})");
            state.violations.push(violation);
        }
        Some(_) => {}
        None => {
            state.leaders.insert(term, node.to_string());
        }
    }
}
