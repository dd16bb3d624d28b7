//! A linearizability checker for KV histories: given what clients asked, what they saw and
//! when, is there one order of the operations, consistent with real time, in which a single
//! copy of the store would have answered exactly that?
//!
//! Pure (no simulator, no I/O): a history in, a verdict out. The history is split per key
//! (every operation touches one key, so the whole is linearizable iff each key's part is), and
//! each key is searched as Porcupine does (Wing & Gong's search with Lowe's cache), with a few
//! pruning rules that keep timeouts cheap (`search.rs`), within a bound of explored states.
//! Stale reads, which promise less, have their own check: [`check_stale_reads_monotonic`].
//!
//! Conventions: every key starts absent; `Failed` operations never happened; `Unknown` ones
//! may take effect at any time after their invoke, or never; a return and an invoke in the
//! same millisecond count as concurrent (a violation is only reported if it is certain). A
//! cas is decided by the ModifyIndex of the key, known from the `index` of acknowledged
//! writes; where a write's index is unknown, either cas result is accepted.
//!
//! Files: `history.rs` the input types, `partition.rs` the split per key, `model.rs` the
//! sequential specification, `search.rs` (with `bitset.rs`, `tally.rs`, `needs.rs`) the
//! search, `explain.rs` the account of a violation, `stale.rs` the stale-read check.

mod bitset;
mod explain;
mod history;
mod model;
mod needs;
mod partition;
mod search;
mod stale;
mod tally;

#[cfg(test)]
mod testgen;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_brute;
#[cfg(test)]
mod tests_random;
#[cfg(test)]
mod tests_stale;

pub use history::{KvOp, KvOutcome, Operation};
pub use stale::check_stale_reads_monotonic;

use search::SearchResult;

/// States (linearized set, model state) explored at most per key before giving up with
/// `Verdict::Unknown`. Typical histories need a few per operation; reaching the bound (a
/// key with many long-overlapping writes) takes about 2 s optimized, 8 s in a debug build.
pub const SEARCH_STATES_MAX: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// `key`'s operations have no linearization. `explanation` lists them, sorted by invoke,
    /// the longest linearizable prefix found, and why nothing can follow it (or names the
    /// read that saw a value no operation of the key writes).
    NotLinearizable {
        key: String,
        explanation: String,
    },
    /// No answer for `key`: the search hit its bound, or the history is malformed.
    Unknown {
        key: String,
        reason: String,
    },
}

/// Checks `history` with the default bound, `SEARCH_STATES_MAX` states per key.
pub fn check(history: &[Operation]) -> Verdict {
    check_bounded(history, SEARCH_STATES_MAX)
}

/// Checks `history`, exploring at most `states_max` states per key. A violation on any key
/// wins over an unknown verdict on another; otherwise the first key (in key order) decides.
pub fn check_bounded(history: &[Operation], states_max: usize) -> Verdict {
    let keys = match partition::partition(history) {
        Ok(keys) => keys,
        Err((key, reason)) => return Verdict::Unknown { key, reason },
    };
    let mut unknown = None;
    for h in keys.values() {
        match search::search(h, states_max) {
            SearchResult::Linearizable => {}
            SearchResult::NotLinearizable { best } => {
                let explanation = explain::explain(history, h, &best);
                let key = h.key.clone();
                return Verdict::NotLinearizable { key, explanation };
            }
            SearchResult::ReadOfUnwritten { read } => {
                let explanation = explain::explain_unwritten(history, h, read);
                let key = h.key.clone();
                return Verdict::NotLinearizable { key, explanation };
            }
            SearchResult::Exhausted { explored } => {
                let reason = format!(
                    "gave up after exploring {explored} states of {} operations",
                    h.ops.len()
                );
                unknown.get_or_insert(Verdict::Unknown {
                    key: h.key.clone(),
                    reason,
                });
            }
        }
    }
    unknown.unwrap_or(Verdict::Linearizable)
}
