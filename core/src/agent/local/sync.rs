//! Anti-entropy: the local state is the truth and the catalog is made to match it.
//!
//! On every change (`local_sync_changes`) the out-of-sync entries go at once as catalog
//! writes through the normal request path (`Origin::Internal`): a client agent forwards them
//! to a server, a server to its leader. The periodic full sync (`start_full_sync`) reads this
//! node from the catalog, removes what the agent does not know (never `serfHealth` or the
//! `consul` service, which the leader owns) and marks what differs out of sync. A failed
//! write or read is retried after `SYNC_RETRY_MS` plus jitter.

use super::SYNC_RETRY_MS;
use crate::agent::api::{ApiResult, CatalogAnswer, CatalogRead, Consistency, Request, Response};
use crate::agent::pending::Origin;
use crate::agent::{Agent, LogLevel};
use crate::catalog::{CatalogCommand, HealthCheck, Registration, Service};
use std::collections::BTreeMap;

/// Catalog writes one sync round sends at most; the rest go in the next round.
pub const SYNC_WRITES_PER_ROUND_MAX: usize = 64;
/// Checks and services the leader owns: a full sync never removes them.
const SERVER_OWNED_CHECK: &str = "serfHealth";
const SERVER_OWNED_SERVICE: &str = "consul";

/// What an internal request in flight was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SyncItem {
    /// A service (at `version`) with its checks (each at its version).
    Service {
        id: String,
        version: u64,
        checks: Vec<(String, u64)>,
    },
    /// Node-level checks, or the node alone when `checks` is empty.
    NodeChecks {
        checks: Vec<(String, u64)>,
    },
    DeleteService(String),
    DeleteCheck(String),
    ReadServices,
    ReadChecks,
}

