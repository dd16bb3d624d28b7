//! The leader keeps the catalog in step with membership, as Consul's leader does with serf:
//! every LAN member's node carries the node-level check `serfHealth` (passing while the
//! member is alive or leaving, critical once membership counts it failed), every server the
//! service `consul`, and a member that left (gracefully or by `force-leave`) is deregistered
//! with everything on its node.
//!
//! A round compares membership with the leader's catalog and proposes only what differs, at
//! most `CATALOG_RECONCILE_WRITES_PER_ROUND_MAX` writes, so an unchanged cluster writes
//! nothing. A node whose write is still in flight is skipped until that entry applies; a write
//! that failed (refused, or lost with a term) is simply found again by the next comparison.
//! Rounds run on the gossip tick and at once when leadership is gained, and only once the
//! leader has applied its own term's first entry: a state behind the log would propose writes
//! already committed.
//!
//! A failed member stays in the catalog (critical) until the detector reaps it (after
//! `reconnect_timeout`); then its node is deregistered. Nodes that were never members
//! (registered through `catalog/register`) are never touched.

use super::api::ApiError;
use super::{Agent, LogLevel};
use crate::catalog::{
    CatalogCommand, CatalogStore, CheckRegistration, CheckStatus, NodeRegistration, Registration,
    Service, ServiceRegistration,
};
use crate::membership::{Member, MemberStatus, Role};
use crate::ports::{split_host_port, SERVER_PORT_DEFAULT};
use std::collections::BTreeMap;

/// Catalog writes one round proposes at most; the rest wait for the next round (a cluster
/// that just formed, or a leader that just took over, does not flood the log at once).
pub const CATALOG_RECONCILE_WRITES_PER_ROUND_MAX: usize = 32;
/// The node-level check the leader owns on every member's node (Consul's serf health).
pub const SERF_HEALTH_CHECK_ID: &str = "serfHealth";
const SERF_HEALTH_NAME: &str = "Serf Health Status";
const SERF_ALIVE_OUTPUT: &str = "Agent alive and reachable";
const SERF_FAILED_OUTPUT: &str = "Agent not live or unreachable";
/// The service every server carries in the catalog.
pub const CONSUL_SERVICE: &str = "consul";

/// What the leader remembers between rounds.
#[derive(Clone, Debug, Default)]
pub(super) struct CatalogReconcile {
    /// The term the writes in flight were proposed in: a new term forgets them.
    term: u64,
    /// The term whose first round ran (a round runs at once when leadership is gained).
    gained_term: u64,
    /// Nodes with a write proposed and not yet applied, with its log index.
    in_flight: BTreeMap<String, u64>,
}

impl Agent {
    /// Runs the first round of a new term as soon as the leader's state has caught up.
    /// Called at every poll; costs a comparison of two numbers otherwise.
    pub(super) fn reconcile_catalog_on_gain(&mut self) {
        let gained = self.catalog_reconcile.gained_term;
        if self.catalog_reconcile_term().is_some_and(|t| t != gained) {
            self.reconcile_catalog();
        }
    }

    /// One round: proposes the writes that make the catalog match membership.
    pub(super) fn reconcile_catalog(&mut self) {
        let Some(term) = self.catalog_reconcile_term() else {
            return;
        };
        let applied = self.raft.as_ref().map_or(0, |r| r.applied_index());
        let state = &mut self.catalog_reconcile;
        if state.term != term {
            state.term = term;
            state.in_flight.clear();
        }
        state.gained_term = term;
        state.in_flight.retain(|_, index| *index > applied);
        for (node, command) in self.catalog_writes_due() {
            let result = self.check_and_propose(command);
            if let Err(e) = &result {
                // Retried by the next round's comparison.
                let message = format!("catalog: cannot reconcile node {node:?} yet: {e}");
                self.log(LogLevel::Debug, message);
            }
            match result {
                Ok(index) => _ = self.catalog_reconcile.in_flight.insert(node, index),
                // This node's own trouble (say, its checks at their maximum): the others
                // must not wait behind it.
                Err(ApiError::BadRequest(_)) => continue,
                // The log refuses more for now (full, or no longer the leader).
                Err(_) => break,
            }
        }
    }

    /// The current term while this agent leads with anti-entropy on (the node turns it on,
    /// the simulator's nodes too; core tests keep it off, and with it these writes, unless
    /// they test it) and has applied its own term's first entry, which proves every earlier
    /// entry applied.
    fn catalog_reconcile_term(&self) -> Option<u64> {
        if !self.local.options.sync_enabled || !self.is_leader() {
            return None;
        }
        let raft = self.raft.as_ref()?;
        let caught_up = raft.log().term_at(raft.applied_index()) == Some(raft.term());
        caught_up.then_some(raft.term())
    }

    /// The writes this round proposes: servers first, then by name (membership's order).
    fn catalog_writes_due(&self) -> Vec<(String, CatalogCommand)> {
        let in_flight = &self.catalog_reconcile.in_flight;
        let members = self.membership.list(self.now_ms);
        let lan = members
            .into_iter()
            .filter(|(m, _)| m.datacenter == self.config.datacenter)
            .filter(|(m, _)| !in_flight.contains_key(&m.name));
        let member_writes = lan
            .filter_map(|(m, status)| Some((m.name.clone(), self.catalog_write_for(&m, status)?)));
        member_writes
            .chain(self.reaped_writes())
            .take(CATALOG_RECONCILE_WRITES_PER_ROUND_MAX)
            .collect()
    }

