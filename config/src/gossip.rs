//! `gossip_lan { ... }` and `reconnect_timeout`: the failure detector's timings under Consul's
//! key names. Unset keys keep the membership's defaults (Consul's LAN defaults, or `-dev`'s quick
//! ones), so only what a file names changes.

use crate::keys::{block, duration, number};
use crate::layer::{over, set};
use concord_core::membership::MembershipOptions;
use serde_json::Value;

/// Consul refuses a `reconnect_timeout` under 8 hours: a failed member forgotten sooner could
/// come back as a stranger while its services are still in the catalog.
pub const RECONNECT_TIMEOUT_MS_MIN: u64 = 8 * 3600 * 1000;
/// The largest `gossip_nodes`, `retransmit_mult` or `suspicion_mult` accepted: more would only
/// flood the network or postpone every failure beyond use.
const GOSSIP_COUNT_MAX: u64 = 64;

pub const GOSSIP_WAN_IGNORED: &str =
    "config key \"gossip_wan\" is not supported by Concord yet (one datacenter); ignored";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GossipLayer {
    pub gossip_nodes: Option<usize>,
    pub gossip_interval_ms: Option<u64>,
    pub probe_interval_ms: Option<u64>,
    pub probe_timeout_ms: Option<u64>,
    pub retransmit_mult: Option<u32>,
    pub suspicion_mult: Option<u32>,
    pub reconnect_timeout_ms: Option<u64>,
}

impl GossipLayer {
    pub fn merge(&mut self, later: GossipLayer) {
        over(&mut self.gossip_nodes, later.gossip_nodes);
        over(&mut self.gossip_interval_ms, later.gossip_interval_ms);
        over(&mut self.probe_interval_ms, later.probe_interval_ms);
        over(&mut self.probe_timeout_ms, later.probe_timeout_ms);
        over(&mut self.retransmit_mult, later.retransmit_mult);
        over(&mut self.suspicion_mult, later.suspicion_mult);
        over(&mut self.reconnect_timeout_ms, later.reconnect_timeout_ms);
    }

    /// Sets what the layer names on `options` (the defaults of the agent's mode).
    pub fn apply(&self, options: &mut MembershipOptions) {
        set(&mut options.gossip_nodes, self.gossip_nodes);
        set(&mut options.gossip_interval_ms, self.gossip_interval_ms);
        set(&mut options.probe_interval_ms, self.probe_interval_ms);
        set(&mut options.probe_timeout_ms, self.probe_timeout_ms);
        set(&mut options.retransmit_mult, self.retransmit_mult);
        set(&mut options.suspicion_mult, self.suspicion_mult);
        set(&mut options.reconnect_timeout_ms, self.reconnect_timeout_ms);
    }
}

/// The cross-key check: a probe must be able to time out within its interval (the indirect
/// probes run in what is left of it).
pub fn check(options: &MembershipOptions) -> Result<(), String> {
    if options.probe_timeout_ms > options.probe_interval_ms {
        return Err(format!(
            "gossip_lan.probe_timeout ({} ms) must not be longer than \
             gossip_lan.probe_interval ({} ms)",
            options.probe_timeout_ms, options.probe_interval_ms
        ));
    }
    Ok(())
}

/// Reads the `gossip_lan` block; Consul's keys, each checked, unknown ones warned about.
pub fn read_gossip_lan(
    gossip: &mut GossipLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, inner) in block("gossip_lan", value)? {
        let key = format!("gossip_lan.{name}");
        match name.as_str() {
            "gossip_nodes" => gossip.gossip_nodes = Some(count(&key, inner)? as usize),
            "retransmit_mult" => gossip.retransmit_mult = Some(count(&key, inner)? as u32),
            "suspicion_mult" => gossip.suspicion_mult = Some(count(&key, inner)? as u32),
            "gossip_interval" => gossip.gossip_interval_ms = Some(interval(&key, inner)?),
            "probe_interval" => gossip.probe_interval_ms = Some(interval(&key, inner)?),
            "probe_timeout" => gossip.probe_timeout_ms = Some(interval(&key, inner)?),
            _ => warnings.push(format!("unknown config key {key:?}; ignored")),
        }
    }
    Ok(())
}

