//! Snapshots of the KV store (bincode), and the consistency checks a restored one must pass.

use super::{KvStore, TOMBSTONES_MAX};

impl KvStore {
    pub fn to_snapshot_bytes(&self) -> Vec<u8> {
        // Only strings, bytes and integers in ordered maps: bincode has nothing it can refuse.
        bincode::serialize(self).expect("a KvStore always serializes")
    }

    /// Decodes a snapshot and refuses one whose contents contradict themselves, since the
    /// state machine's assertions would otherwise fire later, far from the cause.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<KvStore, String> {
        let store: KvStore = bincode::deserialize(bytes)
            .map_err(|e| format!("KV snapshot cannot be decoded: {e}"))?;
        store.check_invariants()?;
        Ok(store)
    }

    /// Every property `apply` maintains; an error names the first one broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let change = self.last_change_index;
        if change > self.last_applied_index {
            return Err(format!(
                "last change index {change} is after last applied index {}",
                self.last_applied_index
            ));
        }
        let mut newest = self.graveyard.floor_index();
        for (key, entry) in &self.entries {
            let indexes_ordered = 0 < entry.create_index
                && entry.create_index <= entry.modify_index
                && entry.modify_index <= change;
            if entry.key != *key || !indexes_ordered {
                return Err(format!("entry {key:?} is inconsistent: {entry:?}"));
            }
            newest = newest.max(entry.modify_index);
        }
        self.check_graveyard()?;
        newest = newest.max(self.graveyard.max_index_under(""));
        // prefix_index("") answers last_change_index without a scan; it must be the same.
        if newest != change {
            return Err(format!(
                "newest change {newest} is not last change index {change}"
            ));
        }
        Ok(())
    }

    fn check_graveyard(&self) -> Result<(), String> {
        let floor = self.graveyard.floor_index();
        if !self.graveyard.orders_agree() || self.graveyard.len() > TOMBSTONES_MAX {
            return Err(format!(
                "graveyard is inconsistent ({} tombstones)",
                self.graveyard.len()
            ));
        }
        for (key, delete_index) in self.graveyard.iter() {
            // The oldest tombstones are dropped first, so survivors are at or above the floor.
            let index_valid = floor <= *delete_index && *delete_index <= self.last_change_index;
            if self.entries.contains_key(key) || !index_valid {
                return Err(format!(
                    "tombstone {key:?} at {delete_index} is inconsistent"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::types::KvCommand;

    fn set(key: &str) -> KvCommand {
        KvCommand::Set {
            key: key.to_string(),
            value: b"v".to_vec(),
            flags: 0,
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let mut store = KvStore::new();
        store.apply(1, &set("a"));
        store.apply(2, &set("b"));
        store.apply(
            3,
            &KvCommand::Delete {
                key: "a".to_string(),
            },
        );
        let back = KvStore::from_snapshot_bytes(&store.to_snapshot_bytes()).expect("valid");
        assert_eq!(back, store);
        assert_eq!(back.prefix_index("a"), 3);
        assert_eq!(back.last_applied_index(), 3);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(KvStore::from_snapshot_bytes(&[1, 2, 3]).is_err());
        assert!(KvStore::from_snapshot_bytes(&[]).is_err());
    }

    #[test]
    fn contradictory_snapshot_is_refused() {
        let mut store = KvStore::new();
        store.apply(4, &set("a"));
        let mut broken = store.clone();
        broken.last_change_index = 9;
        let error = KvStore::from_snapshot_bytes(&broken.to_snapshot_bytes()).unwrap_err();
        assert!(error.contains("last applied"), "{error}");

        let mut broken = store.clone();
        broken.entries.get_mut("a").expect("present").key = "b".to_string();
        assert!(KvStore::from_snapshot_bytes(&broken.to_snapshot_bytes()).is_err());

        let mut broken = store;
        broken.graveyard.bury("a", 4, TOMBSTONES_MAX);
        assert!(KvStore::from_snapshot_bytes(&broken.to_snapshot_bytes()).is_err());
    }
}
