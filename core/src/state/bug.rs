//! Planted bugs in the state machine, for proving that the simulator's checkers catch them.
//! Never planted outside tests and the simulator (`AgentConfig.planted_state_bug`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A deliberate fault in how committed entries apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateBug {
    /// A lock applies over another session's hold when the entry's term is greater than the
    /// term that hold was granted in: two clients then believe they hold the lock.
    LockStealAfterLeaderChange,
}

/// The bug and what it needs to remember. Not replicated state: skipped by snapshots, and
/// equal to any other (a planted bug makes no two states differ by itself).
#[derive(Clone, Debug, Default)]
pub(super) struct Planted {
    pub(super) bug: Option<StateBug>,
    /// Per key, the term of the entry that granted its current hold (only under the bug).
    pub(super) grant_terms: BTreeMap<String, u64>,
}

impl PartialEq for Planted {
    fn eq(&self, _other: &Planted) -> bool {
        true
    }
}

impl Planted {
    /// Whether a lock on `key` at `term` takes it from its current holder.
    pub(super) fn steals(&self, key: &str, term: u64) -> bool {
        let granted_in = self.grant_terms.get(key).copied().unwrap_or(u64::MAX);
        self.bug == Some(StateBug::LockStealAfterLeaderChange) && term > granted_in
    }

    pub(super) fn granted(&mut self, key: &str, term: u64) {
        if self.bug.is_some() {
            self.grant_terms.insert(key.to_string(), term);
        }
    }
}
