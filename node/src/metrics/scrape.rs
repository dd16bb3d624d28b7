//! Figures read from the node when scraped, not counted as they happen: the Raft status the
//! driver published, members by gossip status, this agent's checks by status, the process,
//! and how many label sets each family folded into `other`.

use super::names as n;
use super::{Family, Gauge, Metrics, RaftStatus, Registry};
use concord_core::catalog::CheckStatus;
use concord_core::membership::MemberStatus;
use concord_core::raft::Role;
use std::sync::Arc;

pub(crate) struct ScrapedMetrics {
    term: Arc<Gauge>,
    commit_index: Arc<Gauge>,
    applied_index: Arc<Gauge>,
    last_index: Arc<Gauge>,
    last_snapshot_index: Arc<Gauge>,
    peers: Arc<Gauge>,
    last_contact: Arc<Gauge>,
    is_leader: Arc<Gauge>,
    members: Arc<Family<Gauge>>,
    checks: Arc<Family<Gauge>>,
    /// In `process::ProcessFigures` order (the simulator reads no /proc).
    #[cfg_attr(madsim, allow(dead_code))]
    process: [Arc<Gauge>; 7],
    overflow: Arc<Family<Gauge>>,
}

const MEMBER_STATUSES: [MemberStatus; 4] = [
    MemberStatus::Alive,
    MemberStatus::Leaving,
    MemberStatus::Left,
    MemberStatus::Failed,
];

impl ScrapedMetrics {
    pub(crate) fn new(registry: &Registry) -> ScrapedMetrics {
        let gauge = |def| registry.gauge(def).with(&[]);
        let members = registry.gauge(&n::SERF_MEMBERS);
        let checks = registry.gauge(&n::AGENT_CHECKS);
        // Every status is a series from the start: a status nobody is in reads 0.
        for status in MEMBER_STATUSES {
            members.with(&[status.name()]);
        }
        for status in CheckStatus::ALL {
            checks.with(&[status.as_str()]);
        }
        ScrapedMetrics {
            term: gauge(&n::RAFT_TERM),
            commit_index: gauge(&n::RAFT_COMMIT_INDEX),
            applied_index: gauge(&n::RAFT_APPLIED_INDEX),
            last_index: gauge(&n::RAFT_LAST_INDEX),
            last_snapshot_index: gauge(&n::RAFT_LAST_SNAPSHOT_INDEX),
            peers: gauge(&n::RAFT_PEERS),
            last_contact: gauge(&n::RAFT_LAST_CONTACT),
            is_leader: gauge(&n::SERVER_IS_LEADER),
            members,
            checks,
            process: [
                gauge(&n::PROCESS_RSS),
                gauge(&n::PROCESS_VSIZE),
                gauge(&n::PROCESS_OPEN_FDS),
                gauge(&n::PROCESS_MAX_FDS),
                gauge(&n::PROCESS_CPU),
                gauge(&n::PROCESS_THREADS),
                gauge(&n::PROCESS_START_TIME),
            ],
            overflow: registry.gauge(&n::METRICS_SERIES_OVERFLOW),
        }
    }
}

impl Metrics {
    pub fn record_raft_status(&self, status: &RaftStatus) {
        let s = &self.scraped;
        s.term.set(status.term as f64);
        s.commit_index.set(status.commit_index as f64);
        s.applied_index.set(status.applied_index as f64);
        s.last_index.set(status.last_log_index as f64);
        s.last_snapshot_index.set(status.last_snapshot_index as f64);
        s.peers.set(status.num_peers as f64);
        s.last_contact
            .set(status.last_contact_ms.map_or(-1.0, |ms| ms as f64));
        s.is_leader
            .set(f64::from(u8::from(status.role == Some(Role::Leader))));
    }

    /// Sets the member gauges to the count of each status among `statuses`.
    pub fn record_members(&self, statuses: impl IntoIterator<Item = MemberStatus>) {
        let mut counts = [0u32; MEMBER_STATUSES.len()];
        for status in statuses {
            if let Some(i) = MEMBER_STATUSES.iter().position(|s| *s == status) {
                counts[i] += 1;
            }
        }
        for (status, count) in MEMBER_STATUSES.iter().zip(counts) {
            self.scraped
                .members
                .with(&[status.name()])
                .set(f64::from(count));
        }
    }

    /// Sets the check gauges to the count of each status among `statuses`.
    pub fn record_checks(&self, statuses: impl IntoIterator<Item = CheckStatus>) {
        let mut counts = [0u32; CheckStatus::ALL.len()];
        for status in statuses {
            if let Some(i) = CheckStatus::ALL.iter().position(|s| *s == status) {
                counts[i] += 1;
            }
        }
        for (status, count) in CheckStatus::ALL.iter().zip(counts) {
            self.scraped
                .checks
                .with(&[status.as_str()])
                .set(f64::from(count));
        }
    }

    /// Reads `/proc/self` now.
    #[cfg(not(madsim))]
    pub fn record_process(&self) {
        let f = super::process::read();
        let figures = [
            f.resident_memory_bytes,
            f.virtual_memory_bytes,
            f.open_fds,
            f.max_fds,
            f.cpu_seconds,
            f.threads,
            f.start_time_seconds,
        ];
        for (gauge, figure) in self.scraped.process.iter().zip(figures) {
            gauge.set(figure.unwrap_or(f64::NAN));
        }
    }

    /// Copies each family's count of folded label sets into its own metric.
    pub fn record_overflow(&self) {
        for entry in self.entries() {
            let folded = entry.overflowed();
            if folded > 0 {
                self.scraped
                    .overflow
                    .with(&[entry.def().name])
                    .set(folded as f64);
            }
        }
    }
}
