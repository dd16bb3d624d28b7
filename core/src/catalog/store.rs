//! The catalog state machine: registrations and deregistrations in log order, Consul's
//! results and indexes out. Reads are in `read.rs`, consistency checks in `invariants.rs`.
//!
//! `apply` is total: whatever an entry holds (old versions may have written anything), it
//! either applies whole or changes nothing, and never panics. A write that leaves an object
//! as it was (indexes aside) moves no index, so an agent's anti-entropy re-registering what
//! is already there wakes no blocking query.

use super::command::ServiceRegistration;
use super::command::{CatalogCommand, CheckRegistration, NodeRegistration, Registration};
use super::indexes::NameIndexes;
use super::types::{HealthCheck, Node, Service};
use crate::state::TableId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// (node name, service or check id): services and checks are unique per node.
pub type EntryKey = (String, String);

/// Nodes, service instances and checks, with the indexes blocking reads wait on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogStore {
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) services: BTreeMap<EntryKey, Service>,
    pub(super) checks: BTreeMap<EntryKey, HealthCheck>,
    /// Service name to its instances: `service_nodes` without a scan of every service.
    pub(super) instances: BTreeMap<String, BTreeSet<EntryKey>>,
    pub(super) service_indexes: NameIndexes,
    pub(super) node_indexes: NameIndexes,
}

/// What one command did: Consul's `true`/`false`, and the tables whose index must move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub ok: bool,
    pub tables: BTreeSet<TableId>,
}

/// What a command changed so far: the names whose indexes move when it is done.
#[derive(Default)]
struct Touched {
    nodes: BTreeSet<String>,
    services: BTreeSet<String>,
    tables: BTreeSet<TableId>,
}

/// The create and modify indexes every stored object carries.
trait Indexed: PartialEq {
    fn indexes_mut(&mut self) -> (&mut u64, &mut u64);
}

macro_rules! indexed {
    ($($t:ty),*) => {$(
        impl Indexed for $t {
            fn indexes_mut(&mut self) -> (&mut u64, &mut u64) {
                (&mut self.create_index, &mut self.modify_index)
            }
        }
    )*};
}
indexed!(Node, Service, HealthCheck);

enum Upserted<V> {
    Unchanged,
    Created,
    Replaced(V),
}

/// Writes `new` at `key` unless an equal object (indexes aside) is there. A replaced object
/// keeps its create index; a written one gets `index` as its modify index.
fn upsert<K: Ord, V: Indexed>(
    map: &mut BTreeMap<K, V>,
    key: K,
    mut new: V,
    index: u64,
) -> Upserted<V> {
    if let Some(old) = map.get_mut(&key) {
        let (create, modify) = old.indexes_mut();
        let (create, modify) = (*create, *modify);
        let (new_create, new_modify) = new.indexes_mut();
        (*new_create, *new_modify) = (create, modify);
        if *old == new {
            return Upserted::Unchanged;
        }
    } else {
        *new.indexes_mut().0 = index;
    }
    *new.indexes_mut().1 = index;
    match map.insert(key, new) {
        Some(old) => Upserted::Replaced(old),
        None => Upserted::Created,
    }
}

/// The values of `map` on `node`, in id order.
pub(super) fn on_node<'a, V>(
    map: &'a BTreeMap<EntryKey, V>,
    node: &'a str,
) -> impl Iterator<Item = (&'a EntryKey, &'a V)> + 'a {
    map.range((node.to_string(), String::new())..)
        .take_while(move |((n, _), _)| n == node)
}

fn key(node: &str, id: &str) -> EntryKey {
    (node.to_string(), id.to_string())
}

impl CatalogStore {
    pub fn new() -> CatalogStore {
        CatalogStore::default()
    }

    /// Applies a command committed at log `index`.
    pub fn apply(&mut self, index: u64, cmd: &CatalogCommand) -> Applied {
        let mut touched = Touched::default();
        let ok = match cmd {
            CatalogCommand::Register(reg) => self.register(index, reg, &mut touched),
            CatalogCommand::Deregister {
                node,
                service_id,
                check_id,
            } => {
                self.deregister(
                    node,
                    service_id.as_deref(),
                    check_id.as_deref(),
                    &mut touched,
                );
                true
            }
        };
        for node in &touched.nodes {
            let exists = self.nodes.contains_key(node);
            self.node_indexes.touch(node, index, exists);
        }
        for name in &touched.services {
            let exists = self.instances.contains_key(name);
            self.service_indexes.touch(name, index, exists);
        }
        Applied {
            ok,
            tables: touched.tables,
        }
    }

