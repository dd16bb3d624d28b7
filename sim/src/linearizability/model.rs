//! The sequential specification of one key: a register holding a value or nothing, plus the
//! ModifyIndex a cas (or delete-cas) compares against. `step` says whether an operation, with
//! the outcome the client saw, is legal in a state, and which state(s) it leads to.

use super::partition::{Action, CasResult, ValueId};

/// One key's state. Histories start with every key absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct KeyState {
    pub value: Option<ValueId>,
    /// The present value's ModifyIndex, if known (and only tracked for keys with a cas).
    pub modify_index: Option<u64>,
}

impl KeyState {
    pub(crate) const ABSENT: KeyState = KeyState {
        value: None,
        modify_index: None,
    };
}

/// Why an operation cannot be linearized in a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A get saw something other than the current value.
    ReadMismatch,
    /// A cas reported applied, but its expected index does not match.
    CasCannotApply,
    /// A cas reported rejected, but its expected index matches.
    CasMustApply,
}

/// The state(s) an operation can lead to. Two only for a cas whose result is unknown
/// against a value whose ModifyIndex is unknown: either may have happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    One(KeyState),
    Either(KeyState, KeyState),
}

impl Next {
    pub(crate) fn states(self) -> impl Iterator<Item = KeyState> {
        let (first, second) = match self {
            Next::One(state) => (state, None),
            Next::Either(a, b) => (a, Some(b)),
        };
        std::iter::once(first).chain(second)
    }
}

/// Applies `action` to `state`. `track_index` says whether ModifyIndex is modelled.
pub(crate) fn step(state: KeyState, action: Action, track_index: bool) -> Result<Next, Refusal> {
    let written = |value: Option<ValueId>, index: Option<u64>| KeyState {
        value,
        // An absent key has no ModifyIndex; cas with 0 tests absence instead.
        modify_index: index.filter(|_| track_index && value.is_some()),
    };
    match action {
        Action::Write { value, index } => Ok(Next::One(written(value, index))),
        Action::Read { observed } if observed == state.value => Ok(Next::One(state)),
        Action::Read { .. } => Err(Refusal::ReadMismatch),
        Action::Cas {
            value,
            expect,
            index,
            result,
        } => {
            let applied = written(value, index);
            match (result, cas_matches(state, expect, value.is_none())) {
                (CasResult::Applied, Some(false)) => Err(Refusal::CasCannotApply),
                (CasResult::Rejected, Some(true)) => Err(Refusal::CasMustApply),
                (CasResult::Applied, _) | (CasResult::Unknown, Some(true)) => {
                    Ok(Next::One(applied))
                }
                (CasResult::Rejected, _) | (CasResult::Unknown, Some(false)) => {
                    Ok(Next::One(state))
                }
                (CasResult::Unknown, None) => Ok(Next::Either(applied, state)),
            }
        }
    }
}

/// Whether a cas expecting `expect` applies in `state`; `None` if the present value's
/// ModifyIndex is unknown (written by a write whose index was not reported). A delete-cas
/// (`deleting`) of an absent key applies whatever it expects, as Consul's does: the caller
/// wanted the key gone and it is.
pub(crate) fn cas_matches(state: KeyState, expect: u64, deleting: bool) -> Option<bool> {
    match (state.value, state.modify_index) {
        (None, _) => Some(expect == 0 || deleting),
        // A present key's ModifyIndex is never 0 (Raft indexes start at 1).
        (Some(_), _) if expect == 0 => Some(false),
        (Some(_), Some(index)) => Some(index == expect),
        (Some(_), None) => None,
    }
}
