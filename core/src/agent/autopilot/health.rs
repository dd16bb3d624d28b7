//! Server health as the leader sees it (Consul's `OperatorHealthReply`): a server is healthy
//! when membership says it is alive, the leader heard from it within the last-contact
//! threshold, and its log trails the leader's by at most `max_trailing_logs` entries. The
//! tracker remembers since when each server has been healthy without a break.

use super::config::AutopilotOptions;
use super::plan::Liveness;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether one server is healthy now. `last_contact_ms` is `None` when never heard from.
pub fn is_healthy(
    liveness: Liveness,
    last_contact_ms: Option<u64>,
    trailing_entries: u64,
    options: &AutopilotOptions,
) -> bool {
    matches!(liveness, Liveness::Alive)
        && last_contact_ms.is_some_and(|ms| ms <= options.last_contact_threshold_ms)
        && trailing_entries <= options.max_trailing_logs
}

/// Since when each server has been healthy; kept by the leader only (a new leader starts
/// afresh, as Consul's autopilot does: stabilization is timed on the leader's own view).
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    healthy_since_ms: BTreeMap<String, u64>,
    /// Since when each server has been failed without a break.
    failed_since_ms: BTreeMap<String, u64>,
    /// The term in which this leader proposed the local config because none was stored.
    pub(super) config_proposed_term: Option<u64>,
}

impl Tracker {
    /// Records one observation; the time the server has been healthy since, if it is.
    pub fn observe(&mut self, id: &str, healthy: bool, now_ms: u64) -> Option<u64> {
        if !healthy {
            self.healthy_since_ms.remove(id);
            return None;
        }
        Some(
            *self
                .healthy_since_ms
                .entry(id.to_string())
                .or_insert(now_ms),
        )
    }

    /// Records whether a server is failed now; the time it has been failed since, if it is.
    pub fn observe_failed(&mut self, id: &str, failed: bool, now_ms: u64) -> Option<u64> {
        if !failed {
            self.failed_since_ms.remove(id);
            return None;
        }
        Some(*self.failed_since_ms.entry(id.to_string()).or_insert(now_ms))
    }

    pub fn since(&self, id: &str) -> Option<u64> {
        self.healthy_since_ms.get(id).copied()
    }

    /// Forgets servers no longer in the configuration.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.healthy_since_ms.retain(|id, _| keep(id));
        self.failed_since_ms.retain(|id, _| keep(id));
    }

    pub fn clear(&mut self) {
        *self = Tracker::default();
    }
}

/// One server's health (Consul's `ServerHealth`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHealth {
    pub id: String,
    pub name: String,
    pub address: String,
    /// Membership's status name (`alive`, `failed`, `left`, ...; `none` when unknown).
    pub serf_status: String,
    pub version: String,
    pub leader: bool,
    pub voter: bool,
    /// Milliseconds since the leader heard from it (0 for the leader); `None`: never.
    pub last_contact_ms: Option<u64>,
    /// The term of its last entry, as far as the leader knows (the entry at its match index).
    pub last_term: u64,
    /// Its last log index as the leader knows it (match index; the leader's own last index).
    pub last_index: u64,
    pub healthy: bool,
    /// Healthy without a break since then (leader's clock, Unix ms); 0 while unhealthy.
    pub stable_since_ms: u64,
}

/// The cluster's health (Consul's `OperatorHealthReply`, and what `AutopilotState` shows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotHealth {
    /// Every server is healthy.
    pub healthy: bool,
    /// Voters that may fail with the quorum kept: healthy voters beyond a majority.
    pub failure_tolerance: u32,
    pub servers: Vec<ServerHealth>,
    pub leader: String,
}

/// Healthy voters beyond a majority of all voters (never negative).
pub fn failure_tolerance(servers: &[ServerHealth]) -> u32 {
    let voters = servers.iter().filter(|s| s.voter).count();
    let healthy = servers.iter().filter(|s| s.voter && s.healthy).count();
    healthy.saturating_sub(voters / 2 + 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_needs_alive_recent_contact_and_a_short_trail() {
        let options = AutopilotOptions::default();
        assert!(is_healthy(Liveness::Alive, Some(200), 250, &options));
        assert!(!is_healthy(Liveness::Alive, Some(201), 0, &options));
        assert!(!is_healthy(Liveness::Alive, None, 0, &options));
        assert!(!is_healthy(Liveness::Alive, Some(0), 251, &options));
        let failed = Liveness::Failed { since_ms: 0 };
        assert!(!is_healthy(failed, Some(0), 0, &options));
        assert!(!is_healthy(Liveness::Other, Some(0), 0, &options));
    }

    #[test]
    fn stable_since_restarts_after_any_unhealthy_observation() {
        let mut tracker = Tracker::default();
        assert_eq!(tracker.observe("s2", true, 100), Some(100));
        assert_eq!(tracker.observe("s2", true, 900), Some(100));
        assert_eq!(tracker.observe("s2", false, 1000), None);
        assert_eq!(tracker.observe("s2", true, 1100), Some(1100));
        assert_eq!(tracker.observe_failed("s2", true, 1200), Some(1200));
        assert_eq!(tracker.observe_failed("s2", true, 1300), Some(1200));
        assert_eq!(tracker.observe_failed("s2", false, 1400), None);
        assert_eq!(tracker.observe_failed("s2", true, 1500), Some(1500));
        tracker.retain(|id| id != "s2");
        assert_eq!(tracker.observe_failed("s2", true, 1600), Some(1600));
        assert_eq!(tracker.since("s2"), None);
    }

    #[test]
    fn failure_tolerance_counts_healthy_voters_beyond_a_majority() {
        let server = |voter, healthy| ServerHealth {
            id: String::new(),
            name: String::new(),
            address: String::new(),
            serf_status: "alive".into(),
            version: String::new(),
            leader: false,
            voter,
            last_contact_ms: Some(0),
            last_term: 1,
            last_index: 1,
            healthy,
            stable_since_ms: 0,
        };
        let five = vec![server(true, true); 5];
        assert_eq!(failure_tolerance(&five), 2);
        let mut some_down = five.clone();
        some_down[0].healthy = false;
        some_down.push(server(false, true));
        assert_eq!(failure_tolerance(&some_down), 1, "a non-voter adds nothing");
        assert_eq!(failure_tolerance(&five[..2]), 0);
    }
}
