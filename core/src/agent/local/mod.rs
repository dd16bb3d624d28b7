//! The agent's own services and checks (Consul's `agent/local`): what clients registered on
//! THIS agent, the truth that anti-entropy copies into the catalog.
//!
//! `check.rs` one check and the rules that move its status, `state.rs` the registry and its
//! bounds, `maintenance.rs` maintenance mode, `requests.rs` the API requests, `sync.rs`
//! anti-entropy (on change and periodic), `timers.rs` what the tick does, `persist.rs` the
//! bytes that survive a restart, `reload.rs` the config files' definitions read again.

pub mod check;
mod maintenance;
mod persist;
mod reload;
pub mod requests;
mod state;
mod sync;
mod timers;

#[cfg(test)]
mod tests;

pub use check::{CheckInput, CheckKind, CheckSpec, LocalCheck};
pub use persist::{LocalRestoreError, LOCAL_STATE_MAGIC};
pub use requests::{LocalAnswer, LocalRequest};
pub use state::{LocalError, LocalService, LocalState};

/// Services and checks one agent holds (Consul has no limit; ours bound the anti-entropy
/// batch and the persisted file).
pub const LOCAL_SERVICES_MAX: usize = 512;
pub const LOCAL_CHECKS_MAX: usize = 1024;
/// How often the reaper looks for services critical past `deregister_critical_service_after`.
pub const REAP_INTERVAL_MS: u64 = 30_000;
/// A failed sync is retried after this, plus jitter (Consul's `retryFailIntv`).
pub const SYNC_RETRY_MS: u64 = 15_000;
/// Consul scales the full-sync period up above this many nodes.
pub const AE_SCALE_THRESHOLD_NODES: usize = 128;

/// Settings of the agent's local state, with Consul's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalOptions {
    /// `ae_interval`: the period of the full sync (plus a random part).
    pub ae_interval_ms: u64,
    /// `check_update_interval`: how long an output-only change may wait (0: never waits).
    pub check_update_interval_ms: u64,
    /// `enable_script_checks`: script checks are refused unless set.
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: script checks of config files only.
    pub enable_local_script_checks: bool,
    /// The node's UUID in the catalog ("" when unknown).
    pub node_id: String,
    /// Services and node-level checks defined in config files: registered again at every
    /// start from the files, so they are not persisted (a definition removed from the files
    /// is gone after a restart, as in Consul).
    pub config_service_ids: std::collections::BTreeSet<String>,
    pub config_check_ids: std::collections::BTreeSet<String>,
    /// Whether anti-entropy runs: the node turns it on (in the simulator too); core tests
    /// keep it off unless they test it (their clusters count log entries).
    pub sync_enabled: bool,
}

impl Default for LocalOptions {
    fn default() -> LocalOptions {
        LocalOptions {
            ae_interval_ms: 60_000,
            check_update_interval_ms: 300_000,
            enable_script_checks: false,
            enable_local_script_checks: false,
            node_id: String::new(),
            config_service_ids: Default::default(),
            config_check_ids: Default::default(),
            sync_enabled: false,
        }
    }
}

/// Consul's scale factor of the full-sync period for a cluster of `nodes`: 1 up to 128,
/// then ceil(log2(n) - log2(128)) + 1.
pub fn ae_scale_factor(nodes: usize) -> u64 {
    if nodes <= AE_SCALE_THRESHOLD_NODES {
        return 1;
    }
    let excess = (nodes as f64).log2() - (AE_SCALE_THRESHOLD_NODES as f64).log2();
    excess.ceil() as u64 + 1
}
