//! Tombstones of deleted keys: a deleted key leaves no entry behind, so without them a blocking
//! query on a prefix could not tell that something under it changed (its index would even go
//! backwards). Bounded in count; what is dropped is summarised by a floor index.

use super::prefix::under_prefix;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Delete indexes of deleted keys, plus the highest delete index of any tombstone dropped to
/// respect the bound. Serialized as its primary map only; the by-index order is rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "GraveyardData", into = "GraveyardData")]
pub(crate) struct Graveyard {
    delete_index_by_key: BTreeMap<String, u64>,
    /// Same tombstones ordered by (delete index, key): the oldest is the first, found in
    /// O(log n). Ties (one DeleteTree) break by key, so eviction is deterministic.
    keys_by_delete_index: BTreeSet<(u64, String)>,
    /// Highest delete index among dropped tombstones: any prefix may have held one of them.
    floor_index: u64,
}

/// The stored form: the secondary order is derivable, so it is not written to snapshots.
#[derive(Serialize, Deserialize)]
struct GraveyardData {
    delete_index_by_key: BTreeMap<String, u64>,
    floor_index: u64,
}

impl From<GraveyardData> for Graveyard {
    fn from(data: GraveyardData) -> Graveyard {
        let keys_by_delete_index = data
            .delete_index_by_key
            .iter()
            .map(|(key, index)| (*index, key.clone()))
            .collect();
        Graveyard {
            delete_index_by_key: data.delete_index_by_key,
            keys_by_delete_index,
            floor_index: data.floor_index,
        }
    }
}

impl From<Graveyard> for GraveyardData {
    fn from(graveyard: Graveyard) -> GraveyardData {
        GraveyardData {
            delete_index_by_key: graveyard.delete_index_by_key,
            floor_index: graveyard.floor_index,
        }
    }
}

impl Graveyard {
    /// Records that `key` was deleted at `delete_index`, then drops the oldest tombstones
    /// until at most `tombstones_max` remain, raising the floor to cover each one dropped.
    pub(crate) fn bury(&mut self, key: &str, delete_index: u64, tombstones_max: usize) {
        self.remove(key);
        self.delete_index_by_key
            .insert(key.to_string(), delete_index);
        self.keys_by_delete_index
            .insert((delete_index, key.to_string()));
        while self.delete_index_by_key.len() > tombstones_max {
            let Some((oldest_index, oldest_key)) = self.keys_by_delete_index.pop_first() else {
                break;
            };
            let removed = self.delete_index_by_key.remove(&oldest_key);
            assert_eq!(removed, Some(oldest_index), "graveyard orders disagree");
            self.floor_index = self.floor_index.max(oldest_index);
        }
    }

    /// Forgets the tombstone of a key written again: its new ModifyIndex is higher than the
    /// delete index, so prefix indexes lose nothing and the graveyard does not fill with live keys.
    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(index) = self.delete_index_by_key.remove(key) {
            let removed = self.keys_by_delete_index.remove(&(index, key.to_string()));
            assert!(removed, "graveyard orders disagree on {key:?}");
        }
    }

    /// Raises the floor to `index`: tombstones below it are dropped (the floor covers them),
    /// those above it are lowered to it (a restored store from a longer log).
    pub(crate) fn raise_floor(&mut self, index: u64) {
        let kept: Vec<String> = self
            .delete_index_by_key
            .iter()
            .filter(|(_, delete_index)| **delete_index >= index)
            .map(|(key, _)| key.clone())
            .collect();
        self.delete_index_by_key = kept.iter().map(|key| (key.clone(), index)).collect();
        self.keys_by_delete_index = kept.into_iter().map(|key| (index, key)).collect();
        self.floor_index = index;
    }

    /// Highest delete index of tombstones under `prefix`, never below the floor.
    pub(crate) fn max_index_under(&self, prefix: &str) -> u64 {
        under_prefix(&self.delete_index_by_key, prefix)
            .map(|(_, index)| *index)
            .fold(self.floor_index, u64::max)
    }

    pub(crate) fn floor_index(&self) -> u64 {
        self.floor_index
    }

    pub(crate) fn len(&self) -> usize {
        self.delete_index_by_key.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.delete_index_by_key.iter()
    }

    /// Whether both orders hold the same tombstones (they can only disagree through a bug).
    pub(crate) fn orders_agree(&self) -> bool {
        self.delete_index_by_key.len() == self.keys_by_delete_index.len()
            && self
                .keys_by_delete_index
                .iter()
                .all(|(index, key)| self.delete_index_by_key.get(key) == Some(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_index_under_sees_only_the_prefix() {
        let mut graveyard = Graveyard::default();
        graveyard.bury("a/x", 5, 10);
        graveyard.bury("b/y", 7, 10);
        assert_eq!(graveyard.max_index_under("a/"), 5);
        assert_eq!(graveyard.max_index_under("b"), 7);
        assert_eq!(graveyard.max_index_under(""), 7);
        assert_eq!(graveyard.max_index_under("c"), 0);
    }

    #[test]
    fn eviction_drops_oldest_and_raises_floor() {
        let mut graveyard = Graveyard::default();
        graveyard.bury("a", 3, 2);
        graveyard.bury("b", 4, 2);
        graveyard.bury("c", 9, 2);
        assert_eq!(graveyard.len(), 2);
        assert_eq!(graveyard.floor_index(), 3);
        // "a"'s tombstone is gone, but its prefix index may not fall back below it.
        assert_eq!(graveyard.max_index_under("a"), 3);
        assert_eq!(graveyard.max_index_under("c"), 9);
        assert!(graveyard.orders_agree());
    }

    #[test]
    fn eviction_ties_break_by_key() {
        let mut graveyard = Graveyard::default();
        for key in ["c", "a", "b"] {
            graveyard.bury(key, 6, 2);
        }
        let left: Vec<&str> = graveyard.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(left, ["b", "c"]);
        assert_eq!(graveyard.floor_index(), 6);
    }

    #[test]
    fn remove_and_rebury_keep_orders_consistent() {
        let mut graveyard = Graveyard::default();
        graveyard.bury("a", 2, 10);
        graveyard.bury("a", 8, 10);
        assert_eq!(graveyard.len(), 1);
        assert_eq!(graveyard.max_index_under("a"), 8);
        graveyard.remove("a");
        graveyard.remove("missing");
        assert_eq!(graveyard.len(), 0);
        assert!(graveyard.orders_agree());
    }

    #[test]
    fn serde_round_trip_rebuilds_the_index_order() {
        let mut graveyard = Graveyard::default();
        graveyard.bury("a", 2, 1);
        graveyard.bury("b", 5, 1);
        let bytes = bincode::serialize(&graveyard).expect("serializable");
        let back: Graveyard = bincode::deserialize(&bytes).expect("deserializable");
        assert_eq!(back, graveyard);
        assert!(back.orders_agree());
    }
}
