//! The KV state machine: committed commands in log order, Consul's results and indexes out.
//!
//! Reads live in `store/read.rs`, snapshots and their checks in `store/snapshot.rs`, the
//! checkers' state digest in `store/digest.rs`.

mod digest;
mod read;
mod restore;
mod snapshot;

use super::graveyard::Graveyard;
use super::prefix::under_prefix;
use super::types::{KvCommand, KvEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most tombstones kept. Past it the oldest are dropped and summarised by a floor index, so
/// memory stays bounded at the cost of spurious (never missed) wake-ups of blocking queries.
pub const TOMBSTONES_MAX: usize = 100_000;

/// Every live key with its Consul indexes, plus what blocking queries need to see deletions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KvStore {
    entries: BTreeMap<String, KvEntry>,
    graveyard: Graveyard,
    /// Last log index that changed the table (a write or a delete that removed something):
    /// Consul's X-Consul-Index for the whole store. Refused CAS and no-op deletes leave it.
    last_change_index: u64,
    /// Last log index given to `apply`, whether or not it changed anything.
    last_applied_index: u64,
}

impl KvStore {
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// Applies a command committed at log `index` (strictly increasing across calls).
    /// Returns whether it took effect, as Consul's `true`/`false` answer to the write.
    pub fn apply(&mut self, index: u64, cmd: &KvCommand) -> bool {
        self.apply_bounded(index, cmd, TOMBSTONES_MAX)
    }

    /// `apply` with the tombstone bound as a parameter, so tests can reach eviction cheaply.
    pub(crate) fn apply_bounded(
        &mut self,
        index: u64,
        cmd: &KvCommand,
        tombstones_max: usize,
    ) -> bool {
        self.begin(index);
        self.apply_at(index, cmd, tombstones_max)
    }

    /// The entry point of every log entry that writes KV: indexes strictly increase across
    /// entries. Several writes may then follow at this one index (a transaction, a session's
    /// invalidation), each through `reach`/`put_entry`/`remove_key`.
    pub(crate) fn begin(&mut self, index: u64) {
        assert!(
            index > self.last_applied_index,
            "KV commands applied out of log order: index {index} after {}",
            self.last_applied_index
        );
        self.last_applied_index = index;
    }

    /// Brings the store to `index` if it is not there yet, for writes that are a side effect
    /// of another table's entry (a catalog write invalidating sessions): no going back.
    pub(crate) fn reach(&mut self, index: u64) {
        assert!(
            index >= self.last_applied_index,
            "KV write at index {index} after {}",
            self.last_applied_index
        );
        self.last_applied_index = index;
    }

    /// Applies `cmd` at `index`, which `begin` has already been given.
    pub(crate) fn apply_at(&mut self, index: u64, cmd: &KvCommand, tombstones_max: usize) -> bool {
        match cmd {
            KvCommand::Set { key, value, flags } => {
                self.write(index, key, value, *flags);
                true
            }
            KvCommand::Cas {
                key,
                value,
                flags,
                modify_index,
            } => {
                let current_index = self.entries.get(key.as_str()).map(|e| e.modify_index);
                // Consul: 0 means "only if absent"; otherwise the key must exist at that index.
                let matches = match current_index {
                    None => *modify_index == 0,
                    Some(current) => *modify_index != 0 && current == *modify_index,
                };
                if matches {
                    self.write(index, key, value, *flags);
                }
                matches
            }
            KvCommand::Delete { key } => {
                self.delete(index, key, tombstones_max);
                true
            }
            KvCommand::DeleteCas { key, modify_index } => {
                self.apply_delete_cas(index, key, *modify_index, tombstones_max)
            }
            KvCommand::DeleteTree { prefix } => {
                self.delete_tree(index, prefix, tombstones_max);
                true
            }
            // Locks need the sessions table: `StateMachine::apply` takes them (`kv/lock.rs`).
            KvCommand::Lock { .. } | KvCommand::Unlock { .. } => false,
        }
    }

