//! What the operations that may go next could need from an operation with unknown outcome
//! placed just before them. The search only places an unknown operation right before a read or
//! cas that needs it (see `search.rs`); this answers "does any?" for every pending unknown
//! operation in about constant time, where scanning the enabled operations for each would be
//! quadratic in the (large) number of pending unknown operations.

use super::model::{cas_matches, KeyState};
use super::partition::{Action, CasResult, KeyHistory, ValueId};

pub(crate) struct Needs {
    /// The values enabled reads saw, sorted and deduplicated.
    read_values: Vec<Option<ValueId>>,
    /// Enabled cas operations whose outcome is impossible in the current state (so they
    /// need something to change it first): (operation, expected index, is a delete-cas,
    /// result).
    cas_waiting: Vec<(usize, u64, bool, CasResult)>,
}

impl Needs {
    /// The needs of the `enabled` operations of `h`, in `state`.
    pub(crate) fn new(h: &KeyHistory, enabled: &[usize], state: KeyState) -> Needs {
        let mut read_values = Vec::new();
        let mut cas_waiting = Vec::new();
        for &op in enabled {
            match h.ops[op].action {
                Action::Read { observed } => read_values.push(observed),
                Action::Cas {
                    value,
                    expect,
                    result,
                    ..
                } => {
                    let deleting = value.is_none();
                    let now = cas_matches(state, expect, deleting);
                    // A cas possible now does not need anything before it: an applied cas
                    // overwrites value and index alike, and a rejected one legal now is
                    // forced (linearized at once) by the search.
                    let impossible = match result {
                        CasResult::Rejected => now == Some(true),
                        _ => now == Some(false),
                    };
                    if impossible {
                        cas_waiting.push((op, expect, deleting, result));
                    }
                }
                Action::Write { .. } => {}
            }
        }
        read_values.sort_unstable();
        read_values.dedup();
        Needs {
            read_values,
            cas_waiting,
        }
    }

    /// Whether some enabled operation other than `op` needs the state `after` that `op`
    /// leads to: a read of its value, or a waiting cas whose outcome it makes possible.
    pub(crate) fn needed(&self, op: usize, after: KeyState) -> bool {
        self.read_values.binary_search(&after.value).is_ok()
            || self
                .cas_waiting
                .iter()
                .any(|&(other, expect, deleting, result)| {
                    let then = cas_matches(after, expect, deleting);
                    other != op
                        && match result {
                            CasResult::Rejected => then != Some(true),
                            _ => then != Some(false),
                        }
                })
    }
}
