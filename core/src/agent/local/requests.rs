//! The agent's local requests (`/v1/agent/service/*`, `/v1/agent/check/*`, maintenance, and
//! the runners' results), served on the agent that takes them: local state is never
//! forwarded. A change is sent to the catalog at once (`sync.rs`).

use super::check::{Change, CheckInput, CheckSpec};
use super::state::{default_check_names, LocalError};
use crate::agent::api::{ApiError, ApiResult, Response};
use crate::agent::pending::Origin;
use crate::agent::Agent;
use crate::catalog::{
    fill_defaults, validate_registration, CheckStatus, HealthCheck, NodeRegistration, Registration,
    Service, ServiceRegistration,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalRequest {
    /// Boxed: a registration is large, the other requests small.
    RegisterService {
        service: Box<ServiceRegistration>,
        checks: Vec<CheckInput>,
        replace_existing_checks: bool,
    },
    DeregisterService {
        id: String,
    },
    RegisterCheck {
        check: Box<CheckInput>,
    },
    DeregisterCheck {
        id: String,
    },
    /// `check/pass|warn|fail|update`: TTL checks only.
    TtlUpdate {
        id: String,
        status: CheckStatus,
        output: String,
    },
    /// A runner's result for an HTTP, TCP or script check.
    CheckResult {
        id: String,
        status: CheckStatus,
        output: String,
    },
    ServiceMaintenance {
        id: String,
        enable: bool,
        reason: String,
    },
    NodeMaintenance {
        enable: bool,
        reason: String,
    },
    Services,
    Checks,
    /// The checks runners must run.
    CheckSpecs,
    /// A registration read from the agent's config files: its script checks are allowed by
    /// `enable_local_script_checks` too (Consul's "local" scripts).
    FromConfig(Box<LocalRequest>),
    /// The config files' registrations as they are now (`concord reload`): new and changed
    /// ones are registered, those the files no longer define are removed, all or nothing.
    ReloadConfig {
        definitions: Vec<LocalRequest>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalAnswer {
    Done,
    Services(Vec<Service>),
    /// Each check as the catalog would show it, with its service's name and tags.
    Checks(Vec<HealthCheck>),
    Specs(Vec<CheckSpec>),
}

impl LocalRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            LocalRequest::RegisterService { .. } => "agent-service-register",
            LocalRequest::DeregisterService { .. } => "agent-service-deregister",
            LocalRequest::RegisterCheck { .. } => "agent-check-register",
            LocalRequest::DeregisterCheck { .. } => "agent-check-deregister",
            LocalRequest::TtlUpdate { .. } => "agent-check-update",
            LocalRequest::CheckResult { .. } => "agent-check-result",
            LocalRequest::ServiceMaintenance { .. } => "agent-service-maintenance",
            LocalRequest::NodeMaintenance { .. } => "agent-maintenance",
            LocalRequest::Services => "agent-services",
            LocalRequest::Checks => "agent-checks",
            LocalRequest::CheckSpecs => "agent-check-specs",
            LocalRequest::FromConfig(request) => request.kind(),
            LocalRequest::ReloadConfig { .. } => "agent-reload",
        }
    }
}

impl From<LocalError> for ApiError {
    fn from(error: LocalError) -> ApiError {
        match error {
            LocalError::UnknownService(_)
            | LocalError::UnknownCheck(_)
            | LocalError::ServiceIdMissing(_) => ApiError::NotFound(error.to_string()),
            // A full table is not a passing overload (429 invites a retry that cannot help):
            // the registration is refused until something is deregistered.
            _ => ApiError::BadRequest(error.to_string()),
        }
    }
}

impl Agent {
    /// Serves a local request here; a change is synced to the catalog at once.
    pub(crate) fn serve_local(&mut self, origin: Origin, request: LocalRequest) {
        let now_ms = self.now_ms;
        let result = match request {
            LocalRequest::Services => Ok(LocalAnswer::Services(self.local_services())),
            LocalRequest::Checks => Ok(LocalAnswer::Checks(self.local_checks())),
            LocalRequest::CheckSpecs => Ok(LocalAnswer::Specs(self.check_specs())),
            LocalRequest::TtlUpdate { id, status, output } => self
                .local
                .ttl_update(now_ms, &id, status, &output)
                .map(|change| self.on_check_change(&id, change)),
            LocalRequest::CheckResult { id, status, output } => {
                let change = self.local.check_result(now_ms, &id, status, &output);
                Ok(self.on_check_change(&id, change))
            }
            change => self.change_local(change).map(|()| LocalAnswer::Done),
        };
        let result: ApiResult = result
            .map(|answer| Response::Local { answer })
            .map_err(ApiError::from);
        self.reply(origin, result);
        // A client's change is tried at once even while a failed sync backs off (Consul
        // syncs on every change); the back-off paces the retries of the periodic work.
        self.local.sync.retry_at_ms = 0;
        self.local_sync_changes();
    }

