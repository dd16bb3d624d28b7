//! Wing & Gong's search for a linearization of one key's sub-history, with Lowe's cache: a
//! depth-first search that repeatedly picks an operation that may take effect next (no
//! unlinearized operation returned before it was invoked), applies it to the model if the
//! outcome the client saw allows it, and backtracks otherwise. A (linearized set, model state)
//! pair already explored is not explored again: whatever order led there, the rest of the
//! search from it is the same. This is what Porcupine does, per key.
//!
//! On top of it, rules that prune moves without losing any linearization (all checked
//! against brute force in `tests_brute.rs`, which does not use them):
//! - Forced moves: a read that sees the current value, or a rejected cas legal now, is
//!   linearized at once, with no other choice tried. Any linearization from here can be
//!   rearranged to put it first: it may go now (it is enabled), and since it never changes
//!   the state, moving it changes no other operation's state.
//! - Pinned values: while reads of the current value are left and no operation left could
//!   write it again, nothing may change it (those reads could never be satisfied after).
//! - Unknown operations only right before a read or cas that needs them. Left alone, each
//!   pending one is a choice at every step (now, later, never), and a few hundred of them blow
//!   the search up. But if a linearization exists, removing from it every unknown operation
//!   not immediately followed by a read or cas (the only operations that look at the state)
//!   leaves one: what followed each removed operation was a blind write that erased its
//!   effect. So after an unknown operation only a read or cas may come next, and the search
//!   only places one if an enabled read or cas needs it (`needs.rs`).
//! - Interchangeable unknown operations: of pending unknown operations with the same action
//!   (say, two timed-out deletes), only one is tried at a node.
//! - A read of a value that no operation of the key writes fails the key without a search.

use std::collections::HashSet;

use super::bitset::Bitset;
use super::model::{step, KeyState};
use super::needs::Needs;
use super::partition::{Action, CasResult, KeyHistory, KeyOp, RETURN_NEVER};
use super::tally::Tally;

/// One linearized operation: its position in `KeyHistory::ops`, and the state after it.
pub(crate) type Step = (usize, KeyState);

pub(crate) enum SearchResult {
    Linearizable,
    /// No linearization exists; `best` is the longest linearizable prefix found that ends
    /// with a completed operation.
    NotLinearizable {
        best: Vec<Step>,
    },
    /// The operation at this position reads a value no operation of the key writes: no need
    /// to search.
    ReadOfUnwritten {
        read: usize,
    },
    /// The search reached its bound of explored states without an answer.
    Exhausted {
        explored: usize,
    },
}

/// Searches for a linearization, exploring at most `states_max` states.
pub(crate) fn search(h: &KeyHistory, states_max: usize) -> SearchResult {
    let mut search = Search::new(h);
    if search.required_left == 0 {
        return SearchResult::Linearizable;
    }
    let unwritten = |op: &KeyOp| match op.action {
        Action::Read { observed } => search.tally.unwritten(observed),
        _ => false,
    };
    if let Some(read) = h.ops.iter().position(unwritten) {
        return SearchResult::ReadOfUnwritten { read };
    }
    // One frame per depth: the moves from that node not tried yet, last tried first.
    let mut stack = vec![search.moves(KeyState::ABSENT)];
    let mut explored = 0;
    while let Some(moves) = stack.last_mut() {
        let Some((op, state)) = moves.pop() else {
            stack.pop();
            search.undo();
            continue;
        };
        if !search.apply(op, state) {
            continue;
        }
        explored += 1;
        if search.required_left == 0 {
            return SearchResult::Linearizable;
        }
        if explored >= states_max {
            return SearchResult::Exhausted { explored };
        }
        stack.push(search.moves(state));
    }
    SearchResult::NotLinearizable { best: search.best }
}

struct Search<'h> {
    h: &'h KeyHistory,
    linearized: Bitset,
    /// The linearization being extended (a stack alongside the search's frames).
    path: Vec<Step>,
    best: Vec<Step>,
    /// Lowe's cache, plus whether a read or cas must come next. Hashed, not ordered: it is
    /// only probed, never iterated, so its order cannot reach the output.
    cache: HashSet<(u128, KeyState, bool)>,
    /// Completed operations not linearized yet: the search succeeds when none is left, since
    /// operations with unknown outcome may never have taken effect.
    required_left: usize,
    tally: Tally,
}

