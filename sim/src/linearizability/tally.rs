//! Per value, how many reads of it and writes of it are not linearized yet: what lets the
//! search see at once that a value is still owed to some reads and cannot be overwritten.

use super::partition::{Action, CasResult, KeyHistory, ValueId};

#[derive(Clone, Debug)]
pub(crate) struct Tally {
    /// Indexed by `slot(value)`.
    reads_left: Vec<usize>,
    writes_left: Vec<usize>,
}

/// Absent is slot 0, value id v is slot v + 1.
fn slot(value: Option<ValueId>) -> usize {
    value.map_or(0, |v| v as usize + 1)
}

/// The value an action reads, or may write: (value, is a read). None for a rejected cas,
/// which neither reads nor writes a value.
fn value_of(action: Action) -> Option<(Option<ValueId>, bool)> {
    match action {
        Action::Read { observed } => Some((observed, true)),
        Action::Write { value, .. } => Some((value, false)),
        Action::Cas {
            result: CasResult::Rejected,
            ..
        } => None,
        Action::Cas { value, .. } => Some((value, false)),
    }
}

impl Tally {
    /// Everything left: nothing linearized yet.
    pub(crate) fn new(h: &KeyHistory) -> Tally {
        let slots = h.values.len() + 1;
        let mut tally = Tally {
            reads_left: vec![0; slots],
            writes_left: vec![0; slots],
        };
        for op in &h.ops {
            tally.add(op.action, 1);
        }
        tally
    }

    /// Counts `action` as left (`delta` 1) or no longer left (`delta` -1).
    pub(crate) fn add(&mut self, action: Action, delta: isize) {
        let Some((value, is_read)) = value_of(action) else {
            return;
        };
        let counts = match is_read {
            true => &mut self.reads_left,
            false => &mut self.writes_left,
        };
        counts[slot(value)] = counts[slot(value)].wrapping_add_signed(delta);
    }

    /// Whether `value` must stay: reads of it are left and no write left could write it
    /// again, so overwriting it now would leave those reads unsatisfiable.
    pub(crate) fn pinned(&self, value: Option<ValueId>) -> bool {
        self.reads_left[slot(value)] > 0 && self.writes_left[slot(value)] == 0
    }

    /// Whether `value` was read but no operation left could write it. Absent never is: every
    /// key starts absent.
    pub(crate) fn unwritten(&self, value: Option<ValueId>) -> bool {
        value.is_some() && self.writes_left[slot(value)] == 0
    }
}