    pub(super) fn change_local(&mut self, request: LocalRequest) -> Result<(), LocalError> {
        let now_ms = self.now_ms;
        match request {
            LocalRequest::RegisterService {
                service,
                checks,
                replace_existing_checks,
            } => {
                let (service, checks) = self.checked_service(*service, checks)?;
                self.local
                    .add_service(now_ms, service, checks, replace_existing_checks)
            }
            LocalRequest::DeregisterService { id } => self.local.remove_service(&id),
            LocalRequest::RegisterCheck { check } => self.local.add_check(now_ms, *check),
            LocalRequest::DeregisterCheck { id } => self.local.remove_check(&id),
            LocalRequest::ServiceMaintenance { id, enable, reason } => {
                self.local.service_maintenance(now_ms, &id, enable, &reason)
            }
            LocalRequest::NodeMaintenance { enable, reason } => {
                self.local.node_maintenance(now_ms, enable, &reason)
            }
            LocalRequest::FromConfig(request) => {
                self.local.from_config = true;
                let result = self.change_local(*request);
                self.local.from_config = false;
                result
            }
            LocalRequest::ReloadConfig { definitions } => self.reload_config(definitions),
            // Served by `serve_local`; here only when wrapped in `FromConfig`.
            other @ (LocalRequest::Services
            | LocalRequest::Checks
            | LocalRequest::CheckSpecs
            | LocalRequest::TtlUpdate { .. }
            | LocalRequest::CheckResult { .. }) => Err(LocalError::Invalid(format!(
                "{} is not a registration",
                other.kind()
            ))),
        }
    }

    /// Consul's defaults (id = name, check ids and names) and the catalog's rules, checked
    /// here so that a registration the catalog would refuse is refused to the client.
    fn checked_service(
        &self,
        mut service: ServiceRegistration,
        mut checks: Vec<CheckInput>,
    ) -> Result<(ServiceRegistration, Vec<CheckInput>), LocalError> {
        if service.id.is_empty() {
            service.id = service.name.clone();
        }
        default_check_names(&service, &mut checks);
        let mut reg = Registration {
            node: self.node_registration(),
            service: Some(service),
            checks: checks.iter().map(|c| c.check.clone()).collect(),
            skip_node_update: false,
        };
        fill_defaults(&mut reg);
        validate_registration(&reg).map_err(|e| LocalError::Invalid(e.to_string()))?;
        Ok((reg.service.expect("set above"), checks))
    }

    /// A status change syncs at once; an output-only change waits up to
    /// `check_update_interval` (Consul's throttle, #1244: output churn woke every watcher).
    /// Only a check the catalog had up to date before this change waits: one whose status
    /// change is still unsynced (in flight, or failed and backing off) must not be held back
    /// by its later output (found by the simulator: a TTL that expired on a failed `fail`
    /// kept the catalog at `warning` for minutes).
    pub(super) fn on_check_change(&mut self, id: &str, change: Change) -> LocalAnswer {
        let interval_ms = self.local.options.check_update_interval_ms;
        if change == Change::OutputOnly && interval_ms > 0 {
            let delay_ms = interval_ms / 2 + self.rng.range(0, interval_ms.max(1));
            let now_ms = self.now_ms;
            let check = self.local.checks.get_mut(id);
            if let Some(check) = check.filter(|c| c.synced_version + 1 == c.version) {
                check.deferred_until_ms.get_or_insert(now_ms + delay_ms);
            }
        }
        LocalAnswer::Done
    }

    /// This node as the agent registers it in the catalog.
    pub(crate) fn node_registration(&self) -> NodeRegistration {
        let address = host_of(&self.config.rpc_addr).to_string();
        let tagged = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
            .into_iter()
            .map(|k| (k.to_string(), address.clone()))
            .collect();
        NodeRegistration {
            name: self.config.node_name.clone(),
            id: self.local.options.node_id.clone(),
            address,
            datacenter: self.config.datacenter.clone(),
            tagged_addresses: tagged,
            meta: Default::default(),
        }
    }

    /// The agent's services, by id, as `agent/services` lists them.
    pub fn local_services(&self) -> Vec<Service> {
        let services = self.local.services.values();
        services.map(|s| s.service.to_service()).collect()
    }

    /// The agent's checks, by id, as `agent/checks` lists them.
    pub fn local_checks(&self) -> Vec<HealthCheck> {
        let node = &self.config.node_name;
        let checks = self.local.checks.values().map(|c| {
            let reg = &c.input.check;
            let service = self.local.services.get(&reg.service_id);
            HealthCheck {
                node: node.clone(),
                check_id: reg.check_id.clone(),
                name: reg.name.clone(),
                status: reg.status,
                notes: reg.notes.clone(),
                output: reg.output.clone(),
                service_id: reg.service_id.clone(),
                service_name: service.map(|s| s.service.name.clone()).unwrap_or_default(),
                service_tags: service.map(|s| s.service.tags.clone()).unwrap_or_default(),
                check_type: reg.check_type.clone(),
                interval: reg.interval.clone(),
                timeout: reg.timeout.clone(),
                definition: reg.definition.clone(),
                create_index: 0,
                modify_index: 0,
            }
        });
        checks.collect()
    }

    /// The checks a runner must run (HTTP, TCP, script), by id.
    pub fn check_specs(&self) -> Vec<CheckSpec> {
        let checks = self.local.checks.values();
        checks
            .filter(|c| c.input.kind.is_run())
            .map(|c| c.spec())
            .collect()
    }
}

/// "10.0.0.1:8300" -> "10.0.0.1"; "[::1]:8300" -> "::1".
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}
