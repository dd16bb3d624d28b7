//! One source of agent settings (a config file, or the flags), every field optional so that
//! sources can be stacked: later sources override earlier ones, lists are appended (as Consul's
//! config merge does for `retry_join` and `start_join`).

use crate::level::Level;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ports {
    /// `-1` turns the HTTP API off, as in Consul.
    pub http: Option<i32>,
    /// `-1` turns DNS off, as in Consul.
    pub dns: Option<i32>,
    pub server: Option<u16>,
    pub serf_lan: Option<u16>,
}

/// The `limits { ... }` block, Consul's key names (and Concord's `http_idle_timeout`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// 0 means no per-client limit, as in Consul.
    pub http_max_conns_per_client: Option<usize>,
    pub http_idle_timeout_ms: Option<u64>,
    pub rpc_max_conns_per_client: Option<usize>,
}

/// The `dns_config { ... }` block, Consul's key names; durations in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsLayer {
    pub only_passing: Option<bool>,
    pub udp_answer_limit: Option<usize>,
    pub enable_truncate: Option<bool>,
    pub a_record_limit: Option<usize>,
    pub node_ttl_ms: Option<u64>,
    /// Replaced whole by a later source, not merged key by key.
    pub service_ttl_ms: Option<std::collections::BTreeMap<String, u64>>,
    pub allow_stale: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigLayer {
    /// `-dev` (flag only, as in Consul).
    pub dev: Option<bool>,
    pub server: Option<bool>,
    pub bootstrap: Option<bool>,
    pub bootstrap_expect: Option<u32>,
    pub node_name: Option<String>,
    pub datacenter: Option<String>,
    pub data_dir: Option<String>,
    pub bind_addr: Option<String>,
    pub advertise_addr: Option<String>,
    /// Space-separated addresses, as Consul allows.
    pub client_addr: Option<String>,
    pub start_join: Vec<String>,
    pub retry_join: Vec<String>,
    pub retry_interval_ms: Option<u64>,
    pub ports: Ports,
    pub log_level: Option<Level>,
    pub log_json: Option<bool>,
    pub ui: Option<bool>,
    /// `ui_config.dir` / `-ui-dir`: serve the UI from this directory (turns the UI on).
    pub ui_dir: Option<String>,
    pub encrypt: Option<String>,
    pub enable_script_checks: Option<bool>,
    /// Script checks of config files only.
    pub enable_local_script_checks: Option<bool>,
    /// How long a check's output-only change may wait before it is synced (0: never).
    pub check_update_interval_ms: Option<u64>,
    /// `service`/`services`/`check`/`checks` of every file, in order (they add up).
    pub services: Vec<concord_core::agent::LocalRequest>,
    pub pid_file: Option<String>,
    pub limits: Limits,
    /// Consul's `raft_snapshot_threshold`: applied entries between snapshots.
    pub raft_snapshot_threshold: Option<u64>,
    /// Consul's `raft_snapshot_interval`: the least time between snapshots taken by count.
    pub raft_snapshot_interval_ms: Option<u64>,
    /// Concord's own `raft_snapshot_chunk_bytes`: the bytes of one InstallSnapshot chunk.
    pub raft_snapshot_chunk_bytes: Option<u64>,
    /// Consul's `domain`: the DNS interface answers names under it.
    pub domain: Option<String>,
    pub dns: DnsLayer,
    /// `gossip_lan { ... }` and `reconnect_timeout`.
    pub gossip: crate::gossip::GossipLayer,
    /// `autopilot { ... }`.
    pub autopilot: crate::autopilot::AutopilotLayer,
}

