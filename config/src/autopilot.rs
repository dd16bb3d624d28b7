//! `autopilot { ... }`: the agent's local autopilot settings under Consul's key names. A
//! leader stores them through Raft when none are stored yet; after that the stored ones win
//! (changed with `concord operator autopilot set-config`), as in Consul. Unset keys keep the
//! defaults (`AutopilotOptions::default`, or `-dev`'s quicker stabilization).

use crate::keys::{block, boolean, duration, number};
use crate::layer::{over, set};
use concord_core::agent::AutopilotOptions;
use serde_json::Value;

/// The largest `min_quorum` accepted: far above any real count of voters (Consul suggests
/// 3 or 5), small enough that the count stays a `u32` with room.
const MIN_QUORUM_MAX: u64 = 1024;

/// Consul's enterprise-only keys: read and ignored with a note.
const ENTERPRISE_ONLY: [&str; 3] = [
    "redundancy_zone_tag",
    "disable_upgrade_migration",
    "upgrade_version_tag",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutopilotLayer {
    pub cleanup_dead_servers: Option<bool>,
    pub last_contact_threshold_ms: Option<u64>,
    pub max_trailing_logs: Option<u64>,
    pub min_quorum: Option<u32>,
    pub server_stabilization_time_ms: Option<u64>,
}

impl AutopilotLayer {
    pub fn merge(&mut self, later: AutopilotLayer) {
        over(&mut self.cleanup_dead_servers, later.cleanup_dead_servers);
        over(
            &mut self.last_contact_threshold_ms,
            later.last_contact_threshold_ms,
        );
        over(&mut self.max_trailing_logs, later.max_trailing_logs);
        over(&mut self.min_quorum, later.min_quorum);
        over(
            &mut self.server_stabilization_time_ms,
            later.server_stabilization_time_ms,
        );
    }

    /// The settings given, over `options`.
    pub fn apply(&self, options: &mut AutopilotOptions) {
        set(&mut options.cleanup_dead_servers, self.cleanup_dead_servers);
        set(
            &mut options.last_contact_threshold_ms,
            self.last_contact_threshold_ms,
        );
        set(&mut options.max_trailing_logs, self.max_trailing_logs);
        set(&mut options.min_quorum, self.min_quorum);
        set(
            &mut options.server_stabilization_time_ms,
            self.server_stabilization_time_ms,
        );
    }
}

/// Reads the `autopilot` block; Consul's keys, each checked, unknown ones warned about.
pub fn read_autopilot(
    autopilot: &mut AutopilotLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, inner) in block("autopilot", value)? {
        let key = format!("autopilot.{name}");
        match name.as_str() {
            "cleanup_dead_servers" => autopilot.cleanup_dead_servers = Some(boolean(&key, inner)?),
            "last_contact_threshold" => match duration(&key, inner)? {
                0 => return Err(format!("key {key:?}: must be longer than 0s")),
                ms => autopilot.last_contact_threshold_ms = Some(ms),
            },
            "max_trailing_logs" => {
                autopilot.max_trailing_logs = Some(number(&key, inner, u32::MAX.into())?)
            }
            "min_quorum" => autopilot.min_quorum = Some(number(&key, inner, MIN_QUORUM_MAX)? as u32),
            "server_stabilization_time" => {
                autopilot.server_stabilization_time_ms = Some(duration(&key, inner)?)
            }
            other if ENTERPRISE_ONLY.contains(&other) => warnings.push(format!(
                "config key {key:?} is not supported by Concord (a Consul Enterprise feature); ignored"
            )),
            _ => warnings.push(format!("unknown config key {key:?}; ignored")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_consuls_keys_over_the_defaults() {
        let mut layer = AutopilotLayer::default();
        let mut warnings = Vec::new();
        let block = json!({"cleanup_dead_servers": false, "last_contact_threshold": "1s",
            "max_trailing_logs": 500, "min_quorum": 3, "server_stabilization_time": "30s",
            "redundancy_zone_tag": "zone", "bogus": 1});
        read_autopilot(&mut layer, &block, &mut warnings).unwrap();
        let mut options = AutopilotOptions::default();
        layer.apply(&mut options);
        let expected = AutopilotOptions {
            cleanup_dead_servers: false,
            last_contact_threshold_ms: 1_000,
            max_trailing_logs: 500,
            min_quorum: 3,
            server_stabilization_time_ms: 30_000,
        };
        assert_eq!(options, expected);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("autopilot.bogus") || warnings[1].contains("autopilot.bogus"));
    }

    #[test]
    fn bad_values_name_the_key_and_the_reason() {
        let read = |block: Value| read_autopilot(&mut Default::default(), &block, &mut Vec::new());
        let error = read(json!({"last_contact_threshold": "soon"})).unwrap_err();
        assert!(
            error.contains("autopilot.last_contact_threshold"),
            "{error}"
        );
        let error = read(json!({"last_contact_threshold": "0s"})).unwrap_err();
        assert!(error.contains("longer than 0s"), "{error}");
        let error = read(json!({"min_quorum": -1})).unwrap_err();
        assert!(error.contains("autopilot.min_quorum"), "{error}");
        let error = read(json!({"cleanup_dead_servers": "maybe"})).unwrap_err();
        assert!(error.contains("autopilot.cleanup_dead_servers"), "{error}");
        let error = read(json!(["not", "a", "block"])).unwrap_err();
        assert!(error.contains("autopilot"), "{error}");
    }

    #[test]
    fn a_later_layer_wins_key_by_key() {
        let mut base = AutopilotLayer {
            min_quorum: Some(3),
            max_trailing_logs: Some(10),
            ..Default::default()
        };
        base.merge(AutopilotLayer {
            min_quorum: Some(5),
            ..Default::default()
        });
        assert_eq!(
            (base.min_quorum, base.max_trailing_logs),
            (Some(5), Some(10))
        );
    }
}
