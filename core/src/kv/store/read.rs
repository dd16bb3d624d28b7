//! Reads of the KV store, and the indexes blocking queries wait on.

use super::KvStore;
use crate::kv::prefix::under_prefix;
use crate::kv::types::KvEntry;
use std::collections::BTreeSet;

impl KvStore {
    pub fn get(&self, key: &str) -> Option<&KvEntry> {
        self.entries.get(key)
    }

    /// Every entry whose key starts with `prefix`, sorted by key.
    pub fn list(&self, prefix: &str) -> Vec<KvEntry> {
        under_prefix(&self.entries, prefix)
            .map(|(_, entry)| entry.clone())
            .collect()
    }

    /// Consul's `?keys[&separator=]`: the keys under `prefix`, where with a separator anything
    /// after its first occurrence past the prefix is rolled up into one "prefix…separator" entry.
    /// Sorted and deduplicated. An empty separator means none, as in Consul.
    pub fn keys(&self, prefix: &str, separator: Option<&str>) -> Vec<String> {
        let separator = separator.filter(|s| !s.is_empty());
        let mut keys = BTreeSet::new();
        for (key, _) in under_prefix(&self.entries, prefix) {
            keys.insert(match separator {
                Some(separator) => rolled_up(key, prefix.len(), separator),
                None => key.as_str(),
            });
        }
        keys.into_iter().map(str::to_string).collect()
    }

    /// The last log index that changed the table: X-Consul-Index of whole-store reads.
    pub fn index(&self) -> u64 {
        self.last_change_index
    }

    /// The last log index passed to `apply`, changed or not: where a snapshot stands in the log.
    pub fn last_applied_index(&self) -> u64 {
        self.last_applied_index
    }

    /// Index of the newest change under `prefix` (a write or a delete), for blocking queries
    /// on a prefix or, with the key as prefix, on one key. It moves only when something under
    /// the prefix changed, or, rarely, when dropped tombstones raise the floor. It never goes
    /// backwards. 0 when nothing under the prefix ever existed (callers clamp as Consul does).
    pub fn prefix_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            // Everything is under "": the newest change anywhere, without a full scan.
            return self.last_change_index;
        }
        under_prefix(&self.entries, prefix)
            .map(|(_, entry)| entry.modify_index)
            .fold(self.graveyard.max_index_under(prefix), u64::max)
    }

    /// Number of tombstones kept (at most `TOMBSTONES_MAX`), e.g. for metrics.
    pub fn tombstone_count(&self) -> usize {
        self.graveyard.len()
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `key` cut just after the first `separator` following its first `prefix_len` bytes, or
/// whole if there is none. The cut is on a match boundary, hence on a char boundary.
fn rolled_up<'a>(key: &'a str, prefix_len: usize, separator: &str) -> &'a str {
    match key[prefix_len..].find(separator) {
        Some(offset) => &key[..prefix_len + offset + separator.len()],
        None => key,
    }
}