    /// The per-service index (`WatchKey::Service`): see `indexes.rs`.
    pub fn service_index(&self, name: &str) -> u64 {
        self.service_indexes.get(name)
    }

    /// The per-node index (`WatchKey::Node`): see `indexes.rs`.
    pub fn node_index(&self, name: &str) -> u64 {
        self.node_indexes.get(name)
    }

    /// Refuses (returns false, changes nothing) a check naming a service that the node will
    /// not have; otherwise writes the node, the service, then the checks.
    fn register(&mut self, index: u64, reg: &Registration, t: &mut Touched) -> bool {
        let node = reg.node.name.as_str();
        let registered = |id: &str| reg.service.as_ref().is_some_and(|s| s.id == id);
        let refused = reg.checks.iter().any(|c| {
            !c.service_id.is_empty()
                && !registered(&c.service_id)
                && !self.services.contains_key(&key(node, &c.service_id))
        });
        if refused {
            return false;
        }
        if !reg.skip_node_update || !self.nodes.contains_key(node) {
            self.upsert_node(index, &reg.node, t);
        }
        if let Some(service) = &reg.service {
            self.upsert_service(index, node, service, t);
        }
        // A check id given twice: the last wins, and only it is written, so the same
        // registration again is a no-op (as it must be for anti-entropy).
        let last: BTreeMap<&str, usize> = reg
            .checks
            .iter()
            .enumerate()
            .map(|(at, c)| (c.check_id.as_str(), at))
            .collect();
        for (at, check) in reg.checks.iter().enumerate() {
            if last.get(check.check_id.as_str()) == Some(&at) {
                self.upsert_check(index, node, check, t);
            }
        }
        true
    }

    fn upsert_node(&mut self, index: u64, reg: &NodeRegistration, t: &mut Touched) {
        let node = Node {
            id: reg.id.clone(),
            name: reg.name.clone(),
            address: reg.address.clone(),
            datacenter: reg.datacenter.clone(),
            tagged_addresses: reg.tagged_addresses.clone(),
            meta: reg.meta.clone(),
            create_index: 0,
            modify_index: 0,
        };
        if let Upserted::Unchanged = upsert(&mut self.nodes, reg.name.clone(), node, index) {
            return;
        }
        t.tables.insert(TableId::Nodes);
        t.nodes.insert(reg.name.clone());
        // Every instance on the node is answered with the node's data.
        let names = self.service_names_on(&reg.name);
        t.services.extend(names);
    }

    fn upsert_service(
        &mut self,
        index: u64,
        node: &str,
        reg: &ServiceRegistration,
        t: &mut Touched,
    ) {
        let service = reg.to_service();
        let at = key(node, &reg.id);
        match upsert(&mut self.services, at.clone(), service, index) {
            Upserted::Unchanged => return,
            Upserted::Created => {}
            // An instance renamed leaves its old name (which may go extinct).
            Upserted::Replaced(old) => {
                self.unlink(&old.name, &at);
                t.services.insert(old.name);
            }
        }
        self.instances
            .entry(reg.name.clone())
            .or_default()
            .insert(at.clone());
        t.services.insert(reg.name.clone());
        t.nodes.insert(node.to_string());
        t.tables.insert(TableId::Services);
        self.refresh_service_checks(index, &at, t);
    }

    /// Keeps the service name and tags copied into the instance's checks current.
    fn refresh_service_checks(&mut self, index: u64, at: &EntryKey, t: &mut Touched) {
        let Some(service) = self.services.get(at) else {
            return;
        };
        let (node, id) = at;
        for (_, check) in self.checks.range_mut(key(node, "")..) {
            if check.node != *node {
                break;
            }
            let stale = check.service_name != service.name || check.service_tags != service.tags;
            if check.service_id == *id && stale {
                check.service_name = service.name.clone();
                check.service_tags = service.tags.clone();
                check.modify_index = index;
                t.tables.insert(TableId::Checks);
            }
        }
    }

