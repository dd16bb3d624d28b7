//! The per-service and per-node indexes blocking catalog reads wait on (Consul's
//! `service.<name>` index entries and `service_last_extinction`, and their node equivalents).
//!
//! A name with something in the catalog has its own index: the last log index of a write
//! that touched what a read of it returns. A name with nothing has the extinction index: the
//! last log index at which any name of its kind lost its last entry. So a name's index never
//! goes backwards: it leaves the map only at an extinction, which sets the floor to that index,
//! and it comes back only at a later index.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Indexes of one kind of name (services, or nodes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameIndexes {
    live: BTreeMap<String, u64>,
    /// Last log index at which some name lost its last entry; absent names report it.
    extinction_index: u64,
}

impl NameIndexes {
    pub fn get(&self, name: &str) -> u64 {
        self.live
            .get(name)
            .copied()
            .unwrap_or(self.extinction_index)
    }

    /// Records that a write at `index` touched `name`, which now has entries (`exists`) or
    /// none left.
    pub fn touch(&mut self, name: &str, index: u64, exists: bool) {
        if exists {
            self.live.insert(name.to_string(), index);
        } else if self.live.remove(name).is_some() {
            self.extinction_index = self.extinction_index.max(index);
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.live.keys()
    }

    /// The highest index held, live or extinct.
    pub fn max_index(&self) -> u64 {
        let live = self.live.values().copied().max().unwrap_or(0);
        live.max(self.extinction_index)
    }

    /// Sets every live name's index and the extinction index to `index` (a restore at it).
    pub fn raise_all(&mut self, index: u64) {
        for live in self.live.values_mut() {
            *live = index;
        }
        self.extinction_index = index;
    }

    /// Whether exactly `expected` names are live: an error names one that differs.
    pub fn check_live(&self, expected: &BTreeSet<&str>, what: &str) -> Result<(), String> {
        let live: BTreeSet<&str> = self.live.keys().map(String::as_str).collect();
        if let Some(name) = live.symmetric_difference(expected).next() {
            return Err(format!(
                "{what} {name:?} has an index but no entries, or the reverse"
            ));
        }
        Ok(())
    }
}

impl crate::catalog::CatalogStore {
    /// A restored catalog at raft index `index`: every object index above it is lowered to
    /// it, and every per-name index raised to it (every service and node watch wakes).
    pub(crate) fn clamp_and_raise(&mut self, index: u64) {
        let nodes = self
            .nodes
            .values_mut()
            .map(|n| (&mut n.create_index, &mut n.modify_index));
        let services = self
            .services
            .values_mut()
            .map(|s| (&mut s.create_index, &mut s.modify_index));
        let checks = self
            .checks
            .values_mut()
            .map(|c| (&mut c.create_index, &mut c.modify_index));
        for (create, modify) in nodes.chain(services).chain(checks) {
            *create = (*create).min(index);
            *modify = (*modify).min(index);
        }
        self.service_indexes.raise_all(index);
        self.node_indexes.raise_all(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_name_reports_the_last_extinction() {
        let mut indexes = NameIndexes::default();
        indexes.touch("web", 3, true);
        indexes.touch("db", 4, true);
        assert_eq!((indexes.get("web"), indexes.get("nope")), (3, 0));
        indexes.touch("db", 7, false);
        assert_eq!(indexes.get("db"), 7, "the extinction index");
        assert_eq!(
            indexes.get("nope"),
            7,
            "any extinction moves every absent name"
        );
        assert_eq!(indexes.get("web"), 3, "a live name keeps its own");
    }

    #[test]
    fn touching_an_absent_name_that_stays_absent_changes_nothing() {
        let mut indexes = NameIndexes::default();
        indexes.touch("ghost", 5, false);
        assert_eq!(indexes.max_index(), 0);
        indexes.touch("web", 6, true);
        assert!(indexes.check_live(&["web"].into(), "service").is_ok());
        assert!(indexes.check_live(&BTreeSet::new(), "service").is_err());
    }
}
