//! Transactions (`PUT /v1/txn`): up to `TXN_OPS_MAX` KV operations applied all or nothing.
//! Every operation is evaluated in order over the store (later ones see earlier effects); if
//! any fails, nothing is written and every failure is reported.

use super::lock::{unlock_error, LockRequest};
use super::overlay::Overlay;
use super::types::KvEntry;
use serde::{Deserialize, Serialize};

/// Most operations in one transaction (the 64; Consul 1.x accepts 64, newer 128).
pub const TXN_OPS_MAX: usize = 64;

/// Consul's KV verbs in a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnVerb {
    Set,
    Cas,
    Lock,
    Unlock,
    Get,
    GetOrEmpty,
    GetTree,
    CheckIndex,
    CheckSession,
    CheckNotExists,
    Delete,
    DeleteTree,
    DeleteCas,
}

impl TxnVerb {
    /// Every verb, in Consul's order.
    pub const ALL: [TxnVerb; 13] = [
        TxnVerb::Set,
        TxnVerb::Cas,
        TxnVerb::Lock,
        TxnVerb::Unlock,
        TxnVerb::Get,
        TxnVerb::GetOrEmpty,
        TxnVerb::GetTree,
        TxnVerb::CheckIndex,
        TxnVerb::CheckSession,
        TxnVerb::CheckNotExists,
        TxnVerb::Delete,
        TxnVerb::DeleteTree,
        TxnVerb::DeleteCas,
    ];

    /// Consul's name of the verb (`"delete-cas"`).
    pub fn name(self) -> &'static str {
        match self {
            TxnVerb::Set => "set",
            TxnVerb::Cas => "cas",
            TxnVerb::Lock => "lock",
            TxnVerb::Unlock => "unlock",
            TxnVerb::Get => "get",
            TxnVerb::GetOrEmpty => "get-or-empty",
            TxnVerb::GetTree => "get-tree",
            TxnVerb::CheckIndex => "check-index",
            TxnVerb::CheckSession => "check-session",
            TxnVerb::CheckNotExists => "check-not-exists",
            TxnVerb::Delete => "delete",
            TxnVerb::DeleteTree => "delete-tree",
            TxnVerb::DeleteCas => "delete-cas",
        }
    }

    pub fn from_name(name: &str) -> Option<TxnVerb> {
        TxnVerb::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the verb only reads (a transaction of only these writes nothing to the log).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            TxnVerb::Get
                | TxnVerb::GetOrEmpty
                | TxnVerb::GetTree
                | TxnVerb::CheckIndex
                | TxnVerb::CheckSession
                | TxnVerb::CheckNotExists
        )
    }
}

/// One KV operation of a transaction (`{"KV":{"Verb","Key","Value","Flags","Index","Session"}}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOp {
    pub verb: TxnVerb,
    pub key: String,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub flags: u64,
    pub index: u64,
    pub session: String,
}

impl TxnOp {
    /// Bytes of key and value the operation carries.
    pub fn payload_bytes(&self) -> usize {
        self.key.len() + self.value.len()
    }
}

/// Why one operation failed (`Errors[{OpIndex, What}]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    pub op_index: usize,
    pub what: String,
}

/// What a transaction gave: the entries its reads (and writes) return in order, or every
/// failure. `entries` holds, per operation, the entries it answers with (none for deletes,
/// one per key for get-tree); values are kept only for the get verbs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOutcome {
    Committed { entries: Vec<KvEntry> },
    Failed { errors: Vec<TxnError> },
}

/// Evaluates every operation in order over `overlay` (later operations see earlier ones'
/// effects; a failed one has none). Returns the entries they answer with, or every failure.
pub(crate) fn evaluate(
    overlay: &mut Overlay<'_>,
    ops: &[TxnOp],
) -> Result<Vec<KvEntry>, Vec<TxnError>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (op_index, op) in ops.iter().enumerate() {
        match evaluate_op(overlay, op) {
            Ok(answered) => entries.extend(answered),
            Err(what) => errors.push(TxnError { op_index, what }),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// One operation: the entries it answers with (values only for the get verbs), or Consul's
/// error text.
fn evaluate_op(overlay: &mut Overlay<'_>, op: &TxnOp) -> Result<Vec<KvEntry>, String> {
    let key = op.key.as_str();
    let request = LockRequest {
        key,
        value: &op.value,
        flags: op.flags,
        session: &op.session,
    };
    let written = match op.verb {
        TxnVerb::Get => {
            let entry = overlay.get(key).cloned();
            return entry
                .map(|e| vec![e])
                .ok_or(format!("key {key:?} doesn't exist"));
        }
        TxnVerb::GetOrEmpty => {
            return Ok(vec![overlay
                .get(key)
                .cloned()
                .unwrap_or_else(|| empty_entry(key))]);
        }
        TxnVerb::GetTree => return Ok(overlay.list(key)),
        TxnVerb::CheckIndex => check_index(overlay.get(key), key, op.index)?,
        TxnVerb::CheckSession => check_session(overlay.get(key), key, &op.session)?,
        TxnVerb::CheckNotExists => match overlay.get(key) {
            Some(_) => return Err(format!("key {key:?} exists")),
            None => return Ok(Vec::new()),
        },
        TxnVerb::Set => overlay.set(key, &op.value, op.flags),
        TxnVerb::Cas => overlay
            .cas(key, &op.value, op.flags, op.index)
            .ok_or(format!("failed to set key {key:?}, index is stale"))?,
        TxnVerb::Lock => overlay.lock(request, false).map_err(|r| r.txn_error(key))?,
        TxnVerb::Unlock => overlay.unlock(request).ok_or_else(|| unlock_error(key))?,
        TxnVerb::Delete => {
            overlay.delete(key);
            return Ok(Vec::new());
        }
        TxnVerb::DeleteTree => {
            overlay.delete_tree(key);
            return Ok(Vec::new());
        }
        TxnVerb::DeleteCas => {
            return match overlay.delete_cas(key, op.index) {
                true => Ok(Vec::new()),
                false => Err(format!("failed to delete key {key:?}, index is stale")),
            };
        }
    };
    // Consul drops the value of everything but the get verbs, to keep answers small.
    Ok(vec![KvEntry {
        value: Vec::new(),
        ..written
    }])
}

/// What get-or-empty answers for an absent key: the key, nothing else.
fn empty_entry(key: &str) -> KvEntry {
    KvEntry {
        key: key.to_string(),
        value: Vec::new(),
        flags: 0,
        create_index: 0,
        modify_index: 0,
        lock_index: 0,
        session: None,
    }
}

fn check_index(entry: Option<&KvEntry>, key: &str, index: u64) -> Result<KvEntry, String> {
    let entry = entry.ok_or(format!("failed to check index, key {key:?} doesn't exist"))?;
    if entry.modify_index != index {
        return Err(format!(
            "failed index check for key {key:?}, current modify index {} != {index}",
            entry.modify_index
        ));
    }
    Ok(entry.clone())
}

fn check_session(entry: Option<&KvEntry>, key: &str, session: &str) -> Result<KvEntry, String> {
    let entry = entry.ok_or(format!(
        "failed to check session, key {key:?} doesn't exist"
    ))?;
    let current = entry.session.as_deref().unwrap_or("");
    if current != session {
        return Err(format!(
            "failed session check for key {key:?}, current session {current:?} != {session:?}"
        ));
    }
    Ok(entry.clone())
}
