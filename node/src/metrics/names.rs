//! Every metric Concord exports: its one name, help text, type, labels, label-set bound and
//! buckets. Names are Consul's where Consul has the metric (so its dashboards and alerts
//! work); Concord-only figures say so in their help and sit under the same prefix. Names are
//! dotted after the prefix, as Consul's JSON shows them (`consul.raft.apply`); Prometheus
//! joins them with `_` (`consul_raft_apply`). The `process_*` figures are Prometheus' standard
//! names, never prefixed.

use super::histogram::BucketsMs;

/// Consul's default `telemetry.metrics_prefix`.
pub const PREFIX: &str = "consul";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
pub struct MetricDef {
    /// Dotted, after the prefix (or the whole name when not `prefixed`).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// Label sets kept before new ones fold into one `other` series.
    pub series_max: usize,
    /// Histograms only.
    pub buckets_ms: BucketsMs,
    pub prefixed: bool,
}

/// Operations that finish in milliseconds: storage writes, Raft commits, KV and catalog writes.
pub const LATENCY_BUCKETS_MS: BucketsMs = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0,
    5_000.0, 10_000.0,
];
/// HTTP requests: as above, and blocking queries that wait up to Consul's 10 minutes.
pub const HTTP_BUCKETS_MS: BucketsMs = &[
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 5_000.0, 30_000.0,
    60_000.0, 300_000.0, 600_000.0,
];

/// HTTP label sets (route template x method x status) kept: Concord has about 80 routes.
pub const HTTP_SERIES_MAX: usize = 512;

const fn def(name: &'static str, kind: Kind, help: &'static str) -> MetricDef {
    MetricDef {
        name,
        help,
        kind,
        labels: &[],
        series_max: 1,
        buckets_ms: &[],
        prefixed: true,
    }
}

const fn timer(name: &'static str, help: &'static str) -> MetricDef {
    MetricDef {
        buckets_ms: LATENCY_BUCKETS_MS,
        ..def(name, Kind::Histogram, help)
    }
}

const fn standard(name: &'static str, kind: Kind, help: &'static str) -> MetricDef {
    MetricDef {
        prefixed: false,
        ..def(name, kind, help)
    }
}

// Raft, counted by the driver.
pub static RAFT_APPLY: MetricDef = def("raft.apply", Kind::Counter, "Raft entries committed while this server was the leader (Consul: Raft transactions applied on the leader).");
pub static RAFT_STATE_LEADER: MetricDef = def(
    "raft.state.leader",
    Kind::Counter,
    "Times this server became the leader.",
);
pub static RAFT_STATE_CANDIDATE: MetricDef = def(
    "raft.state.candidate",
    Kind::Counter,
    "Times this server started an election (pre-vote included).",
);
pub static RAFT_STATE_FOLLOWER: MetricDef = def(
    "raft.state.follower",
    Kind::Counter,
    "Times this server became a follower.",
);
pub static RAFT_LEADER_CHANGES: MetricDef = def(
    "raft.leader.changes",
    Kind::Counter,
    "Concord: times this server learned of a leader after having none or another (each election won counts, the same server re-elected too).",
);
pub static RAFT_COMMIT_TIME: MetricDef = timer(
    "raft.commitTime",
    "Time from the leader writing new entries to its log to their commit (ms).",
);
pub static RAFT_STORAGE_APPEND: MetricDef = timer(
    "raft.storage.append",
    "Concord: time to append Raft entries or a hard state to the log, fsync included (ms).",
);
pub static RAFT_STORAGE_FSYNC: MetricDef = timer(
    "raft.storage.fsync",
    "Concord: time of the log's fsync alone (ms).",
);
pub static RAFT_SNAPSHOT_PERSIST: MetricDef = timer(
    "raft.snapshot.persist",
    "Time to write a snapshot and the compacted log to disk (ms).",
);
pub static RAFT_SNAPSHOT_TAKEN: MetricDef = def(
    "raft.snapshot.taken",
    Kind::Counter,
    "Concord: snapshots this server took of its own state (log compaction).",
);
pub static RAFT_SNAPSHOT_INSTALLED: MetricDef = def(
    "raft.snapshot.installed",
    Kind::Counter,
    "Concord: snapshots this server installed from the leader or a restore.",
);

// Raft, read from the driver's status at scrape time.
pub static RAFT_TERM: MetricDef = def(
    "raft.term",
    Kind::Gauge,
    "Concord: this server's current Raft term.",
);
pub static RAFT_COMMIT_INDEX: MetricDef = def(
    "raft.commit_index",
    Kind::Gauge,
    "Concord: the highest log index known committed.",
);
pub static RAFT_APPLIED_INDEX: MetricDef = def(
    "raft.applied_index",
    Kind::Gauge,
    "The highest log index applied to the state machine.",
);
pub static RAFT_LAST_INDEX: MetricDef = def(
    "raft.last_index",
    Kind::Gauge,
    "The index of the last entry in this server's log.",
);
pub static RAFT_LAST_SNAPSHOT_INDEX: MetricDef = def(
    "raft.last_snapshot_index",
    Kind::Gauge,
    "Concord: the last log index the latest snapshot covers.",
);
pub static RAFT_PEERS: MetricDef = def(
    "raft.peers",
    Kind::Gauge,
    "Concord: Raft voters other than this server.",
);
pub static RAFT_LAST_CONTACT: MetricDef = def("raft.last_contact", Kind::Gauge, "Concord: on a follower, ms since it last heard from the leader (0 on the leader, -1 if never).");
pub static SERVER_IS_LEADER: MetricDef = def(
    "server.isLeader",
    Kind::Gauge,
    "1 if this server is the Raft leader, else 0.",
);

