//! The local state as bytes that survive a restart: every service and check definition with
//! its status and output (maintenance too: it is a check). Not the sync bookkeeping: after a
//! restart everything is out of sync and the first sync makes the catalog match again.
//! Format: `LOCAL_STATE_MAGIC`, a u32 version (little-endian), then bincode.

use super::check::{CheckInput, LocalCheck};
use super::state::{LocalService, LocalState};
use crate::agent::Agent;
use crate::catalog::ServiceRegistration;
use serde::{Deserialize, Serialize};

pub const LOCAL_STATE_MAGIC: &[u8; 8] = b"CCLOCAL\0";
const LOCAL_STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Persisted {
    services: Vec<ServiceRegistration>,
    checks: Vec<CheckInput>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalRestoreError {
    NotLocalState,
    UnknownVersion(u32),
    Corrupt(String),
    /// More entries than the agent holds: written by another build, or tampered with.
    TooLarge,
}

impl std::fmt::Display for LocalRestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalRestoreError::NotLocalState => write!(f, "not a Concord local-state file"),
            LocalRestoreError::UnknownVersion(v) => {
                write!(f, "local-state format {v} is newer than this build reads")
            }
            LocalRestoreError::Corrupt(why) => write!(f, "local-state file is corrupt: {why}"),
            LocalRestoreError::TooLarge => write!(f, "local-state file holds too many entries"),
        }
    }
}

impl LocalState {
    pub fn to_bytes(&self) -> Vec<u8> {
        let options = &self.options;
        let from_config = |c: &LocalCheck| {
            options.config_check_ids.contains(c.id())
                || options
                    .config_service_ids
                    .contains(&c.input.check.service_id)
        };
        let services = self.services.values();
        let services = services.filter(|s| !options.config_service_ids.contains(&s.service.id));
        let checks = self.checks.values().filter(|c| !from_config(c));
        let persisted = Persisted {
            services: services.map(|s| s.service.clone()).collect(),
            checks: checks.map(|c| c.input.clone()).collect(),
        };
        let mut bytes = LOCAL_STATE_MAGIC.to_vec();
        bytes.extend(LOCAL_STATE_VERSION.to_le_bytes());
        bytes.extend(bincode::serialize(&persisted).expect("local state always encodes"));
        bytes
    }

    /// Restores definitions and statuses; TTLs start again from `now_ms`.
    pub fn restore(&mut self, now_ms: u64, bytes: &[u8]) -> Result<(), LocalRestoreError> {
        let body = bytes
            .strip_prefix(LOCAL_STATE_MAGIC.as_slice())
            .ok_or(LocalRestoreError::NotLocalState)?;
        let (version, body) = body
            .split_at_checked(4)
            .ok_or(LocalRestoreError::NotLocalState)?;
        let version = u32::from_le_bytes(version.try_into().expect("4 bytes"));
        if version != LOCAL_STATE_VERSION {
            return Err(LocalRestoreError::UnknownVersion(version));
        }
        let persisted: Persisted =
            bincode::deserialize(body).map_err(|e| LocalRestoreError::Corrupt(e.to_string()))?;
        if persisted.services.len() > super::LOCAL_SERVICES_MAX
            || persisted.checks.len() > super::LOCAL_CHECKS_MAX
        {
            return Err(LocalRestoreError::TooLarge);
        }
        for service in persisted.services {
            let entry = LocalService {
                service,
                version: 1,
                synced_version: 0,
            };
            self.services.insert(entry.service.id.clone(), entry);
        }
        for input in persisted.checks {
            let check = LocalCheck::new(input, now_ms);
            self.checks.insert(check.id().to_string(), check);
        }
        Ok(())
    }
}

impl Agent {
    /// What the node saved with the last `Action::PersistLocal`, at start.
    pub fn restore_local(&mut self, bytes: &[u8]) -> Result<(), LocalRestoreError> {
        self.local.restore(self.now_ms, bytes)
    }

    /// The local state to persist, if it changed since the last call.
    pub(crate) fn take_local_to_persist(&mut self) -> Option<Vec<u8>> {
        std::mem::take(&mut self.local.persist_wanted).then(|| self.local.to_bytes())
    }
}
