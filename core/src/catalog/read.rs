//! Catalog and health reads: pure functions of the store, returning owned data in a stable
//! order (by node, then by id), as Consul's endpoints answer them.

use super::store::{on_node, CatalogStore};
use super::types::{CheckStatus, HealthCheck, Node, Service, ServiceEntry};
use std::collections::{BTreeMap, BTreeSet};

impl CatalogStore {
    /// `catalog/services`: every service name with the union of its instances' tags.
    pub fn services(&self) -> BTreeMap<String, Vec<String>> {
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for service in self.services.values() {
            let union = tags.entry(service.name.clone()).or_default();
            union.extend(service.tags.iter().cloned());
        }
        tags.into_iter()
            .map(|(name, union)| (name, union.into_iter().collect()))
            .collect()
    }

    /// `catalog/service/:name`: the instances carrying every tag of `tags`, with their node.
    pub fn service_nodes(&self, name: &str, tags: &[String]) -> Vec<(Node, Service)> {
        let Some(instances) = self.instances.get(name) else {
            return Vec::new();
        };
        instances
            .iter()
            .filter_map(|at| Some((self.nodes.get(&at.0)?, self.services.get(at)?)))
            .filter(|(_, service)| tags.iter().all(|tag| service.tags.contains(tag)))
            .map(|(node, service)| (node.clone(), service.clone()))
            .collect()
    }

    /// `catalog/nodes`, by name.
    pub fn nodes(&self) -> Vec<Node> {
        self.nodes.values().cloned().collect()
    }

    /// `catalog/node/:name`: the node and its instances; `None` for an unknown node.
    pub fn node(&self, name: &str) -> Option<(Node, Vec<Service>)> {
        let node = self.nodes.get(name)?.clone();
        let services = on_node(&self.services, name)
            .map(|(_, s)| s.clone())
            .collect();
        Some((node, services))
    }

    /// `health/service/:name`: each instance with the node's own checks and its own. With
    /// `passing_only`, an entry with any check not passing (warning too) is dropped.
    pub fn health_service(
        &self,
        name: &str,
        tags: &[String],
        passing_only: bool,
    ) -> Vec<ServiceEntry> {
        let entries = self
            .service_nodes(name, tags)
            .into_iter()
            .map(|(node, service)| {
                // As Consul: the node's checks first, then the instance's, each by id.
                let on = || on_node(&self.checks, &node.name).map(|(_, c)| c);
                let node_level = on().filter(|c| c.service_id.is_empty());
                let own = on().filter(|c| !c.service_id.is_empty() && c.service_id == service.id);
                let checks = node_level.chain(own).cloned().collect();
                ServiceEntry {
                    node,
                    service,
                    checks,
                }
            });
        let passing = |e: &ServiceEntry| e.checks.iter().all(|c| c.status == CheckStatus::Passing);
        entries.filter(|e| !passing_only || passing(e)).collect()
    }

    /// `health/checks/:service`: the service-level checks of every instance of `name`.
    pub fn service_checks(&self, name: &str) -> Vec<HealthCheck> {
        let Some(instances) = self.instances.get(name) else {
            return Vec::new();
        };
        let mut checks = Vec::new();
        for (node, id) in instances {
            let of_instance = on_node(&self.checks, node).map(|(_, c)| c);
            checks.extend(of_instance.filter(|c| c.service_id == *id).cloned());
        }
        checks
    }

    /// Whether node `name` is registered.
    pub fn has_node(&self, name: &str) -> bool {
        self.nodes.contains_key(name)
    }

    /// Check `check_id` on `node` (node-level or of an instance), if registered.
    pub fn check(&self, node: &str, check_id: &str) -> Option<&HealthCheck> {
        self.checks.get(&(node.to_string(), check_id.to_string()))
    }

    /// `health/node/:node`: every check on the node, node-level and service-level.
    pub fn node_checks(&self, node: &str) -> Vec<HealthCheck> {
        on_node(&self.checks, node)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// `health/state/:state`: the checks in `status`, or all of them for `None` ("any").
    pub fn checks_in_state(&self, status: Option<CheckStatus>) -> Vec<HealthCheck> {
        let wanted = |c: &&HealthCheck| status.is_none_or(|s| c.status == s);
        self.checks.values().filter(wanted).cloned().collect()
    }
}