    fn upsert_check(&mut self, index: u64, node: &str, reg: &CheckRegistration, t: &mut Touched) {
        let service = self.services.get(&key(node, &reg.service_id));
        let (service_name, service_tags) = match service {
            Some(s) if !reg.service_id.is_empty() => (s.name.clone(), s.tags.clone()),
            _ => (String::new(), Vec::new()),
        };
        let check = HealthCheck {
            node: node.to_string(),
            check_id: reg.check_id.clone(),
            name: reg.name.clone(),
            status: reg.status,
            notes: reg.notes.clone(),
            output: reg.output.clone(),
            service_id: reg.service_id.clone(),
            service_name,
            service_tags,
            check_type: reg.check_type.clone(),
            interval: reg.interval.clone(),
            timeout: reg.timeout.clone(),
            definition: reg.definition.clone(),
            create_index: 0,
            modify_index: 0,
        };
        let at = key(node, &reg.check_id);
        match upsert(&mut self.checks, at.clone(), check, index) {
            Upserted::Unchanged => return,
            Upserted::Created => {}
            Upserted::Replaced(old) => self.touch_check_scope(&old, t),
        }
        if let Some(check) = self.checks.get(&at).cloned() {
            self.touch_check_scope(&check, t);
        }
        t.tables.insert(TableId::Checks);
    }

    /// A check's change shows in its node's answers, and in those of the services it decides
    /// the health of: its own instance's, or every instance on the node for a node check.
    fn touch_check_scope(&self, check: &HealthCheck, t: &mut Touched) {
        t.nodes.insert(check.node.clone());
        if check.service_id.is_empty() {
            t.services.extend(self.service_names_on(&check.node));
        } else {
            t.services.insert(check.service_name.clone());
        }
    }

    fn deregister(
        &mut self,
        node: &str,
        service: Option<&str>,
        check: Option<&str>,
        t: &mut Touched,
    ) {
        if service.is_none() && check.is_none() {
            return self.remove_node(node, t);
        }
        if let Some(id) = service {
            self.remove_service(node, id, t);
        }
        if let Some(id) = check {
            self.remove_check(node, id, t);
        }
    }

    fn remove_node(&mut self, node: &str, t: &mut Touched) {
        let services: Vec<String> = on_node(&self.services, node)
            .map(|((_, id), _)| id.clone())
            .collect();
        for id in services {
            self.remove_service(node, &id, t);
        }
        let checks: Vec<String> = on_node(&self.checks, node)
            .map(|((_, id), _)| id.clone())
            .collect();
        for id in checks {
            self.remove_check(node, &id, t);
        }
        if self.nodes.remove(node).is_some() {
            t.nodes.insert(node.to_string());
            t.tables.insert(TableId::Nodes);
        }
    }

    /// Removes the instance and its checks.
    fn remove_service(&mut self, node: &str, id: &str, t: &mut Touched) {
        let at = key(node, id);
        let Some(service) = self.services.remove(&at) else {
            return;
        };
        self.unlink(&service.name, &at);
        t.services.insert(service.name);
        t.nodes.insert(node.to_string());
        t.tables.insert(TableId::Services);
        let checks: Vec<String> = on_node(&self.checks, node)
            .filter(|(_, c)| c.service_id == id)
            .map(|((_, check_id), _)| check_id.clone())
            .collect();
        for check_id in checks {
            self.remove_check(node, &check_id, t);
        }
    }

    fn remove_check(&mut self, node: &str, id: &str, t: &mut Touched) {
        if let Some(check) = self.checks.remove(&key(node, id)) {
            self.touch_check_scope(&check, t);
            t.tables.insert(TableId::Checks);
        }
    }

    fn unlink(&mut self, name: &str, at: &EntryKey) {
        if let Some(instances) = self.instances.get_mut(name) {
            instances.remove(at);
            if instances.is_empty() {
                self.instances.remove(name);
            }
        }
    }

    pub(super) fn service_names_on(&self, node: &str) -> BTreeSet<String> {
        on_node(&self.services, node)
            .map(|(_, s)| s.name.clone())
            .collect()
    }
}
