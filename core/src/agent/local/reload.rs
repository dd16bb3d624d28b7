//! The config files' services and checks read again (`concord reload`, SIGHUP), as Consul's
//! reload does: what the files define now is registered (an unchanged definition changes
//! nothing), what they defined before and no longer do is removed, and what clients
//! registered over the HTTP API stays. All or nothing: a definition the agent refuses leaves
//! the local state as it was.

use super::requests::LocalRequest;
use super::state::LocalError;
use crate::agent::Agent;
use std::collections::BTreeSet;

impl Agent {
    pub(super) fn reload_config(
        &mut self,
        definitions: Vec<LocalRequest>,
    ) -> Result<(), LocalError> {
        let saved = self.local.clone();
        let result = self.apply_config(definitions);
        if result.is_err() {
            self.local = saved;
        }
        result
    }

    fn apply_config(&mut self, definitions: Vec<LocalRequest>) -> Result<(), LocalError> {
        let (services, checks) = config_ids(&definitions)?;
        let options = &self.local.options;
        let gone_services: Vec<String> = options
            .config_service_ids
            .difference(&services)
            .cloned()
            .collect();
        let gone_checks: Vec<String> = options
            .config_check_ids
            .difference(&checks)
            .cloned()
            .collect();
        // Already gone (deregistered over the API since): nothing to remove.
        for id in &gone_services {
            if self.local.services.contains_key(id) {
                self.local.remove_service(id)?;
            }
        }
        for id in &gone_checks {
            if self.local.checks.contains_key(id) {
                self.local.remove_check(id)?;
            }
        }
        for definition in definitions {
            self.change_local(LocalRequest::FromConfig(Box::new(replacing(definition))))?;
        }
        self.local.options.config_service_ids = services;
        self.local.options.config_check_ids = checks;
        self.local.persist_wanted = true;
        Ok(())
    }
}

/// A service's definition replaces its checks: a check removed from the file goes.
fn replacing(definition: LocalRequest) -> LocalRequest {
    match definition {
        LocalRequest::RegisterService {
            service, checks, ..
        } => LocalRequest::RegisterService {
            service,
            checks,
            replace_existing_checks: true,
        },
        other => other,
    }
}

/// The ids the definitions register (a service's id defaults to its name, a check's too);
/// anything but a registration is refused.
fn config_ids(
    definitions: &[LocalRequest],
) -> Result<(BTreeSet<String>, BTreeSet<String>), LocalError> {
    let or = |id: &str, name: &str| if id.is_empty() { name } else { id }.to_string();
    let (mut services, mut checks) = (BTreeSet::new(), BTreeSet::new());
    for definition in definitions {
        match definition {
            LocalRequest::RegisterService { service, .. } => {
                services.insert(or(&service.id, &service.name))
            }
            LocalRequest::RegisterCheck { check } => {
                checks.insert(or(&check.check.check_id, &check.check.name))
            }
            other => {
                let why = format!("{} is not a config file's registration", other.kind());
                return Err(LocalError::Invalid(why));
            }
        };
    }
    Ok((services, checks))
}
