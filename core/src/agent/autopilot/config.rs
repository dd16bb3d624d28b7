//! Autopilot's settings: the agent's local defaults (`autopilot { ... }` in the config file)
//! and the configuration replicated through Raft, which wins once stored (Consul's
//! `AutopilotConfig`, changed by `PUT /v1/operator/autopilot/configuration`).

use serde::{Deserialize, Serialize};

/// The settings autopilot acts on. Consul's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotOptions {
    /// Remove failed servers from the voters (within the quorum rules of `plan.rs`).
    pub cleanup_dead_servers: bool,
    /// A server the leader has not heard from for longer than this is unhealthy.
    pub last_contact_threshold_ms: u64,
    /// A server whose log trails the leader's last index by more entries is unhealthy.
    pub max_trailing_logs: u64,
    /// Dead-server cleanup never leaves fewer voters than this.
    pub min_quorum: u32,
    /// A non-voter is promoted once healthy for this long.
    pub server_stabilization_time_ms: u64,
}

impl Default for AutopilotOptions {
    fn default() -> AutopilotOptions {
        AutopilotOptions {
            cleanup_dead_servers: true,
            last_contact_threshold_ms: 200,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time_ms: 10_000,
        }
    }
}

/// The replicated configuration: the options and the log indexes that created and last
/// changed it (`?cas=` compares the modify index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotConfig {
    pub options: AutopilotOptions,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The replicated write of the autopilot table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutopilotCommand {
    /// Store `options`; with `cas`, only if the stored config's modify index is `cas` (0: only
    /// if none is stored), as Consul's `AutopilotCASConfig`.
    Set {
        options: AutopilotOptions,
        cas: Option<u64>,
    },
}
