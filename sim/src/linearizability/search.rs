//! Wing & Gong's search for a linearization of one key's sub-history, with Lowe's cache: a
//! depth-first search that repeatedly picks an operation that may take effect next (no
//! unlinearized operation returned before it was invoked), applies it to the model if the
//! outcome the client saw allows it, and backtracks otherwise. A (linearized set, model state)
//! pair already explored is not explored again: whatever order led there, the rest of the
//! search from it is the same. This is what Porcupine does, per key.
//!
//! One addition keeps operations with unknown outcome cheap. Left alone, each one pending is
//! a choice at every step (now, later, never), and a few hundred of them blow the search up.
//! But an unknown operation only needs to be placed immediately before a read or cas, the only
//! operations that look at the state: if a linearization exists, removing from it every
//! unknown operation not immediately followed by one of those leaves one (what followed each
//! removed operation was a blind write, which erased its effect; everything else sees the
//! same state as before). So after an unknown operation, only a read or cas may come next.

use std::collections::HashSet;

use super::bitset::Bitset;
use super::model::{step, KeyState};
use super::partition::{Action, KeyHistory, RETURN_NEVER};

/// One linearized operation: its position in `KeyHistory::ops`, and the state after it.
pub(crate) type Step = (usize, KeyState);

pub(crate) enum SearchResult {
    Linearizable,
    /// No linearization exists; `best` is the longest linearizable prefix found that ends
    /// with a completed operation.
    NotLinearizable {
        best: Vec<Step>,
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
    cache: HashSet<(Bitset, KeyState, bool)>,
    /// Completed operations not linearized yet: the search succeeds when none is left, since
    /// operations with unknown outcome may never have taken effect.
    required_left: usize,
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
        }
    }

    /// Linearizes `op` next, leading to `state`; false (and nothing done) if that node was
    /// explored already.
    fn apply(&mut self, op: usize, state: KeyState) -> bool {
        let required = self.h.ops[op].required;
        self.linearized.insert(op);
        if !self
            .cache
            .insert((self.linearized.clone(), state, !required))
        {
            self.linearized.remove(op);
            return false;
        }
        self.path.push((op, state));
        self.required_left -= usize::from(required);
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
        }
    }

    /// The legal (operation, next state) moves from `state`, the earliest-invoked to be
    /// tried first (popped last from the returned list).
    fn moves(&self, state: KeyState) -> Vec<Step> {
        let ops = &self.h.ops;
        let owed = self.path.last().is_some_and(|(op, _)| !ops[*op].required);
        let mut moves = Vec::new();
        for op in enabled(self.h, &self.linearized).into_iter().rev() {
            if owed && matches!(ops[op].action, Action::Write { .. }) {
                continue;
            }
            let Ok(next) = step(state, self.h.ops[op].action, self.h.track_index) else {
                continue;
            };
            moves.extend(next.states().map(|next| (op, next)));
        }
        moves
    }
}

/// The operations that may take effect next: those not linearized that were invoked no later
/// than the earliest return of any operation not linearized. Invoking at the very millisecond
/// another returns counts as concurrent: with millisecond clocks the order is unknown, and the
/// checker must not report a violation it cannot prove.
pub(crate) fn enabled(h: &KeyHistory, linearized: &Bitset) -> Vec<usize> {
    let ops = &h.ops;
    let first = linearized.first_absent();
    // Operations are sorted by invoke, so once one is invoked after the earliest return seen,
    // all later ones are too, and none of them can lower that earliest return.
    let mut horizon = RETURN_NEVER;
    let mut end = first;
    while end < ops.len() && ops[end].invoke <= horizon {
        if !linearized.contains(end) {
            horizon = horizon.min(ops[end].ret);
        }
        end += 1;
    }
    (first..end)
        .filter(|&i| !linearized.contains(i) && ops[i].invoke <= horizon)
        .collect()
}
