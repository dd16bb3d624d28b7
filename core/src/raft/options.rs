//! Timings and bounds of the Raft module. Every queue and batch has a named maximum here.

/// Consul's defaults scaled as its `raft_multiplier = 1` (production) timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftOptions {
    /// Election timeouts are drawn from `election_timeout_min_ms..election_timeout_max_ms`.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Heartbeats keep followers from campaigning; well under the minimum election timeout.
    pub heartbeat_interval_ms: u64,
    /// Entries in one AppendEntries.
    pub append_entries_max: usize,
    /// Payload bytes in one AppendEntries (at least one entry is always sent).
    pub append_bytes_max: usize,
    /// AppendEntries in flight to one follower before the leader waits for replies.
    pub inflight_messages_max: usize,
    /// Bytes of snapshot in one InstallSnapshot chunk.
    pub snapshot_chunk_bytes_max: usize,
    /// Bytes of new entries handed to storage in one Ready (about; at least one entry): keeps
    /// every write to the log under the storage's record size, whatever the load.
    pub persist_bytes_max: usize,
    /// Bytes of entries the log may hold in memory (`Entry::size_bytes`) before proposals are
    /// refused until a snapshot compacts it: with the largest values, the entry bounds alone
    /// would let gigabytes pile up.
    pub log_bytes_max: usize,
    /// Entries proposed but not yet committed before proposals are refused (back-pressure).
    pub uncommitted_entries_max: usize,
    /// ReadIndex requests waiting for a quorum before new ones are refused.
    pub pending_reads_max: usize,
    /// A learner whose match index is within this many entries of the commit index is promoted.
    pub learner_catch_up_entries: u64,
    /// Raft promotes caught-up learners itself. On for Raft alone (its tests and the
    /// simulator's Raft-only clusters); the agent turns it off: there autopilot promotes a
    /// learner only once it has been healthy for a while (`agent/autopilot`).
    pub promote_caught_up_learners: bool,
    /// PreVote: ask before disrupting the cluster with a higher term.
    pub pre_vote: bool,
    /// CheckQuorum: a leader that has not heard from a quorum within an election timeout
    /// steps down, and followers ignore vote requests while they hear from a leader.
    pub check_quorum: bool,
    /// A classic bug planted on purpose, to prove that the tests and the simulator catch it.
    /// Always `None` in the product.
    pub planted_bug: Option<RaftBug>,
}

/// Classic Raft bugs (`shared/reference/raft-and-simulation.md`) that can be planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RaftBug {
    /// Figure 8: commit an entry of an earlier term by counting replicas.
    CommitOldTermByCounting,
    /// A stale AppendEntries truncates entries that do not conflict.
    StaleAppendTruncates,
    /// A vote is granted without checking that the candidate's log is up to date.
    VoteIgnoresLog,
    /// ReadIndex answers without confirming leadership with a quorum (stale reads).
    ReadIndexSkipsQuorum,
    /// Learners count towards the commit quorum.
    QuorumCountsLearners,
    /// AppendEntries of a lower term are accepted: a deposed leader still writes to followers.
    AcceptStaleLeader,
}

impl RaftBug {
    pub const ALL: [RaftBug; 6] = [
        RaftBug::CommitOldTermByCounting,
        RaftBug::StaleAppendTruncates,
        RaftBug::VoteIgnoresLog,
        RaftBug::ReadIndexSkipsQuorum,
        RaftBug::QuorumCountsLearners,
        RaftBug::AcceptStaleLeader,
    ];

    /// The name used on command lines (`--bug NAME`).
    pub fn name(self) -> &'static str {
        match self {
            RaftBug::CommitOldTermByCounting => "commit-old-term",
            RaftBug::StaleAppendTruncates => "stale-append-truncates",
            RaftBug::VoteIgnoresLog => "vote-ignores-log",
            RaftBug::ReadIndexSkipsQuorum => "read-index-skips-quorum",
            RaftBug::QuorumCountsLearners => "quorum-counts-learners",
            RaftBug::AcceptStaleLeader => "accept-stale-leader",
        }
    }
}

impl Default for RaftOptions {
    fn default() -> RaftOptions {
        RaftOptions {
            election_timeout_min_ms: 1000,
            election_timeout_max_ms: 2000,
            heartbeat_interval_ms: 100,
            append_entries_max: 256,
            append_bytes_max: 1024 * 1024,
            inflight_messages_max: 8,
            snapshot_chunk_bytes_max: 256 * 1024,
            persist_bytes_max: 8 * 1024 * 1024,
            log_bytes_max: 512 * 1024 * 1024,
            uncommitted_entries_max: 4096,
            pending_reads_max: 4096,
            learner_catch_up_entries: 16,
            promote_caught_up_learners: true,
            pre_vote: true,
            check_quorum: true,
            planted_bug: None,
        }
    }
}

impl RaftOptions {
    /// The fast timings of `-dev` and of the simulator's small clusters.
    pub fn fast() -> RaftOptions {
        RaftOptions {
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            heartbeat_interval_ms: 30,
            ..RaftOptions::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.election_timeout_min_ms >= self.election_timeout_max_ms {
            return Err("election_timeout_min_ms must be below election_timeout_max_ms".into());
        }
        if self.heartbeat_interval_ms * 2 > self.election_timeout_min_ms {
            return Err("heartbeat_interval_ms must be at most half the election timeout".into());
        }
        if self.append_entries_max == 0 || self.inflight_messages_max == 0 {
            return Err("append_entries_max and inflight_messages_max must be positive".into());
        }
        if self.snapshot_chunk_bytes_max == 0 || self.persist_bytes_max == 0 {
            return Err("snapshot_chunk_bytes_max and persist_bytes_max must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::RaftOptions;

    #[test]
    fn heartbeat_may_be_half_the_election_timeout_and_no_more() {
        let mut options = RaftOptions {
            election_timeout_min_ms: 1000,
            election_timeout_max_ms: 2000,
            heartbeat_interval_ms: 500,
            ..RaftOptions::default()
        };
        assert_eq!(options.validate(), Ok(()));
        options.heartbeat_interval_ms = 501;
        assert!(options
            .validate()
            .unwrap_err()
            .contains("heartbeat_interval_ms"));
        options.heartbeat_interval_ms = 100;
        options.election_timeout_max_ms = 1000;
        assert!(options
            .validate()
            .unwrap_err()
            .contains("election_timeout_min_ms"));
    }

    #[test]
    fn bounds_must_be_positive() {
        let valid = RaftOptions::default();
        assert_eq!(valid.validate(), Ok(()));
        for options in [
            RaftOptions {
                append_entries_max: 0,
                ..valid.clone()
            },
            RaftOptions {
                inflight_messages_max: 0,
                ..valid.clone()
            },
            RaftOptions {
                snapshot_chunk_bytes_max: 0,
                ..valid.clone()
            },
            RaftOptions {
                persist_bytes_max: 0,
                ..valid.clone()
            },
        ] {
            assert!(options.validate().unwrap_err().contains("positive"));
        }
    }
}