    /// Consul (`kvsDeleteCASTxn`) answers `true` when the key is already absent, whatever the
    /// index: the caller wanted it gone and it is. A present key must match its ModifyIndex.
    fn apply_delete_cas(
        &mut self,
        index: u64,
        key: &str,
        modify_index: u64,
        tombstones_max: usize,
    ) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(entry) if entry.modify_index == modify_index => {
                self.delete(index, key, tombstones_max);
                true
            }
            Some(_) => false,
        }
    }

    /// Creates or updates `key`. An update keeps CreateIndex, and also the lock fields: only
    /// lock/unlock operations change those in Consul, never a plain write.
    fn write(&mut self, index: u64, key: &str, value: &[u8], flags: u64) {
        self.graveyard.remove(key);
        match self.entries.get_mut(key) {
            Some(entry) => {
                entry.value = value.to_vec();
                entry.flags = flags;
                entry.modify_index = index;
            }
            None => {
                let entry = KvEntry {
                    key: key.to_string(),
                    value: value.to_vec(),
                    flags,
                    create_index: index,
                    modify_index: index,
                    lock_index: 0,
                    session: None,
                };
                self.entries.insert(key.to_string(), entry);
            }
        }
        self.last_change_index = index;
    }

    /// Stores `entry` whole (a lock, an unlock, a transaction's or an invalidation's write)
    /// at `index`, the index the store is at.
    pub(crate) fn put_entry(&mut self, index: u64, entry: KvEntry) {
        assert_eq!(
            index, self.last_applied_index,
            "a KV write outside its entry"
        );
        assert_eq!(entry.modify_index, index, "{entry:?} written at {index}");
        self.graveyard.remove(&entry.key);
        self.entries.insert(entry.key.clone(), entry);
        self.last_change_index = index;
    }

    /// Deletes `key` at `index` (the index the store is at), leaving a tombstone; returns the
    /// entry removed.
    pub(crate) fn remove_key(&mut self, index: u64, key: &str) -> Option<KvEntry> {
        assert_eq!(
            index, self.last_applied_index,
            "a KV delete outside its entry"
        );
        let removed = self.entries.get(key).cloned();
        self.delete(index, key, TOMBSTONES_MAX);
        removed
    }

    /// The keys whose lock `session` holds, in key order. A scan: invalidations are rare, and
    /// a second index of holders could drift from the entries.
    pub(crate) fn keys_held_by(&self, session: &str) -> Vec<String> {
        self.locked()
            .filter(|e| e.session.as_deref() == Some(session))
            .map(|e| e.key.clone())
            .collect()
    }

    /// The keys each of `sessions` locks, in key order, from one pass over the locked
    /// entries (a sweep that ends many sessions at once scans the store once).
    pub(crate) fn keys_held_by_each(
        &self,
        sessions: &std::collections::BTreeSet<&str>,
    ) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut held: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for entry in self.locked() {
            let session = entry
                .session
                .as_deref()
                .expect("locked entries have a session");
            if sessions.contains(session) {
                held.entry(session.to_string())
                    .or_default()
                    .push(entry.key.clone());
            }
        }
        held
    }

    /// Every locked entry, in key order.
    pub(crate) fn locked(&self) -> impl Iterator<Item = &KvEntry> {
        self.entries.values().filter(|e| e.session.is_some())
    }

    /// Removes `key` if present, leaving a tombstone. Deleting nothing changes no index, as in
    /// Consul, so blocking queries are not woken for nothing.
    fn delete(&mut self, index: u64, key: &str, tombstones_max: usize) {
        if self.entries.remove(key).is_some() {
            self.graveyard.bury(key, index, tombstones_max);
            self.last_change_index = index;
        }
    }

    fn delete_tree(&mut self, index: u64, prefix: &str, tombstones_max: usize) {
        let doomed: Vec<String> = under_prefix(&self.entries, prefix)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &doomed {
            self.delete(index, key, tombstones_max);
        }
    }
}