impl ConfigLayer {
    /// Stacks `later` on top of `self`.
    pub fn merge(&mut self, later: ConfigLayer) {
        over(&mut self.dev, later.dev);
        over(&mut self.server, later.server);
        over(&mut self.bootstrap, later.bootstrap);
        over(&mut self.bootstrap_expect, later.bootstrap_expect);
        over(&mut self.node_name, later.node_name);
        over(&mut self.datacenter, later.datacenter);
        over(&mut self.data_dir, later.data_dir);
        over(&mut self.bind_addr, later.bind_addr);
        over(&mut self.advertise_addr, later.advertise_addr);
        over(&mut self.client_addr, later.client_addr);
        append(&mut self.start_join, later.start_join);
        append(&mut self.retry_join, later.retry_join);
        over(&mut self.retry_interval_ms, later.retry_interval_ms);
        over(&mut self.ports.http, later.ports.http);
        over(&mut self.ports.dns, later.ports.dns);
        over(&mut self.ports.server, later.ports.server);
        over(&mut self.ports.serf_lan, later.ports.serf_lan);
        over(&mut self.log_level, later.log_level);
        over(&mut self.log_json, later.log_json);
        over(&mut self.ui, later.ui);
        over(&mut self.ui_dir, later.ui_dir);
        over(&mut self.encrypt, later.encrypt);
        over(&mut self.enable_script_checks, later.enable_script_checks);
        self.services.extend(later.services);
        over(
            &mut self.enable_local_script_checks,
            later.enable_local_script_checks,
        );
        over(
            &mut self.check_update_interval_ms,
            later.check_update_interval_ms,
        );
        over(&mut self.pid_file, later.pid_file);
        over(
            &mut self.raft_snapshot_threshold,
            later.raft_snapshot_threshold,
        );
        over(
            &mut self.raft_snapshot_interval_ms,
            later.raft_snapshot_interval_ms,
        );
        over(
            &mut self.raft_snapshot_chunk_bytes,
            later.raft_snapshot_chunk_bytes,
        );
        over(&mut self.domain, later.domain);
        self.dns.merge(later.dns);
        self.gossip.merge(later.gossip);
        self.autopilot.merge(later.autopilot);
        let (limits, later_limits) = (&mut self.limits, later.limits);
        over(
            &mut limits.http_max_conns_per_client,
            later_limits.http_max_conns_per_client,
        );
        over(
            &mut limits.http_idle_timeout_ms,
            later_limits.http_idle_timeout_ms,
        );
        over(
            &mut limits.rpc_max_conns_per_client,
            later_limits.rpc_max_conns_per_client,
        );
    }
}

impl DnsLayer {
    fn merge(&mut self, later: DnsLayer) {
        over(&mut self.only_passing, later.only_passing);
        over(&mut self.udp_answer_limit, later.udp_answer_limit);
        over(&mut self.enable_truncate, later.enable_truncate);
        over(&mut self.a_record_limit, later.a_record_limit);
        over(&mut self.node_ttl_ms, later.node_ttl_ms);
        over(&mut self.service_ttl_ms, later.service_ttl_ms);
        over(&mut self.allow_stale, later.allow_stale);
    }
}

/// A layer's setting, if it has one, replaces a default.
pub(crate) fn set<T: Copy>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// A later source's setting, if it has one, replaces the earlier one.
pub(crate) fn over<T>(earlier: &mut Option<T>, later: Option<T>) {
    if later.is_some() {
        *earlier = later;
    }
}

/// Appends, skipping addresses already listed (the same seed in two files is one seed).
fn append(earlier: &mut Vec<String>, later: Vec<String>) {
    for item in later {
        if !earlier.contains(&item) {
            earlier.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_values_win_and_lists_append() {
        let mut base = ConfigLayer {
            node_name: Some("a".into()),
            datacenter: Some("dc1".into()),
            retry_join: vec!["10.0.0.1".into()],
            ..Default::default()
        };
        base.merge(ConfigLayer {
            node_name: Some("b".into()),
            retry_join: vec!["10.0.0.1".into(), "10.0.0.2".into()],
            ..Default::default()
        });
        assert_eq!(base.node_name.as_deref(), Some("b"));
        assert_eq!(base.datacenter.as_deref(), Some("dc1"));
        assert_eq!(base.retry_join, ["10.0.0.1", "10.0.0.2"]);
    }
}