// Writes, counted where the HTTP API handles them.
pub static KVS_APPLY: MetricDef = MetricDef {
    labels: &["op"],
    series_max: 16,
    ..timer(
        "kvs.apply",
        "Time to complete an update to the KV store, by operation (ms; the op label is Concord's).",
    )
};
pub static TXN_APPLY: MetricDef = timer("txn.apply", "Time to apply a transaction (ms).");
pub static CATALOG_REGISTER: MetricDef = timer(
    "catalog.register",
    "Time to complete a catalog register operation (ms).",
);
pub static CATALOG_DEREGISTER: MetricDef = timer(
    "catalog.deregister",
    "Time to complete a catalog deregister operation (ms).",
);

// HTTP.
pub static API_HTTP: MetricDef = MetricDef {
    labels: &["method", "path", "code"],
    series_max: HTTP_SERIES_MAX,
    buckets_ms: HTTP_BUCKETS_MS,
    ..def("api.http", Kind::Histogram, "Time to serve an HTTP request, by method, route template (never the raw path) and status code (ms; the code label is Concord's).")
};
pub static API_BLOCKING_QUERIES: MetricDef = def(
    "api.blocking_queries",
    Kind::Gauge,
    "Concord: blocking queries (?index=) this agent is waiting on.",
);

// Read from the node at scrape time.
pub static SERF_MEMBERS: MetricDef = MetricDef {
    labels: &["status"],
    series_max: 8,
    ..def(
        "serf.members",
        Kind::Gauge,
        "Concord: LAN members this agent knows, by gossip status (alive, leaving, left, failed).",
    )
};
pub static AGENT_CHECKS: MetricDef = MetricDef {
    labels: &["status"],
    series_max: 8,
    ..def(
        "agent.checks",
        Kind::Gauge,
        "Concord: this agent's own health checks, by status (passing, warning, critical).",
    )
};
pub static METRICS_SERIES_OVERFLOW: MetricDef = MetricDef {
    labels: &["metric"],
    series_max: 64,
    ..def(
        "metrics.series_overflow",
        Kind::Counter,
        "Concord: label sets folded into a metric's `other` series because it reached its bound.",
    )
};

// The process, from /proc/self at scrape time: Prometheus' standard names.
pub static PROCESS_RSS: MetricDef = standard(
    "process_resident_memory_bytes",
    Kind::Gauge,
    "Resident memory size in bytes.",
);
pub static PROCESS_VSIZE: MetricDef = standard(
    "process_virtual_memory_bytes",
    Kind::Gauge,
    "Virtual memory size in bytes.",
);
pub static PROCESS_OPEN_FDS: MetricDef = standard(
    "process_open_fds",
    Kind::Gauge,
    "Number of open file descriptors.",
);
pub static PROCESS_MAX_FDS: MetricDef = standard(
    "process_max_fds",
    Kind::Gauge,
    "Maximum number of open file descriptors.",
);
pub static PROCESS_CPU: MetricDef = standard(
    "process_cpu_seconds_total",
    Kind::Counter,
    "Total user and system CPU time spent in seconds.",
);
pub static PROCESS_START_TIME: MetricDef = standard(
    "process_start_time_seconds",
    Kind::Gauge,
    "Start time of the process since unix epoch in seconds.",
);
pub static PROCESS_THREADS: MetricDef = standard(
    "process_threads",
    Kind::Gauge,
    "Number of OS threads in the process.",
);

impl MetricDef {
    /// The name in Consul's JSON: `consul.raft.apply`.
    pub fn dotted(&self) -> String {
        match self.prefixed {
            true => format!("{PREFIX}.{}", self.name),
            false => self.name.to_string(),
        }
    }

    /// The name in the Prometheus text format: `consul_raft_apply`.
    pub fn prometheus(&self) -> String {
        self.dotted().replace(['.', '-'], "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_consuls_in_both_shapes() {
        assert_eq!(RAFT_APPLY.dotted(), "consul.raft.apply");
        assert_eq!(SERVER_IS_LEADER.prometheus(), "consul_server_isLeader");
        assert_eq!(PROCESS_CPU.prometheus(), "process_cpu_seconds_total");
    }

    #[test]
    fn bucket_bounds_ascend() {
        for buckets in [LATENCY_BUCKETS_MS, HTTP_BUCKETS_MS] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
