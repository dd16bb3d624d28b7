//! Maintenance mode: a critical check that takes a service (or the whole node) out of
//! health answers, with Consul's ids and names (Spring Cloud Consul and Steeltoe match the
//! name "Service Maintenance Mode").

use super::check::{CheckInput, CheckKind};
use super::state::{LocalError, LocalState};
use crate::catalog::{CheckRegistration, CheckStatus};

pub const SERVICE_MAINT_PREFIX: &str = "_service_maintenance:";
pub const NODE_MAINT_CHECK_ID: &str = "_node_maintenance";
const SERVICE_MAINT_NAME: &str = "Service Maintenance Mode";
const NODE_MAINT_NAME: &str = "Node Maintenance Mode";
const SERVICE_MAINT_DEFAULT_REASON: &str =
    "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.";
const NODE_MAINT_DEFAULT_REASON: &str =
    "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.";

fn maintenance_check(id: String, name: &str, service_id: &str, notes: String) -> CheckInput {
    CheckInput {
        check: CheckRegistration {
            check_id: id,
            name: name.to_string(),
            status: CheckStatus::Critical,
            notes,
            service_id: service_id.to_string(),
            ..Default::default()
        },
        kind: CheckKind::Manual,
        interval_ms: 0,
        timeout_ms: 0,
        success_before_passing: 0,
        failures_before_critical: 0,
        deregister_critical_service_after_ms: 0,
    }
}

impl LocalState {
    /// `agent/service/maintenance/:id`: enabling twice keeps the first reason, as Consul.
    pub fn service_maintenance(
        &mut self,
        now_ms: u64,
        service_id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), LocalError> {
        if !self.services.contains_key(service_id) {
            return Err(LocalError::UnknownService(service_id.to_string()));
        }
        let id = format!("{SERVICE_MAINT_PREFIX}{service_id}");
        let notes = match reason {
            "" => SERVICE_MAINT_DEFAULT_REASON.to_string(),
            reason => reason.to_string(),
        };
        let check = maintenance_check(id.clone(), SERVICE_MAINT_NAME, service_id, notes);
        self.toggle(now_ms, &id, enable, check)
    }

    /// `agent/maintenance`: the whole node.
    pub fn node_maintenance(
        &mut self,
        now_ms: u64,
        enable: bool,
        reason: &str,
    ) -> Result<(), LocalError> {
        let notes = match reason {
            "" => NODE_MAINT_DEFAULT_REASON.to_string(),
            reason => reason.to_string(),
        };
        let id = NODE_MAINT_CHECK_ID.to_string();
        let check = maintenance_check(id.clone(), NODE_MAINT_NAME, "", notes);
        self.toggle(now_ms, &id, enable, check)
    }

    fn toggle(
        &mut self,
        now_ms: u64,
        id: &str,
        enable: bool,
        check: CheckInput,
    ) -> Result<(), LocalError> {
        match (enable, self.checks.contains_key(id)) {
            (true, false) => self.add_check(now_ms, check),
            (false, true) => self.remove_check(id),
            _ => Ok(()),
        }
    }
}
