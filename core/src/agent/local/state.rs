//! The registry of the agent's own services and checks, its bounds, and Consul's defaults
//! and refusals for registrations.

use super::check::{Change, CheckInput, CheckKind, LocalCheck};
use super::sync::SyncState;
use super::{LocalOptions, LOCAL_CHECKS_MAX, LOCAL_SERVICES_MAX};
use crate::catalog::{CheckStatus, ServiceRegistration};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A service registered on this agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalService {
    pub service: ServiceRegistration,
    pub version: u64,
    pub synced_version: u64,
}

impl LocalService {
    pub fn in_sync(&self) -> bool {
        self.version == self.synced_version
    }
}

/// Why a local request was refused, with Consul's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalError {
    /// A catalog rule (missing name, wildcard address, meta, tags...).
    Invalid(String),
    UnknownService(String),
    UnknownCheck(String),
    /// A check names a service this agent does not have.
    ServiceIdMissing(String),
    NotTtl(String),
    ScriptsDisabled,
    TooManyServices,
    TooManyChecks,
}

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalError::Invalid(why) => write!(f, "{why}"),
            LocalError::UnknownService(id) => write!(
                f,
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            ),
            LocalError::UnknownCheck(id) => write!(
                f,
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            ),
            LocalError::ServiceIdMissing(id) => write!(f, "ServiceID {id:?} does not exist"),
            LocalError::NotTtl(id) => write!(f, "CheckID {id:?} does not have associated TTL"),
            LocalError::ScriptsDisabled => write!(
                f,
                "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
            ),
            LocalError::TooManyServices => write!(
                f,
                "Too many services on this agent: the maximum is {LOCAL_SERVICES_MAX}"
            ),
            LocalError::TooManyChecks => write!(
                f,
                "Too many checks on this agent: the maximum is {LOCAL_CHECKS_MAX}"
            ),
        }
    }
}

/// The agent's own services and checks, and what the catalog has of them.
#[derive(Clone, Debug, Default)]
pub struct LocalState {
    pub services: BTreeMap<String, LocalService>,
    pub checks: BTreeMap<String, LocalCheck>,
    /// Removed here, still to be removed from the catalog.
    pub deleted_services: BTreeSet<String>,
    pub deleted_checks: BTreeSet<String>,
    /// Whether the catalog has this node as we register it.
    pub node_synced: bool,
    pub options: LocalOptions,
    pub(super) sync: SyncState,
    /// A config file's registration is being applied (`LocalRequest::FromConfig`).
    pub(super) from_config: bool,
    /// The state changed since it was last handed out to persist.
    pub(super) persist_wanted: bool,
}

/// Consul's default check ids and names for the checks of a service registration.
pub fn default_check_names(service: &ServiceRegistration, checks: &mut [CheckInput]) {
    let count = checks.len();
    for (n, input) in checks.iter_mut().enumerate() {
        let check = &mut input.check;
        if check.check_id.is_empty() {
            check.check_id = match count {
                1 => format!("service:{}", service.id),
                _ => format!("service:{}:{}", service.id, n + 1),
            };
        }
        if check.name.is_empty() {
            check.name = format!("Service '{}' check", service.name);
        }
        check.service_id = service.id.clone();
    }
}

impl LocalState {
    /// Adds or replaces a service with its checks. Checks already registered keep their
    /// status and output (Consul's re-registration); with `replace_existing`, the service's
    /// other checks go.
    pub fn add_service(
        &mut self,
        now_ms: u64,
        service: ServiceRegistration,
        checks: Vec<CheckInput>,
        replace_existing: bool,
    ) -> Result<(), LocalError> {
        let id = service.id.clone();
        let new_checks = checks
            .iter()
            .filter(|c| !self.checks.contains_key(&c.check.check_id))
            .count();
        if !self.services.contains_key(&id) && self.services.len() >= LOCAL_SERVICES_MAX {
            return Err(LocalError::TooManyServices);
        }
        if self.checks.len() + new_checks > LOCAL_CHECKS_MAX {
            return Err(LocalError::TooManyChecks);
        }
        self.check_scripts(&checks)?;
        self.put_service(service);
        if replace_existing {
            let keep: BTreeSet<&str> = checks.iter().map(|c| c.check.check_id.as_str()).collect();
            let stale: Vec<String> = self
                .checks
                .values()
                .filter(|c| c.input.check.service_id == id && !keep.contains(c.id()))
                .filter(|c| !c.id().starts_with(super::maintenance::SERVICE_MAINT_PREFIX))
                .map(|c| c.id().to_string())
                .collect();
            stale.iter().for_each(|c| self.remove_check_entry(c));
        }
        checks.into_iter().for_each(|c| self.put_check(now_ms, c));
        Ok(())
    }

