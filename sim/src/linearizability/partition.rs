//! Splitting a history into per-key sub-histories (P-compositionality: a history of
//! single-key operations is linearizable iff each key's sub-history is), dropping what cannot
//! matter, and turning values into small ids so model states are cheap to copy and compare.

use std::collections::BTreeMap;

use super::history::{KvOp, KvOutcome, Operation};

/// Return time of an operation that may take effect at any time after its invoke.
pub(crate) const RETURN_NEVER: u64 = u64::MAX;

/// A value, interned per key: index into `KeyHistory::values`.
pub(crate) type ValueId = u32;

/// How a completed or pending cas ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CasResult {
    Applied,
    Rejected,
    Unknown,
}

/// An operation's effect, in model terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Put (`Some`) or delete (`None`); `index` is its write index if known.
    Write {
        value: Option<ValueId>,
        index: Option<u64>,
    },
    /// A get that saw `observed`.
    Read { observed: Option<ValueId> },
    /// A cas writes `Some` value; a delete-cas (`None`) deletes.
    Cas {
        value: Option<ValueId>,
        expect: u64,
        index: Option<u64>,
        result: CasResult,
    },
}

/// One operation of a key's sub-history.
#[derive(Clone, Debug)]
pub(crate) struct KeyOp {
    /// Position in the input history, to name it in explanations.
    pub id: usize,
    pub invoke: u64,
    /// `RETURN_NEVER` for unknown outcomes.
    pub ret: u64,
    pub action: Action,
    /// Completed operations must be linearized; unknown ones may be left out (never happened).
    pub required: bool,
}

/// The operations of one key, sorted by invoke time (then input position).
#[derive(Clone, Debug)]
pub(crate) struct KeyHistory {
    pub key: String,
    pub ops: Vec<KeyOp>,
    /// Interned values: `values[id]`.
    pub values: Vec<Vec<u8>>,
    /// Whether the model must track ModifyIndex: only if the key has a cas. Without one,
    /// tracking it would only split equal states and weaken the search's cache.
    pub track_index: bool,
}

impl KeyHistory {
    fn new(key: &str) -> KeyHistory {
        KeyHistory {
            key: key.to_string(),
            ops: Vec::new(),
            values: Vec::new(),
            track_index: false,
        }
    }

    fn intern(&mut self, value: &[u8]) -> ValueId {
        // Linear search: a key's distinct values are few compared with the search's cost.
        match self.values.iter().position(|v| v == value) {
            Some(position) => position as ValueId,
            None => {
                self.values.push(value.to_vec());
                (self.values.len() - 1) as ValueId
            }
        }
    }
}

/// A malformed operation: (key, reason). The checker answers `Verdict::Unknown` for it,
/// since a harness bug is not evidence about the system.
pub(crate) type Malformed = (String, String);

/// Splits `history` per key, in key order. Failed operations and gets with unknown outcome
/// are dropped: neither can have had an effect.
pub(crate) fn partition(history: &[Operation]) -> Result<BTreeMap<String, KeyHistory>, Malformed> {
    let mut keys: BTreeMap<String, KeyHistory> = BTreeMap::new();
    for (id, operation) in history.iter().enumerate() {
        let key = operation.op.key();
        let entry = keys
            .entry(key.to_string())
            .or_insert_with(|| KeyHistory::new(key));
        let Some(action) = action_of(entry, operation).map_err(|why| {
            let reason = format!("operation #{id} is malformed: {why}");
            (key.to_string(), reason)
        })?
        else {
            continue;
        };
        let required = operation.outcome != KvOutcome::Unknown;
        let ret = if required {
            operation.return_ms
        } else {
            RETURN_NEVER
        };
        if ret < operation.invoke_ms {
            let reason = format!("operation #{id} returns before it is invoked");
            return Err((key.to_string(), reason));
        }
        entry.track_index |= matches!(action, Action::Cas { .. });
        entry.ops.push(KeyOp {
            id,
            invoke: operation.invoke_ms,
            ret,
            action,
            required,
        });
    }
    for key_history in keys.values_mut() {
        key_history.ops.sort_by_key(|op| (op.invoke, op.id));
    }
    Ok(keys)
}

/// The model action of one operation; `Ok(None)` if it is dropped.
fn action_of(h: &mut KeyHistory, operation: &Operation) -> Result<Option<Action>, String> {
    let index = operation.index;
    let action = match (&operation.op, &operation.outcome) {
        (_, KvOutcome::Failed) | (KvOp::Get { .. }, KvOutcome::Unknown) => return Ok(None),
        (KvOp::Get { .. }, KvOutcome::Value(observed)) => Action::Read {
            observed: observed.as_deref().map(|v| h.intern(v)),
        },
        (KvOp::Put { value, .. }, KvOutcome::Ok | KvOutcome::Unknown) => Action::Write {
            value: Some(h.intern(value)),
            index,
        },
        (KvOp::Delete { .. }, KvOutcome::Ok | KvOutcome::Unknown) => {
            Action::Write { value: None, index }
        }
        (
            KvOp::Cas {
                value,
                expect_modify_index,
                ..
            },
            outcome @ (KvOutcome::Ok | KvOutcome::Rejected | KvOutcome::Unknown),
        ) => Action::Cas {
            value: Some(h.intern(value)),
            expect: *expect_modify_index,
            index,
            result: cas_result(outcome),
        },
        (
            KvOp::DeleteCas {
                expect_modify_index,
                ..
            },
            outcome @ (KvOutcome::Ok | KvOutcome::Rejected | KvOutcome::Unknown),
        ) => Action::Cas {
            value: None,
            expect: *expect_modify_index,
            index,
            result: cas_result(outcome),
        },
        (op, outcome) => return Err(format!("a {} cannot end with {outcome:?}", op.kind())),
    };
    Ok(Some(action))
}

fn cas_result(outcome: &KvOutcome) -> CasResult {
    match outcome {
        KvOutcome::Ok => CasResult::Applied,
        KvOutcome::Rejected => CasResult::Rejected,
        _ => CasResult::Unknown,
    }
}