impl<'h> Search<'h> {
    fn new(h: &'h KeyHistory) -> Search<'h> {
        Search {
            h,
            linearized: Bitset::new(h.ops.len()),
            path: Vec::new(),
            best: Vec::new(),
            cache: HashSet::new(),
            required_left: h.ops.iter().filter(|op| op.required).count(),
            tally: Tally::new(h),
        }
    }

    /// Linearizes `op` next, leading to `state`; false (and nothing done) if that node was
    /// explored already.
    fn apply(&mut self, op: usize, state: KeyState) -> bool {
        let required = self.h.ops[op].required;
        self.linearized.insert(op);
        if !self
            .cache
            .insert((self.linearized.fingerprint(), state, !required))
        {
            self.linearized.remove(op);
            return false;
        }
        self.path.push((op, state));
        self.required_left -= usize::from(required);
        self.tally.add(self.h.ops[op].action, -1);
        if required && self.path.len() > self.best.len() {
            self.best.clone_from(&self.path);
        }
        true
    }

    /// Takes back the last operation linearized (none at the root).
    fn undo(&mut self) {
        if let Some((op, _)) = self.path.pop() {
            self.linearized.remove(op);
            self.required_left += usize::from(self.h.ops[op].required);
            self.tally.add(self.h.ops[op].action, 1);
        }
    }

    /// The (operation, next state) moves from `state` worth trying (see the rules above),
    /// the earliest-invoked to be tried first (popped last from the returned list).
    fn moves(&self, state: KeyState) -> Vec<Step> {
        let ops = &self.h.ops;
        let enabled = enabled(self.h, &self.linearized);
        let owed = self.path.last().is_some_and(|(op, _)| !ops[*op].required);
        let pinned = self.tally.pinned(state.value);
        let mut unknown_tried: Vec<Action> = Vec::new();
        // Built on first use: most nodes have no unknown operation enabled.
        let mut needs: Option<Needs> = None;
        let mut moves = Vec::new();
        for &op in enabled.iter().rev() {
            let (action, required) = (ops[op].action, ops[op].required);
            if owed && matches!(action, Action::Write { .. }) {
                continue;
            }
            if !required {
                // Two pending unknown operations with the same action are interchangeable
                // from here on (same effect, both invoked, neither returns): try one.
                if unknown_tried.contains(&action) {
                    continue;
                }
                unknown_tried.push(action);
            }
            let Ok(next) = step(state, action, self.h.track_index) else {
                continue;
            };
            for next in next.states() {
                let keeps = next == state;
                if keeps && required && never_changes_state(action) {
                    return vec![(op, next)];
                }
                // An unknown operation is only worth placing if what comes next needs it
                // (which rules out one that changes nothing); overwriting a pinned value
                // leads nowhere.
                let useful = required
                    || (!keeps
                        && needs
                            .get_or_insert_with(|| Needs::new(self.h, &enabled, state))
                            .needed(op, next));
                if useful && !(pinned && next.value != state.value) {
                    moves.push((op, next));
                }
            }
        }
        moves
    }
}

/// Whether an operation leaves the state as it is wherever it is legal: a read, or a cas that
/// reported it was rejected. (A write that happens to leave the state unchanged here would
/// not be: later, it may change it.)
fn never_changes_state(action: Action) -> bool {
    matches!(
        action,
        Action::Read { .. }
            | Action::Cas {
                result: CasResult::Rejected,
                ..
            }
    )
}

/// The operations that may take effect next: those not linearized that were invoked no later
/// than the earliest return of any operation not linearized. Invoking at the very millisecond
/// another returns counts as concurrent: with millisecond clocks the order is unknown, and the
/// checker must not report a violation it cannot prove.
pub(crate) fn enabled(h: &KeyHistory, linearized: &Bitset) -> Vec<usize> {
    let ops = &h.ops;
    // Operations are sorted by invoke, so once one is invoked after the earliest return seen,
    // all later ones are too, and none of them can lower that earliest return.
    let mut horizon = RETURN_NEVER;
    let mut candidates = Vec::new();
    for i in linearized.absent() {
        if ops[i].invoke > horizon {
            break;
        }
        horizon = horizon.min(ops[i].ret);
        candidates.push(i);
    }
    candidates.retain(|i| ops[*i].invoke <= horizon);
    candidates
}