    /// Nodes of members the detector reaped (failed for `reconnect_timeout`, or left long
    /// ago): deregistered with everything on them, as Consul's leader does. Only nodes with a
    /// serfHealth check (so once members) and unknown to membership now (not back since).
    fn reaped_writes(&self) -> Vec<(String, CatalogCommand)> {
        let catalog = self.state.catalog();
        self.reaped
            .keys()
            .filter(|name| self.membership.get(name).is_none())
            .filter(|name| !self.catalog_reconcile.in_flight.contains_key(*name))
            .filter(|name| {
                let checks = catalog.node_checks(name);
                checks.iter().any(|c| c.check_id == SERF_HEALTH_CHECK_ID)
            })
            .map(|name| {
                let deregister = CatalogCommand::Deregister {
                    node: name.clone(),
                    service_id: None,
                    check_id: None,
                };
                (name.clone(), deregister)
            })
            .collect()
    }

    /// What `member` needs written, if anything: its node gone once it left, else its
    /// serfHealth (and on a server the `consul` service) as membership says.
    fn catalog_write_for(&self, member: &Member, status: MemberStatus) -> Option<CatalogCommand> {
        let catalog = self.state.catalog();
        if status == MemberStatus::Left {
            let present = catalog.node(&member.name).is_some();
            return present.then(|| CatalogCommand::Deregister {
                node: member.name.clone(),
                service_id: None,
                check_id: None,
            });
        }
        let wanted = self.serf_registration(member, status);
        let done = registered_as(catalog, &wanted);
        (!done).then(|| CatalogCommand::Register(Box::new(wanted)))
    }

    /// The registration of a member's node with its serfHealth and (servers) `consul`. The
    /// node's own data is left as its agent wrote it (`skip_node_update`); the node fields
    /// only create a node the catalog does not have yet.
    fn serf_registration(&self, member: &Member, status: MemberStatus) -> Registration {
        let node = if member.name == self.config.node_name {
            self.node_registration()
        } else {
            member_node(member)
        };
        let service = (member.role == Role::Server).then(|| consul_service(member));
        Registration {
            node,
            service,
            checks: vec![serf_health(status)],
            skip_node_update: true,
        }
    }
}

/// A node the leader knows only from gossip: no node ID (only its own agent knows it).
fn member_node(member: &Member) -> NodeRegistration {
    let address = split_host_port(&member.rpc_addr).0.to_string();
    let tagged = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
        .into_iter()
        .map(|k| (k.to_string(), address.clone()))
        .collect();
    NodeRegistration {
        name: member.name.clone(),
        id: String::new(),
        address,
        datacenter: member.datacenter.clone(),
        tagged_addresses: tagged,
        meta: BTreeMap::new(),
    }
}

/// Consul's `consul` service: on the server RPC port, no tags, default weights.
fn consul_service(member: &Member) -> ServiceRegistration {
    let port = split_host_port(&member.rpc_addr).1;
    ServiceRegistration {
        id: CONSUL_SERVICE.to_string(),
        name: CONSUL_SERVICE.to_string(),
        port: port.unwrap_or(SERVER_PORT_DEFAULT),
        ..ServiceRegistration::default()
    }
}

/// serfHealth as Consul writes it: critical only for a failed member (leaving still passes).
fn serf_health(status: MemberStatus) -> CheckRegistration {
    let (status, output) = match status {
        MemberStatus::Failed => (CheckStatus::Critical, SERF_FAILED_OUTPUT),
        _ => (CheckStatus::Passing, SERF_ALIVE_OUTPUT),
    };
    CheckRegistration {
        check_id: SERF_HEALTH_CHECK_ID.to_string(),
        name: SERF_HEALTH_NAME.to_string(),
        status,
        output: output.to_string(),
        ..CheckRegistration::default()
    }
}

/// Whether the catalog already has the node, its serfHealth and its service as `wanted`.
fn registered_as(catalog: &CatalogStore, wanted: &Registration) -> bool {
    let Some((_, services)) = catalog.node(&wanted.node.name) else {
        return false;
    };
    let checks = catalog.node_checks(&wanted.node.name);
    let checks_same = wanted.checks.iter().all(|want| {
        checks.iter().any(|c| {
            (&c.check_id, &c.name, c.status, &c.output, &c.notes)
                == (
                    &want.check_id,
                    &want.name,
                    want.status,
                    &want.output,
                    &want.notes,
                )
                && (c.service_id.is_empty(), &c.check_type) == (true, &want.check_type)
        })
    });
    let service_same = wanted.service.as_ref().is_none_or(|want| {
        let want = want.to_service();
        services.iter().any(|s| same_service(s, &want))
    });
    checks_same && service_same
}

/// The registered fields of two instances (indexes aside).
fn same_service(a: &Service, b: &Service) -> bool {
    let strip = |s: &Service| Service {
        create_index: 0,
        modify_index: 0,
        ..s.clone()
    };
    strip(a) == strip(b)
}