    fn put_service(&mut self, service: ServiceRegistration) {
        self.deleted_services.remove(&service.id);
        self.persist_wanted = true;
        match self.services.get_mut(&service.id) {
            Some(old) if old.service == service => {}
            Some(old) => {
                old.service = service;
                old.version += 1;
            }
            None => {
                let id = service.id.clone();
                let entry = LocalService {
                    service,
                    version: 1,
                    synced_version: 0,
                };
                self.services.insert(id, entry);
            }
        }
    }

    /// Adds or replaces a check; one that exists keeps its status and output.
    fn put_check(&mut self, now_ms: u64, input: CheckInput) {
        let id = input.check.check_id.clone();
        self.deleted_checks.remove(&id);
        self.persist_wanted = true;
        let mut fresh = LocalCheck::new(input, now_ms);
        if let Some(old) = self.checks.get(&id) {
            fresh.input.check.status = old.status();
            fresh.input.check.output = old.input.check.output.clone();
            fresh.critical_since_ms = old.critical_since_ms;
            fresh.ttl_deadline_ms = old.ttl_deadline_ms.or(fresh.ttl_deadline_ms);
            fresh.synced_version = old.synced_version;
            fresh.version = old.version + u64::from(old.input != fresh.input);
        }
        self.checks.insert(id, fresh);
    }

    /// `agent/check/register`: a check of this node, or of a service this agent has.
    pub fn add_check(&mut self, now_ms: u64, mut input: CheckInput) -> Result<(), LocalError> {
        let check = &mut input.check;
        if check.name.is_empty() {
            return Err(LocalError::Invalid("Missing check name".into()));
        }
        if check.check_id.is_empty() {
            check.check_id = check.name.clone();
        }
        if !check.service_id.is_empty() && !self.services.contains_key(&check.service_id) {
            return Err(LocalError::ServiceIdMissing(check.service_id.clone()));
        }
        let known = self.checks.contains_key(&check.check_id);
        if !known && self.checks.len() >= LOCAL_CHECKS_MAX {
            return Err(LocalError::TooManyChecks);
        }
        self.check_scripts(std::slice::from_ref(&input))?;
        self.put_check(now_ms, input);
        Ok(())
    }

    fn check_scripts(&self, checks: &[CheckInput]) -> Result<(), LocalError> {
        let script = checks
            .iter()
            .any(|c| matches!(c.kind, CheckKind::Script { .. }));
        let options = &self.options;
        let local_allowed = self.from_config && options.enable_local_script_checks;
        if script && !options.enable_script_checks && !local_allowed {
            return Err(LocalError::ScriptsDisabled);
        }
        Ok(())
    }

    /// Removes a service and its checks (the catalog drops the checks with the service).
    pub fn remove_service(&mut self, id: &str) -> Result<(), LocalError> {
        if self.services.remove(id).is_none() {
            return Err(LocalError::UnknownService(id.to_string()));
        }
        self.checks.retain(|_, c| c.input.check.service_id != id);
        self.deleted_services.insert(id.to_string());
        self.persist_wanted = true;
        Ok(())
    }

    pub fn remove_check(&mut self, id: &str) -> Result<(), LocalError> {
        if !self.checks.contains_key(id) {
            return Err(LocalError::UnknownCheck(id.to_string()));
        }
        self.remove_check_entry(id);
        Ok(())
    }

    fn remove_check_entry(&mut self, id: &str) {
        self.checks.remove(id);
        self.deleted_checks.insert(id.to_string());
        self.persist_wanted = true;
    }

    /// `pass`/`warn`/`fail`/`update` of a TTL check.
    pub fn ttl_update(
        &mut self,
        now_ms: u64,
        id: &str,
        status: CheckStatus,
        output: &str,
    ) -> Result<Change, LocalError> {
        let check = self
            .checks
            .get_mut(id)
            .ok_or_else(|| LocalError::UnknownCheck(id.to_string()))?;
        if !check.is_ttl() {
            return Err(LocalError::NotTtl(id.to_string()));
        }
        let change = check.ttl_update(now_ms, status, output);
        self.persist_wanted |= change != Change::None;
        Ok(change)
    }

    /// A runner's result; a check removed meanwhile is ignored.
    pub fn check_result(
        &mut self,
        now_ms: u64,
        id: &str,
        status: CheckStatus,
        output: &str,
    ) -> Change {
        let Some(check) = self.checks.get_mut(id) else {
            return Change::None;
        };
        let change = check.result(now_ms, status, output);
        self.persist_wanted |= change != Change::None;
        change
    }
}
