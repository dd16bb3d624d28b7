//! The catalog and health endpoints as requests: the reads (`CatalogRead`, each with the index
//! a blocking query on it waits for) and the register/deregister writes, served here.
//!
//! Writes are checked against the leader's state before they are proposed
//! (`catalog::validate_command`), so a bad registration is refused with Consul's message
//! instead of reaching the log and being skipped there.

use super::api::{ApiError, Response};
use super::command::Command;
use super::pending::Origin;
use super::Agent;
use crate::catalog::{
    fill_defaults, validate_command, CatalogCommand, CatalogStore, CheckStatus, HealthCheck, Node,
    Service, ServiceEntry,
};
use crate::state::{TableId, WatchKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A read of the catalog (`catalog/*`) or of health (`health/*`), as Consul's endpoints take
/// them. Tags filter (every one must match); `passing` filters after the read, so it moves no
/// index (Consul's X-Consul-Index is the same with or without it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogRead {
    CatalogServices,
    CatalogService {
        name: String,
        tags: Vec<String>,
    },
    CatalogNodes,
    CatalogNode {
        name: String,
    },
    HealthService {
        name: String,
        tags: Vec<String>,
        passing: bool,
    },
    HealthChecks {
        service: String,
    },
    HealthNode {
        node: String,
    },
    /// `None` is Consul's "any".
    HealthState {
        state: Option<CheckStatus>,
    },
}

/// What a catalog read returns, before JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogAnswer {
    /// Service name to the union of its instances' tags.
    Services(BTreeMap<String, Vec<String>>),
    /// Instances of one service, each with its node.
    Instances(Vec<(Node, Service)>),
    Nodes(Vec<Node>),
    /// A node and its instances; `None` for an unknown node (Consul answers `null`).
    Node(Option<(Node, Vec<Service>)>),
    Entries(Vec<ServiceEntry>),
    Checks(Vec<HealthCheck>),
}

impl CatalogRead {
    /// What the read covers (see `WatchKey`): per service for the reads of one service, per
    /// node for the reads of one node, a whole table for the listings.
    pub fn key(&self) -> WatchKey {
        match self {
            CatalogRead::CatalogServices => WatchKey::Table(TableId::Services),
            CatalogRead::CatalogNodes => WatchKey::Table(TableId::Nodes),
            CatalogRead::HealthState { .. } => WatchKey::Table(TableId::Checks),
            CatalogRead::CatalogService { name, .. } | CatalogRead::HealthService { name, .. } => {
                WatchKey::Service(name.clone())
            }
            CatalogRead::HealthChecks { service } => WatchKey::Service(service.clone()),
            CatalogRead::CatalogNode { name } => WatchKey::Node(name.clone()),
            CatalogRead::HealthNode { node } => WatchKey::Node(node.clone()),
        }
    }

    /// A short name for logs and traces.
    pub fn kind(&self) -> &'static str {
        match self {
            CatalogRead::CatalogServices => "catalog-services",
            CatalogRead::CatalogService { .. } => "catalog-service",
            CatalogRead::CatalogNodes => "catalog-nodes",
            CatalogRead::CatalogNode { .. } => "catalog-node",
            CatalogRead::HealthService { .. } => "health-service",
            CatalogRead::HealthChecks { .. } => "health-checks",
            CatalogRead::HealthNode { .. } => "health-node",
            CatalogRead::HealthState { .. } => "health-state",
        }
    }

    /// The answer from `catalog` (a pure function of the state).
    pub fn answer(&self, catalog: &CatalogStore) -> CatalogAnswer {
        match self {
            CatalogRead::CatalogServices => CatalogAnswer::Services(catalog.services()),
            CatalogRead::CatalogService { name, tags } => {
                CatalogAnswer::Instances(catalog.service_nodes(name, tags))
            }
            CatalogRead::CatalogNodes => CatalogAnswer::Nodes(catalog.nodes()),
            CatalogRead::CatalogNode { name } => CatalogAnswer::Node(catalog.node(name)),
            CatalogRead::HealthService {
                name,
                tags,
                passing,
            } => CatalogAnswer::Entries(catalog.health_service(name, tags, *passing)),
            CatalogRead::HealthChecks { service } => {
                CatalogAnswer::Checks(catalog.service_checks(service))
            }
            CatalogRead::HealthNode { node } => CatalogAnswer::Checks(catalog.node_checks(node)),
            CatalogRead::HealthState { state } => {
                CatalogAnswer::Checks(catalog.checks_in_state(*state))
            }
        }
    }
}

impl Agent {
    /// Serves `Request::CatalogWrite` on the leader: Consul's defaults filled in, checked
    /// against the state it will apply to, then proposed; answered once applied.
    pub(super) fn propose_catalog(&mut self, origin: Origin, command: CatalogCommand) {
        match self.check_and_propose(command) {
            Ok(index) => self.wait_for_apply(origin, index),
            Err(e) => self.reply(origin, Err(e)),
        }
    }

    /// Fills in Consul's defaults, checks the write against the leader's state and proposes
    /// it; the log index it will apply at. Shared with the leader's own writes
    /// (`catalog_reconcile.rs`), which track that index instead of waiting for a reply.
    pub(super) fn check_and_propose(
        &mut self,
        mut command: CatalogCommand,
    ) -> Result<u64, ApiError> {
        if let CatalogCommand::Register(reg) = &mut command {
            fill_defaults(reg);
        }
        if let Err(e) = validate_command(self.state.catalog(), &command) {
            return Err(ApiError::BadRequest(e.to_string()));
        }
        let data = Command::Catalog(command).encode();
        let raft = self.raft.as_mut().expect("leaders have raft");
        raft.propose(self.now_ms, data)
            .map_err(super::requests::raft_error)
    }

    /// Answers a catalog read from this server's state, with the index of what it covers.
    pub(super) fn read_catalog(&self, read: &CatalogRead) -> Response {
        let index = self.state.watch_index(&read.key());
        Response::Catalog {
            answer: read.answer(self.state.catalog()),
            meta: self.query_meta(index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_read_watches_what_consul_indexes_it_by() {
        let service = |name: &str| WatchKey::Service(name.into());
        let health = CatalogRead::HealthService {
            name: "web".into(),
            tags: vec![],
            passing: true,
        };
        assert_eq!(health.key(), service("web"));
        let checks = CatalogRead::HealthChecks {
            service: "web".into(),
        };
        assert_eq!(checks.key(), service("web"));
        let node = CatalogRead::HealthNode { node: "n1".into() };
        assert_eq!(node.key(), WatchKey::Node("n1".into()));
        let state = CatalogRead::HealthState { state: None };
        assert_eq!(state.key(), WatchKey::Table(TableId::Checks));
        assert_eq!(
            CatalogRead::CatalogServices.key(),
            WatchKey::Table(TableId::Services)
        );
        assert_eq!(
            CatalogRead::CatalogNodes.key(),
            WatchKey::Table(TableId::Nodes)
        );
    }

    #[test]
    fn an_unknown_node_reads_as_none_and_an_unknown_service_as_empty() {
        let catalog = CatalogStore::new();
        let node = CatalogRead::CatalogNode { name: "x".into() };
        assert_eq!(node.answer(&catalog), CatalogAnswer::Node(None));
        let service = CatalogRead::CatalogService {
            name: "x".into(),
            tags: vec![],
        };
        assert_eq!(service.answer(&catalog), CatalogAnswer::Instances(vec![]));
    }
}