/// `reconnect_timeout`: how long a failed member is kept (and retried) before it is reaped.
pub fn reconnect_timeout(key: &str, value: &Value) -> Result<u64, String> {
    let timeout_ms = duration(key, value)?;
    if timeout_ms < RECONNECT_TIMEOUT_MS_MIN {
        return Err(format!(
            "key {key:?}: must be at least 8h (Consul's minimum), got {timeout_ms} ms"
        ));
    }
    Ok(timeout_ms)
}

/// A count in 1..=GOSSIP_COUNT_MAX.
fn count(key: &str, value: &Value) -> Result<u64, String> {
    match number(key, value, GOSSIP_COUNT_MAX)? {
        0 => Err(format!("key {key:?}: must be at least 1")),
        n => Ok(n),
    }
}

/// A duration longer than zero.
fn interval(key: &str, value: &Value) -> Result<u64, String> {
    match duration(key, value)? {
        0 => Err(format!("key {key:?}: must be longer than 0s")),
        ms => Ok(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_consuls_keys_and_warns_about_others() {
        let mut gossip = GossipLayer::default();
        let mut warnings = Vec::new();
        let block = json!({"probe_interval": "2s", "probe_timeout": "300ms", "gossip_nodes": 4,
            "suspicion_mult": "5", "retransmit_mult": 3, "gossip_interval": "150ms",
            "bogus": 1});
        read_gossip_lan(&mut gossip, &block, &mut warnings).unwrap();
        assert_eq!(gossip.probe_interval_ms, Some(2_000));
        assert_eq!(gossip.probe_timeout_ms, Some(300));
        assert_eq!(gossip.gossip_nodes, Some(4));
        assert_eq!(gossip.suspicion_mult, Some(5));
        assert_eq!(gossip.retransmit_mult, Some(3));
        assert_eq!(gossip.gossip_interval_ms, Some(150));
        assert_eq!(
            warnings,
            ["unknown config key \"gossip_lan.bogus\"; ignored"]
        );
    }

    #[test]
    fn refuses_bad_values_with_the_key() {
        let mut gossip = GossipLayer::default();
        let bad = [
            (json!({"probe_interval": "0s"}), "gossip_lan.probe_interval"),
            (json!({"gossip_nodes": 0}), "gossip_lan.gossip_nodes"),
            (json!({"suspicion_mult": 1000}), "gossip_lan.suspicion_mult"),
            (json!({"probe_timeout": "soon"}), "gossip_lan.probe_timeout"),
        ];
        for (block, key) in bad {
            let error = read_gossip_lan(&mut gossip, &block, &mut Vec::new()).unwrap_err();
            assert!(error.contains(key), "{error}");
        }
        let error = reconnect_timeout("reconnect_timeout", &json!("1h")).unwrap_err();
        assert!(error.contains("at least 8h"), "{error}");
        assert_eq!(
            reconnect_timeout("reconnect_timeout", &json!("8h")),
            Ok(RECONNECT_TIMEOUT_MS_MIN)
        );
    }

    #[test]
    fn applies_only_what_is_named_and_checks_timeout_against_interval() {
        let mut options = MembershipOptions::default();
        let defaults = options.clone();
        let layer = GossipLayer {
            probe_timeout_ms: Some(1_500),
            ..GossipLayer::default()
        };
        layer.apply(&mut options);
        assert_eq!(options.probe_timeout_ms, 1_500);
        assert_eq!(options.probe_interval_ms, defaults.probe_interval_ms);
        assert!(check(&options).unwrap_err().contains("probe_timeout"));
        assert!(check(&defaults).is_ok());
    }
}
