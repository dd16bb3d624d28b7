//! Admission checks for KV writes. They run before a command is proposed, so a refused write
//! never reaches the log and nothing is ever half-written.

use super::types::{KvCommand, KvError, KEY_SIZE_BYTES_MAX, VALUE_SIZE_BYTES_MAX};
use crate::session::SESSION_ID_BYTES_MAX;

/// Refuses what Consul refuses at its HTTP layer: a missing key, and sizes over our bounds
/// (a key, a value, an acquire's or release's session id).
///
/// `apply` deliberately does not re-check this: the limits are admission policy, and re-checking
/// them on replay would make a change of limits between versions diverge (or crash) replicas.
pub fn validate(cmd: &KvCommand) -> Result<(), KvError> {
    let key = cmd.key();
    // An empty prefix is how Consul spells "everything" (`DELETE /v1/kv/?recurse`).
    let empty_key_allowed = matches!(cmd, KvCommand::DeleteTree { .. });
    if key.is_empty() && !empty_key_allowed {
        return Err(KvError::EmptyKey);
    }
    if key.len() > KEY_SIZE_BYTES_MAX {
        return Err(KvError::KeyTooLarge {
            size_bytes: key.len(),
            size_bytes_max: KEY_SIZE_BYTES_MAX,
        });
    }
    if let KvCommand::Lock { session, .. } | KvCommand::Unlock { session, .. } = cmd {
        if session.len() > SESSION_ID_BYTES_MAX {
            return Err(KvError::SessionTooLong {
                size_bytes: session.len(),
                size_bytes_max: SESSION_ID_BYTES_MAX,
            });
        }
    }
    if let KvCommand::Set { value, .. }
    | KvCommand::Cas { value, .. }
    | KvCommand::Lock { value, .. }
    | KvCommand::Unlock { value, .. } = cmd
    {
        if value.len() > VALUE_SIZE_BYTES_MAX {
            return Err(KvError::ValueTooLarge {
                size_bytes: value.len(),
                size_bytes_max: VALUE_SIZE_BYTES_MAX,
            });
        }
    }
    Ok(())
}
