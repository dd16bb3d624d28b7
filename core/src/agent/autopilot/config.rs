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

/// A duration as Go prints it (`200ms`, `10s`, `1m30s`, `0s`): Consul's JSON and CLI show
/// autopilot's durations this way.
pub fn format_go_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let (seconds, millis) = (ms / 1000 % 60, ms % 1000);
    let mut text = String::new();
    if hours > 0 {
        text += &format!("{hours}h");
    }
    if hours > 0 || minutes > 0 {
        text += &format!("{minutes}m");
    }
    if millis == 0 {
        text += &format!("{seconds}s");
    } else {
        let fraction = format!("{millis:03}");
        text += &format!("{seconds}.{}s", fraction.trim_end_matches('0'));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::parse_setting_ms;

    #[test]
    fn durations_print_as_go_does_and_parse_back() {
        let cases = [
            (0, "0s"),
            (200, "200ms"),
            (10_000, "10s"),
            (1_500, "1.5s"),
            (90_000, "1m30s"),
            (3_600_000, "1h0m0s"),
            (3_723_250, "1h2m3.25s"),
        ];
        for (ms, text) in cases {
            assert_eq!(format_go_duration_ms(ms), text);
            assert_eq!(parse_setting_ms(text), Ok(ms), "{text}");
        }
    }
}
