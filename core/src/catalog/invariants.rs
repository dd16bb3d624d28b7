//! What `apply` keeps true of the catalog, checked on a restored snapshot (and by tests after
//! every step): an error names the first property broken.

use super::store::{CatalogStore, EntryKey};
use crate::state::TableId;
use std::collections::{BTreeMap, BTreeSet};

impl CatalogStore {
    /// `table_index` gives the state machine's index of each catalog table.
    pub fn check_invariants(&self, table_index: impl Fn(TableId) -> u64) -> Result<(), String> {
        self.check_entries()?;
        self.check_instances()?;
        let nodes = table_index(TableId::Nodes);
        for node in self.nodes.values() {
            check_indexes(
                "node",
                &node.name,
                node.create_index,
                node.modify_index,
                nodes,
            )?;
        }
        let services = table_index(TableId::Services);
        for ((node, id), s) in &self.services {
            let what = format!("{node}/{id}");
            check_indexes("service", &what, s.create_index, s.modify_index, services)?;
        }
        let checks = table_index(TableId::Checks);
        for ((node, id), c) in &self.checks {
            let what = format!("{node}/{id}");
            check_indexes("check", &what, c.create_index, c.modify_index, checks)?;
        }
        Ok(())
    }

    /// Every service and check is on a node that exists, under its own key; a service check's
    /// instance exists on that node and its copied name and tags are the instance's.
    fn check_entries(&self) -> Result<(), String> {
        for ((node, id), service) in &self.services {
            if !self.nodes.contains_key(node) || service.id != *id {
                return Err(format!("service {node}/{id} has no node, or another id"));
            }
        }
        for ((node, id), check) in &self.checks {
            if !self.nodes.contains_key(node) || check.check_id != *id || check.node != *node {
                return Err(format!("check {node}/{id} has no node, or another key"));
            }
            if check.service_id.is_empty() {
                continue;
            }
            let service = self.services.get(&(node.clone(), check.service_id.clone()));
            let Some(service) = service else {
                return Err(format!("check {node}/{id} names a service the node lacks"));
            };
            if service.name != check.service_name || service.tags != check.service_tags {
                return Err(format!(
                    "check {node}/{id} carries a stale service name or tags"
                ));
            }
        }
        for (name, node) in &self.nodes {
            if node.name != *name {
                return Err(format!("node {name:?} is stored under another name"));
            }
        }
        Ok(())
    }

    /// The name index lists exactly the instances, and the live per-name indexes exactly the
    /// names and nodes that exist.
    fn check_instances(&self) -> Result<(), String> {
        let mut expected: BTreeMap<&str, BTreeSet<EntryKey>> = BTreeMap::new();
        for (at, service) in &self.services {
            expected
                .entry(&service.name)
                .or_default()
                .insert(at.clone());
        }
        let indexed: BTreeMap<&str, BTreeSet<EntryKey>> = self
            .instances
            .iter()
            .map(|(name, set)| (name.as_str(), set.clone()))
            .collect();
        if indexed != expected {
            return Err("the service name index differs from the services".to_string());
        }
        let names: BTreeSet<&str> = expected.keys().copied().collect();
        self.service_indexes.check_live(&names, "service")?;
        let nodes: BTreeSet<&str> = self.nodes.keys().map(String::as_str).collect();
        self.node_indexes.check_live(&nodes, "node")
    }
}

fn check_indexes(
    what: &str,
    name: &str,
    create: u64,
    modify: u64,
    table: u64,
) -> Result<(), String> {
    if create > modify || modify > table {
        return Err(format!(
            "{what} {name}: create index {create}, modify index {modify}, table index {table} \
             are out of order"
        ));
    }
    Ok(())
}
