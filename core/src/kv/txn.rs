//! Transactions (`PUT /v1/txn`): up to `TXN_OPS_MAX` KV operations applied all or nothing.
//! Every operation is evaluated in order over the store (later ones see earlier effects); if
//! any fails, nothing is written and every failure is reported.

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
        ALL_VERBS.into_iter().find(|v| v.name() == name)
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

const ALL_VERBS: [TxnVerb; 13] = [
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

/// One KV operation of a transaction (`{"KV":{"Verb","Key","Value","Flags","Index","Session"}}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOp {
    pub verb: TxnVerb,
    pub key: String,
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
