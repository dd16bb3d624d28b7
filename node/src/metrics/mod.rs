//! Concord's metrics: one registry per node (the simulator runs many nodes in one process, so
//! nothing here is process-global), written on hot paths through atomics (no lock, no
//! allocation: writers keep the series they were handed at start), read at scrape time by
//! `/v1/agent/metrics` in Consul's JSON shape or the Prometheus text format.
//!
//! One concern per file: `names` (every metric's one definition), `series` (counters and
//! gauges), `histogram`, `family` (label sets and their bound), `registry`, `prometheus` and
//! `consul_json` (the two formats), `process` (/proc/self), `scrape` (figures read from the
//! node when scraped), `raft_status` (the driver's copy of its Raft figures), `commit_timer`
//! (the leader's commit time).

pub mod commit_timer;
pub mod consul_json;
pub mod family;
pub mod histogram;
pub mod names;
#[cfg(not(madsim))]
pub mod process;
pub mod prometheus;
pub mod raft_status;
pub mod registry;
pub mod scrape;
pub mod series;

pub use family::Family;
pub use histogram::Histogram;
pub use raft_status::{RaftStatus, RaftStatusCell};
pub use registry::Registry;
pub use series::{Counter, Gauge, GaugeGuard};

use names as n;
use std::sync::Arc;
use std::time::Instant;

/// Every figure this node keeps, with the series its writers use.
pub struct Metrics {
    registry: Registry,
    started: Instant,
    pub raft: RaftMetrics,
    pub writes: WriteMetrics,
    pub http: HttpMetrics,
    pub(crate) scraped: scrape::ScrapedMetrics,
}

/// Counted by the driver and its storage.
pub struct RaftMetrics {
    pub apply: Arc<Counter>,
    pub state_leader: Arc<Counter>,
    pub state_candidate: Arc<Counter>,
    pub state_follower: Arc<Counter>,
    pub leader_changes: Arc<Counter>,
    pub commit_time: Arc<Histogram>,
    pub storage_append: Arc<Histogram>,
    pub storage_fsync: Arc<Histogram>,
    pub snapshot_persist: Arc<Histogram>,
    pub snapshot_taken: Arc<Counter>,
    pub snapshot_installed: Arc<Counter>,
}

/// KV, transaction and catalog writes, timed where the HTTP API handles them.
pub struct WriteMetrics {
    /// By operation (`set`, `cas`, `delete`, ...): look the few up once, see `kv_op`.
    pub kvs_apply: Arc<Family<Histogram>>,
    pub txn_apply: Arc<Histogram>,
    pub catalog_register: Arc<Histogram>,
    pub catalog_deregister: Arc<Histogram>,
}

pub struct HttpMetrics {
    /// By method, route template and status code.
    pub requests: Arc<Family<Histogram>>,
    pub blocking_queries: Arc<Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::default();
        let counter = |def| registry.counter(def).with(&[]);
        let raft = RaftMetrics {
            apply: counter(&n::RAFT_APPLY),
            state_leader: counter(&n::RAFT_STATE_LEADER),
            state_candidate: counter(&n::RAFT_STATE_CANDIDATE),
            state_follower: counter(&n::RAFT_STATE_FOLLOWER),
            leader_changes: counter(&n::RAFT_LEADER_CHANGES),
            commit_time: registry.histogram(&n::RAFT_COMMIT_TIME).with(&[]),
            storage_append: registry.histogram(&n::RAFT_STORAGE_APPEND).with(&[]),
            storage_fsync: registry.histogram(&n::RAFT_STORAGE_FSYNC).with(&[]),
            snapshot_persist: registry.histogram(&n::RAFT_SNAPSHOT_PERSIST).with(&[]),
            snapshot_taken: counter(&n::RAFT_SNAPSHOT_TAKEN),
            snapshot_installed: counter(&n::RAFT_SNAPSHOT_INSTALLED),
        };
        let writes = WriteMetrics {
            kvs_apply: registry.histogram(&n::KVS_APPLY),
            txn_apply: registry.histogram(&n::TXN_APPLY).with(&[]),
            catalog_register: registry.histogram(&n::CATALOG_REGISTER).with(&[]),
            catalog_deregister: registry.histogram(&n::CATALOG_DEREGISTER).with(&[]),
        };
        let http = HttpMetrics {
            requests: registry.histogram(&n::API_HTTP),
            blocking_queries: registry.gauge(&n::API_BLOCKING_QUERIES).with(&[]),
        };
        let scraped = scrape::ScrapedMetrics::new(&registry);
        let started = Instant::now();
        Metrics {
            registry,
            started,
            raft,
            writes,
            http,
            scraped,
        }
    }

    /// Every family, in a stable order, for the exporters.
    pub fn entries(&self) -> Vec<registry::Entry> {
        self.registry.entries()
    }

    /// Seconds since this node's metrics began (the span Consul's JSON rates are over).
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_exposed_once_with_help_and_type() {
        let metrics = Metrics::new();
        let text = prometheus::render(&metrics.entries());
        for entry in metrics.entries() {
            let name = entry.def().prometheus();
            let help = format!("# HELP {name} ");
            assert_eq!(text.matches(&help).count(), 1, "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        // Families without labels show a value before anything happened.
        assert!(text.contains("\nconsul_raft_apply 0\n"), "{text}");
        assert!(!text.contains("\nconsul_kvs_apply_count"), "no op seen yet");
    }

    #[test]
    fn a_kv_write_lands_in_its_op_series() {
        let metrics = Metrics::new();
        let set = metrics.writes.kvs_apply.with(&["set"]);
        set.observe(std::time::Duration::from_millis(3));
        let text = prometheus::render(&metrics.entries());
        assert!(
            text.contains("consul_kvs_apply_count{op=\"set\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("consul_kvs_apply_bucket{op=\"set\",le=\"2.5\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("consul_kvs_apply_bucket{op=\"set\",le=\"5\"} 1\n"),
            "{text}"
        );
    }
}