impl SyncItem {
    fn is_read(&self) -> bool {
        matches!(self, SyncItem::ReadServices | SyncItem::ReadChecks)
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SyncState {
    pub(super) in_flight: BTreeMap<u64, SyncItem>,
    next_id: u64,
    /// No partial sync before this (a failure's back-off).
    pub(super) retry_at_ms: u64,
    /// The next full sync (0: at the first tick).
    pub(super) full_sync_at_ms: u64,
    pub(super) reap_at_ms: u64,
}

impl Agent {
    /// Sends the out-of-sync entries, unless a round is still in flight or backing off.
    pub(crate) fn local_sync_changes(&mut self) {
        if !self.local.options.sync_enabled || !self.servers_reachable() {
            return;
        }
        let sync = &self.local.sync;
        let writing = sync.in_flight.values().any(|i| !i.is_read());
        if writing || self.now_ms < sync.retry_at_ms {
            return;
        }
        let mut batch = self.sync_deletions();
        batch.extend(self.sync_registrations());
        if batch.is_empty() && !self.local.node_synced {
            let checks = Vec::new();
            batch.push((
                SyncItem::NodeChecks { checks },
                self.registration(None, vec![]),
            ));
        }
        batch.truncate(SYNC_WRITES_PER_ROUND_MAX);
        for (item, command) in batch {
            self.send_internal(item, Request::CatalogWrite { command });
        }
    }

    /// When `local_sync_changes` would send something: the conditions it checks, and for
    /// each entry out of sync the time its write is due (a deferred output-only change waits).
    pub(crate) fn sync_deadline_ms(&self) -> Option<u64> {
        let sync = &self.local.sync;
        let writing = sync.in_flight.values().any(|i| !i.is_read());
        if !self.local.options.sync_enabled || !self.servers_reachable() || writing {
            return None;
        }
        let retry_ms = sync.retry_at_ms;
        let deletions =
            !self.local.deleted_services.is_empty() || !self.local.deleted_checks.is_empty();
        if deletions || !self.local.node_synced {
            return Some(retry_ms);
        }
        // As `sync_registrations`: a service goes when it or one of its checks is due; the
        // node-level checks ("") when one of them is.
        let due_ms = |c: &super::LocalCheck| match (c.in_sync(), c.deferred_until_ms) {
            (true, _) => None,
            (false, deferred) => Some(deferred.unwrap_or(0)),
        };
        let services = self.local.services.iter().map(|(id, service)| {
            let checks_ms = checks_of(&self.local, id.clone()).filter_map(due_ms).min();
            match service.in_sync() {
                true => checks_ms,
                false => Some(0),
            }
        });
        let node_ms = checks_of(&self.local, String::new())
            .filter_map(due_ms)
            .min();
        let first_ms = services.chain([node_ms]).flatten().min()?;
        Some(first_ms.max(retry_ms))
    }

    fn sync_deletions(&self) -> Vec<(SyncItem, CatalogCommand)> {
        let node = &self.config.node_name;
        let services = self.local.deleted_services.iter().map(|id| {
            let command = CatalogCommand::Deregister {
                node: node.clone(),
                service_id: Some(id.clone()),
                check_id: None,
            };
            (SyncItem::DeleteService(id.clone()), command)
        });
        let checks = self.local.deleted_checks.iter().map(|id| {
            let command = CatalogCommand::Deregister {
                node: node.clone(),
                service_id: None,
                check_id: Some(id.clone()),
            };
            (SyncItem::DeleteCheck(id.clone()), command)
        });
        services.chain(checks).collect()
    }

    /// One write per service that is out of sync or has a check that is (with all its
    /// checks), and one for the node-level checks that are. An output-only change still
    /// deferred waits, unless its service is written anyway.
    fn sync_registrations(&self) -> Vec<(SyncItem, CatalogCommand)> {
        let now_ms = self.now_ms;
        let due =
            |c: &super::LocalCheck| !c.in_sync() && c.deferred_until_ms.is_none_or(|t| t <= now_ms);
        let checks_of = |service_id: &str| checks_of(&self.local, service_id.to_string());
        let mut batch = Vec::new();
        for (id, service) in &self.local.services {
            if service.in_sync() && !checks_of(id).any(due) {
                continue;
            }
            let versions = checks_of(id)
                .map(|c| (c.id().to_string(), c.version))
                .collect();
            let regs = checks_of(id).map(|c| c.input.check.clone()).collect();
            let item = SyncItem::Service {
                id: id.clone(),
                version: service.version,
                checks: versions,
            };
            batch.push((item, self.registration(Some(service.service.clone()), regs)));
        }
        let node_checks: Vec<_> = checks_of("").filter(|c| due(c)).collect();
        if !node_checks.is_empty() {
            let versions = node_checks.iter().map(|c| (c.id().to_string(), c.version));
            let regs = node_checks.iter().map(|c| c.input.check.clone()).collect();
            let item = SyncItem::NodeChecks {
                checks: versions.collect(),
            };
            batch.push((item, self.registration(None, regs)));
        }
        batch
    }

    fn registration(
        &self,
        service: Option<crate::catalog::ServiceRegistration>,
        checks: Vec<crate::catalog::CheckRegistration>,
    ) -> CatalogCommand {
        CatalogCommand::Register(Box::new(Registration {
            node: self.node_registration(),
            service,
            checks,
            skip_node_update: false,
        }))
    }

    fn send_internal(&mut self, item: SyncItem, request: Request) {
        let sync = &mut self.local.sync;
        sync.next_id += 1;
        let id = sync.next_id;
        sync.in_flight.insert(id, item);
        self.dispatch(Origin::Internal(id), request, 0);
    }

    /// A client agent syncs once it knows a live server: before it joined, a write could
    /// only fail (and back off, delaying the first sync well past the join).
    pub(crate) fn servers_reachable(&self) -> bool {
        self.config.role == crate::membership::Role::Server
            || !(self.membership)
                .alive_servers(&self.config.datacenter, self.now_ms)
                .is_empty()
    }

    /// The periodic full sync: first this node's services as the catalog has them.
    pub(crate) fn start_full_sync(&mut self) {
        if self.local.sync.in_flight.values().any(SyncItem::is_read) {
            return;
        }
        let name = self.config.node_name.clone();
        let read = CatalogRead::CatalogNode { name };
        let consistency = Consistency::Default;
        self.send_internal(
            SyncItem::ReadServices,
            Request::Catalog { read, consistency },
        );
    }

    /// The answer to an internal request.
    pub(crate) fn on_internal_reply(&mut self, id: u64, result: ApiResult) {
        let Some(item) = self.local.sync.in_flight.remove(&id) else {
            return; // answered twice (a timeout raced the reply)
        };
        match (item, result) {
            (SyncItem::ReadServices, Ok(Response::Catalog { answer, .. })) => {
                self.diff_services(answer);
                let node = self.config.node_name.clone();
                let read = CatalogRead::HealthNode { node };
                let consistency = Consistency::Default;
                self.send_internal(SyncItem::ReadChecks, Request::Catalog { read, consistency });
            }
            (SyncItem::ReadChecks, Ok(Response::Catalog { answer, .. })) => {
                self.diff_checks(answer);
                self.schedule_full_sync();
            }
            (item, Ok(Response::KvWritten { applied: true, .. })) if !item.is_read() => {
                self.mark_synced(item)
            }
            (item, outcome) => self.sync_failed(&item, outcome),
        }
    }

    fn sync_failed(&mut self, item: &SyncItem, outcome: ApiResult) {
        let why = match outcome {
            Err(e) => e.to_string(),
            Ok(other) => format!("unexpected answer {other:?}"),
        };
        let retry_ms = SYNC_RETRY_MS + self.rng.range(0, SYNC_RETRY_MS);
        let at_ms = self.now_ms + retry_ms;
        if item.is_read() {
            self.local.sync.full_sync_at_ms = at_ms;
        } else {
            self.local.sync.retry_at_ms = at_ms;
        }
        let message = format!("agent: failed to sync remote state: {why}");
        self.log(LogLevel::Warn, message);
    }

    fn mark_synced(&mut self, item: SyncItem) {
        let local = &mut self.local;
        local.node_synced = true;
        let mut checks_synced = |checks: Vec<(String, u64)>| {
            for (id, version) in checks {
                if let Some(c) = local.checks.get_mut(&id) {
                    c.synced_version = c.synced_version.max(version);
                    c.deferred_until_ms = c.deferred_until_ms.filter(|_| !c.in_sync());
                }
            }
        };
        match item {
            SyncItem::Service {
                id,
                version,
                checks,
            } => {
                checks_synced(checks);
                if let Some(s) = local.services.get_mut(&id) {
                    s.synced_version = s.synced_version.max(version);
                }
            }
            SyncItem::NodeChecks { checks } => checks_synced(checks),
            SyncItem::DeleteService(id) => _ = local.deleted_services.remove(&id),
            SyncItem::DeleteCheck(id) => _ = local.deleted_checks.remove(&id),
            SyncItem::ReadServices | SyncItem::ReadChecks => unreachable!("reads are not writes"),
        }
    }

    /// The catalog's services of this node against ours: unknown ones are deleted, differing
    /// or missing ones marked out of sync; a missing or different node is registered again.
    fn diff_services(&mut self, answer: CatalogAnswer) {
        let CatalogAnswer::Node(found) = answer else {
            return;
        };
        let (node, remote) = found.unwrap_or_default();
        let ours = self.node_registration();
        let local = &mut self.local;
        local.node_synced =
            node.name == ours.name && node.address == ours.address && node.id == ours.id;
        let remote: BTreeMap<String, Service> =
            remote.into_iter().map(|s| (s.id.clone(), s)).collect();
        for id in remote.keys() {
            if !local.services.contains_key(id) && id != SERVER_OWNED_SERVICE {
                local.deleted_services.insert(id.clone());
            }
        }
        for (id, service) in local.services.iter_mut() {
            let same = remote
                .get(id)
                .is_some_and(|r| same_service(r, &service.service.to_service()));
            if !same {
                service.synced_version = 0;
            }
        }
    }

    /// The catalog's checks of this node against ours, as `diff_services`. Output is not
    /// compared: an output-only change is synced by its own deferred write.
    fn diff_checks(&mut self, answer: CatalogAnswer) {
        let CatalogAnswer::Checks(remote) = answer else {
            return;
        };
        let remote: BTreeMap<String, HealthCheck> = remote
            .into_iter()
            .map(|c| (c.check_id.clone(), c))
            .collect();
        let local = &mut self.local;
        for id in remote.keys() {
            if !local.checks.contains_key(id) && id != SERVER_OWNED_CHECK {
                local.deleted_checks.insert(id.clone());
            }
        }
        for (id, check) in local.checks.iter_mut() {
            let ours = &check.input.check;
            let same = remote.get(id).is_some_and(|r| {
                (&r.name, r.status, &r.notes, &r.service_id)
                    == (&ours.name, ours.status, &ours.notes, &ours.service_id)
            });
            if !same {
                // A real difference goes at once, whatever output change was deferred.
                check.synced_version = 0;
                check.deferred_until_ms = None;
            }
        }
    }

    /// Next full sync: `ae_interval` + random(0, factor x `ae_interval`), factor from the
    /// cluster's size (Consul's scaling, so that large clusters do not flood the servers).
    pub(crate) fn schedule_full_sync(&mut self) {
        let interval_ms = self.local.options.ae_interval_ms;
        let nodes = self.membership.list(self.now_ms).len();
        let spread_ms = super::ae_scale_factor(nodes) * interval_ms;
        let jitter_ms = self.rng.range(0, spread_ms.max(1));
        self.local.sync.full_sync_at_ms = self.now_ms + interval_ms + jitter_ms;
    }
}

/// The checks of one service ("": the node-level checks).
fn checks_of(
    local: &super::LocalState,
    service_id: String,
) -> impl Iterator<Item = &super::LocalCheck> {
    let all = local.checks.values();
    all.filter(move |c| c.input.check.service_id == service_id)
}

/// The fields a client registers (indexes aside).
fn same_service(remote: &Service, ours: &Service) -> bool {
    let strip = |s: &Service| Service {
        create_index: 0,
        modify_index: 0,
        ..s.clone()
    };
    strip(remote) == strip(ours)
}
