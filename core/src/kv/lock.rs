//! Consul's KV locks (`?acquire=` / `?release=`, the txn verbs `lock` / `unlock`): who may
//! take a key's lock, and what its entry looks like afterwards (Consul's `kvsLockTxn` and
//! `kvsUnlockTxn`). Pure functions over the current entry, so a single command, a transaction's
//! overlay and a session's invalidation all follow the same rules.

use super::types::KvEntry;
use crate::session::SessionStore;

/// One change of who holds a key's lock (an acquire, a release, or an invalidated session's
/// key released or deleted), as every server applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockChange {
    pub key: String,
    /// The session that held the lock before, and the one after (None: unlocked or deleted).
    pub before: Option<String>,
    pub after: Option<String>,
    /// The key's LockIndex and ModifyIndex after the change (0 and the delete's index when
    /// deleted).
    pub lock_index: u64,
    pub modify_index: u64,
    pub deleted: bool,
    /// Lock-delay to apply to the key from now (0 unless a session was invalidated), capped
    /// at `LOCK_DELAY_NS_MAX`.
    pub delay_ns: u64,
}

/// Why a lock was not granted. The texts are Consul's (`txn` errors and `?acquire` answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockRefusal {
    MissingSession,
    InvalidSession(String),
    /// Another session holds it: Consul answers `false`, with no error.
    HeldByAnother,
}

impl LockRefusal {
    /// The error text of a `lock` operation in a transaction.
    pub fn txn_error(&self, key: &str) -> String {
        match self {
            LockRefusal::MissingSession => "missing session".to_string(),
            LockRefusal::InvalidSession(id) => format!("invalid session {id:?}"),
            LockRefusal::HeldByAnother => {
                format!("failed to lock key {key:?}, lock is already held")
            }
        }
    }
}

/// What a lock request carries: the key, the value and flags to write, the session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LockRequest<'a> {
    pub key: &'a str,
    pub value: &'a [u8],
    pub flags: u64,
    pub session: &'a str,
}

/// The entry after `request` takes the lock at `index`: a new holder gets LockIndex + 1 (a
/// new key 1), the holder re-acquiring keeps it; value and flags are written either way.
/// `steal` grants over another holder (only the planted bug `LockStealAfterLeaderChange`).
pub(crate) fn grant(
    existing: Option<&KvEntry>,
    request: LockRequest<'_>,
    sessions: &SessionStore,
    index: u64,
    steal: bool,
) -> Result<KvEntry, LockRefusal> {
    if request.session.is_empty() {
        return Err(LockRefusal::MissingSession);
    }
    if sessions.get(request.session).is_none() {
        return Err(LockRefusal::InvalidSession(request.session.to_string()));
    }
    let (create_index, lock_index) = match existing {
        None => (index, 1),
        Some(e) if e.session.as_deref() == Some(request.session) => (e.create_index, e.lock_index),
        Some(e) if e.session.is_some() && !steal => return Err(LockRefusal::HeldByAnother),
        // Saturating: a restored state may carry any LockIndex; at the top the fencing token
        // still rises through the ModifyIndex.
        Some(e) => (e.create_index, e.lock_index.saturating_add(1)),
    };
    Ok(KvEntry {
        key: request.key.to_string(),
        value: request.value.to_vec(),
        flags: request.flags,
        create_index,
        modify_index: index,
        lock_index,
        session: Some(request.session.to_string()),
    })
}

/// The entry after `request` gives the lock up at `index`, or `None` when the key is absent
/// or not held by that session (Consul answers `false`). The value and flags are written,
/// LockIndex is kept.
pub(crate) fn release(
    existing: Option<&KvEntry>,
    request: LockRequest<'_>,
    index: u64,
) -> Option<KvEntry> {
    let existing = existing?;
    if request.session.is_empty() || existing.session.as_deref() != Some(request.session) {
        return None;
    }
    Some(KvEntry {
        key: request.key.to_string(),
        value: request.value.to_vec(),
        flags: request.flags,
        create_index: existing.create_index,
        modify_index: index,
        lock_index: existing.lock_index,
        session: None,
    })
}

/// The error text of an `unlock` operation that was refused.
pub(crate) fn unlock_error(key: &str) -> String {
    format!("failed to unlock key {key:?}, lock isn't held, or is held by another session")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Session, SessionSpec};

    #[test]
    fn a_new_holder_at_the_largest_lock_index_keeps_it() {
        let spec = SessionSpec::default();
        let mut sessions = SessionStore::default();
        sessions.insert(Session {
            id: "s1".into(),
            name: spec.name,
            node: "n1".into(),
            lock_delay_ns: spec.lock_delay_ns,
            behavior: spec.behavior,
            ttl: spec.ttl,
            ttl_ms: spec.ttl_ms,
            node_checks: spec.node_checks,
            service_checks: spec.service_checks,
            create_index: 3,
            modify_index: 3,
        });
        let existing = KvEntry {
            key: "k".into(),
            value: Vec::new(),
            flags: 0,
            create_index: 4,
            modify_index: 5,
            lock_index: u64::MAX,
            session: None,
        };
        let request = LockRequest {
            key: "k",
            value: b"v",
            flags: 0,
            session: "s1",
        };
        let granted = grant(Some(&existing), request, &sessions, 9, false).expect("granted");
        assert_eq!((granted.lock_index, granted.modify_index), (u64::MAX, 9));
    }
}
