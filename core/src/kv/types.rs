//! The data of the key/value store, as Consul defines it.

use serde::{Deserialize, Serialize};

/// The largest value Consul accepts, and so do we: 512 KiB.
pub const VALUE_SIZE_BYTES_MAX: usize = 512 * 1024;
/// Longest key accepted; Consul has no hard limit, we bound it so messages stay bounded.
pub const KEY_SIZE_BYTES_MAX: usize = 8 * 1024;
/// An upper bound on one encoded KV command in the log: the largest key and value plus the
/// command's own fields (checked against the encoding in the tests).
pub const COMMAND_SIZE_BYTES_MAX: usize = VALUE_SIZE_BYTES_MAX + KEY_SIZE_BYTES_MAX + 1024;

/// One stored key, with Consul's indexes (all Raft log indexes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
    pub flags: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub lock_index: u64,
    pub session: Option<String>,
}

/// A replicated write. Checked for size before it is proposed; applied in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvCommand {
    /// Write unconditionally.
    Set {
        key: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        flags: u64,
    },
    /// Write only if the key's ModifyIndex equals `modify_index`; 0 means "only if absent".
    Cas {
        key: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        flags: u64,
        modify_index: u64,
    },
    /// Delete one key (no error if absent).
    Delete { key: String },
    /// Delete one key only if its ModifyIndex equals `modify_index`.
    DeleteCas { key: String, modify_index: u64 },
    /// Delete every key that starts with `prefix`.
    DeleteTree { prefix: String },
    /// `?acquire=SESSION`: take (or keep) the key's lock for `session` and write the value.
    /// Refused (false) if another session holds it or the session does not exist.
    Lock {
        key: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        flags: u64,
        session: String,
    },
    /// `?release=SESSION`: give the lock up if `session` holds it, writing the value.
    Unlock {
        key: String,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        flags: u64,
        session: String,
    },
}

impl KvCommand {
    pub fn key(&self) -> &str {
        match self {
            KvCommand::Set { key, .. }
            | KvCommand::Cas { key, .. }
            | KvCommand::Delete { key }
            | KvCommand::DeleteCas { key, .. }
            | KvCommand::Lock { key, .. }
            | KvCommand::Unlock { key, .. } => key,
            KvCommand::DeleteTree { prefix } => prefix,
        }
    }

    /// Bytes of key and value the command carries: what holding it in a queue costs.
    pub fn payload_bytes(&self) -> usize {
        let value_bytes = match self {
            KvCommand::Set { value, .. }
            | KvCommand::Cas { value, .. }
            | KvCommand::Lock { value, .. }
            | KvCommand::Unlock { value, .. } => value.len(),
            _ => 0,
        };
        self.key().len() + value_bytes
    }
}

/// Why a KV request was refused before anything was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvError {
    ValueTooLarge {
        size_bytes: usize,
        size_bytes_max: usize,
    },
    KeyTooLarge {
        size_bytes: usize,
        size_bytes_max: usize,
    },
    EmptyKey,
    /// An acquire or release names a session id longer than any session's.
    SessionTooLong {
        size_bytes: usize,
        size_bytes_max: usize,
    },
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::ValueTooLarge { size_bytes, size_bytes_max } => write!(
                f,
                "Request body too large: value is {size_bytes} bytes, the maximum is {size_bytes_max} bytes"
            ),
            KvError::KeyTooLarge { size_bytes, size_bytes_max } => {
                write!(f, "Key too long: {size_bytes} bytes, the maximum is {size_bytes_max} bytes")
            }
            KvError::EmptyKey => write!(f, "Missing key name"),
            KvError::SessionTooLong { size_bytes, size_bytes_max } => write!(
                f,
                "Session id too long: {size_bytes} bytes, the maximum is {size_bytes_max} bytes"
            ),
        }
    }
}
