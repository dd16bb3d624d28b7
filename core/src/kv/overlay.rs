//! Writes staged over the KV store without touching it: a transaction evaluates every
//! operation here (later operations see earlier ones' effects), and only if none failed are
//! the staged changes committed, all at one index. A single lock command uses the same path.

use super::lock::{self, LockChange, LockRefusal, LockRequest};
use super::prefix::under_prefix;
use super::types::KvEntry;
use super::KvStore;
use crate::session::SessionStore;
use std::collections::{BTreeMap, BTreeSet};

/// The store as it would be after the staged writes, at `index`.
pub(crate) struct Overlay<'a> {
    kv: &'a KvStore,
    sessions: &'a SessionStore,
    index: u64,
    /// Per key: its new entry, or `None` when deleted.
    changes: BTreeMap<String, Option<KvEntry>>,
    /// Keys a lock or unlock took effect on: each is reported as a `LockChange`, even a
    /// re-acquire by the holder (which changes no session).
    locked: BTreeSet<String>,
}

/// What to commit: the staged changes and the keys whose lock moved.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    changes: BTreeMap<String, Option<KvEntry>>,
    locked: BTreeSet<String>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(kv: &'a KvStore, sessions: &'a SessionStore, index: u64) -> Overlay<'a> {
        Overlay {
            kv,
            sessions,
            index,
            changes: BTreeMap::new(),
            locked: BTreeSet::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&KvEntry> {
        match self.changes.get(key) {
            Some(change) => change.as_ref(),
            None => self.kv.get(key),
        }
    }

    /// Every entry under `prefix` as staged, in key order.
    pub(crate) fn list(&self, prefix: &str) -> Vec<KvEntry> {
        let mut view: BTreeMap<String, KvEntry> = self
            .kv
            .list(prefix)
            .into_iter()
            .map(|e| (e.key.clone(), e))
            .collect();
        for (key, change) in under_prefix(&self.changes, prefix) {
            match change {
                Some(entry) => view.insert(key.clone(), entry.clone()),
                None => view.remove(key),
            };
        }
        view.into_values().collect()
    }

    /// A plain write: keeps CreateIndex and the lock fields of an existing key.
    pub(crate) fn set(&mut self, key: &str, value: &[u8], flags: u64) -> KvEntry {
        let entry = match self.get(key) {
            Some(old) => KvEntry {
                value: value.to_vec(),
                flags,
                modify_index: self.index,
                ..old.clone()
            },
            None => KvEntry {
                key: key.to_string(),
                value: value.to_vec(),
                flags,
                create_index: self.index,
                modify_index: self.index,
                lock_index: 0,
                session: None,
            },
        };
        self.changes.insert(key.to_string(), Some(entry.clone()));
        entry
    }

    /// Consul's check-and-set: 0 means "only if absent", otherwise the ModifyIndex must match.
    pub(crate) fn cas(&mut self, key: &str, value: &[u8], flags: u64, cas: u64) -> Option<KvEntry> {
        let matches = match self.get(key) {
            None => cas == 0,
            Some(entry) => cas != 0 && entry.modify_index == cas,
        };
        matches.then(|| self.set(key, value, flags))
    }

    pub(crate) fn delete(&mut self, key: &str) {
        if self.get(key).is_some() {
            self.changes.insert(key.to_string(), None);
        }
    }

    /// Consul's delete-cas: true when the key is absent, or present at ModifyIndex `cas`.
    pub(crate) fn delete_cas(&mut self, key: &str, cas: u64) -> bool {
        match self.get(key) {
            None => true,
            Some(entry) if entry.modify_index == cas => {
                self.delete(key);
                true
            }
            Some(_) => false,
        }
    }

    pub(crate) fn delete_tree(&mut self, prefix: &str) {
        for entry in self.list(prefix) {
            self.changes.insert(entry.key, None);
        }
    }

    /// Takes the lock (see `lock::grant`); `steal` only under the planted bug.
    pub(crate) fn lock(
        &mut self,
        request: LockRequest<'_>,
        steal: bool,
    ) -> Result<KvEntry, LockRefusal> {
        let entry = lock::grant(
            self.get(request.key),
            request,
            self.sessions,
            self.index,
            steal,
        )?;
        self.stage_lock(entry.clone());
        Ok(entry)
    }

    /// Gives the lock up (see `lock::release`); `None` when not held by that session.
    pub(crate) fn unlock(&mut self, request: LockRequest<'_>) -> Option<KvEntry> {
        let entry = lock::release(self.get(request.key), request, self.index)?;
        self.stage_lock(entry.clone());
        Some(entry)
    }

    fn stage_lock(&mut self, entry: KvEntry) {
        self.locked.insert(entry.key.clone());
        self.changes.insert(entry.key.clone(), Some(entry));
    }

    pub(crate) fn into_staged(self) -> Staged {
        Staged {
            changes: self.changes,
            locked: self.locked,
        }
    }
}

impl KvStore {
    /// Writes staged changes at `index` (the store must be at `index`: see `reach`), and says
    /// which keys' locks moved: every lock/unlock, and every key whose holder changed (a
    /// locked key deleted).
    pub(crate) fn commit(&mut self, index: u64, staged: Staged) -> Vec<LockChange> {
        let mut lock_changes = Vec::new();
        for (key, change) in staged.changes {
            let before = self.get(&key).and_then(|e| e.session.clone());
            let after = change.as_ref().and_then(|e| e.session.clone());
            let lock_index = change.as_ref().map_or(0, |e| e.lock_index);
            let deleted = change.is_none();
            match change {
                Some(entry) => self.put_entry(index, entry),
                None => {
                    self.remove_key(index, &key);
                }
            }
            if before != after || staged.locked.contains(&key) {
                lock_changes.push(LockChange {
                    key,
                    before,
                    after,
                    lock_index,
                    modify_index: index,
                    deleted,
                    delay_ns: 0,
                });
            }
        }
        lock_changes
    }
}
