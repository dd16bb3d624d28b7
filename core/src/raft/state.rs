//! The `Raft` state machine: its fields, its public API, role changes and the one dispatch of
//! incoming messages. The handlers live beside it, one file per concern.

use super::log::RaftLog;
use super::message::{RaftBody, RaftMessage};
use super::options::RaftOptions;
use super::progress::Progress;
use super::read_index::ReadQueue;
use super::ready::{Ready, SnapshotToSave};
use super::types::{ClusterConfig, Entry, EntryPayload, HardState, NodeId, Snapshot};
use crate::rng::Rng;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Why a request to this node's Raft was refused. Caller mistakes and "not now" alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftError {
    NotLeader {
        leader: Option<NodeId>,
    },
    TransferInProgress,
    TooManyUncommitted {
        entries_max: usize,
    },
    /// The log holds `bytes_max` in memory; proposals wait for a snapshot to compact it.
    LogFull {
        bytes_max: usize,
    },
    TooManyPendingReads {
        reads_max: usize,
    },
    ConfigChangeInProgress,
    LeaderNotReady,
    BadConfigChange(String),
    AlreadyBootstrapped,
}

impl std::fmt::Display for RaftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RaftError::NotLeader { leader: Some(l) } => write!(f, "not the leader (leader is {l})"),
            RaftError::NotLeader { leader: None } => write!(f, "No cluster leader"),
            RaftError::TransferInProgress => write!(f, "leadership transfer in progress"),
            RaftError::TooManyUncommitted { entries_max } => {
                write!(f, "too many uncommitted entries (maximum {entries_max})")
            }
            RaftError::LogFull { bytes_max } => {
                write!(
                    f,
                    "the log holds its maximum of {bytes_max} bytes until a snapshot"
                )
            }
            RaftError::TooManyPendingReads { reads_max } => {
                write!(f, "too many pending consistent reads (maximum {reads_max})")
            }
            RaftError::ConfigChangeInProgress => {
                write!(f, "a configuration change is already in progress")
            }
            RaftError::LeaderNotReady => {
                write!(f, "leader has not committed an entry of its term yet")
            }
            RaftError::BadConfigChange(why) => write!(f, "bad configuration change: {why}"),
            RaftError::AlreadyBootstrapped => {
                write!(f, "raft already has state; not bootstrapping")
            }
        }
    }
}

/// What storage gave back at start-up.
#[derive(Clone, Debug, Default)]
pub struct RaftRestore {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

/// Counters of what was dropped or refused; remote input never panics a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftStats {
    pub messages_dropped_stale_term: u64,
    pub messages_dropped_misaddressed: u64,
    pub messages_dropped_unexpected: u64,
    pub votes_ignored_in_lease: u64,
    pub elections_started: u64,
}

/// An in-progress leadership transfer.
#[derive(Clone, Debug)]
pub(super) struct Transfer {
    pub target: NodeId,
    pub deadline_ms: u64,
}

/// A snapshot being received chunk by chunk.
#[derive(Clone, Debug)]
pub(super) struct IncomingSnapshot {
    pub meta: super::types::SnapshotMeta,
    pub data: Vec<u8>,
}

pub struct Raft {
    pub(super) id: NodeId,
    pub(super) options: RaftOptions,
    pub(super) term: u64,
    pub(super) voted_for: Option<NodeId>,
    pub(super) role: Role,
    pub(super) leader_id: Option<NodeId>,
    pub(super) log: RaftLog,
    pub(super) config: ClusterConfig,
    pub(super) config_index: u64,
    pub(super) snapshot_data: std::sync::Arc<Vec<u8>>,
    pub(super) rng: Rng,
    pub(super) now_ms: u64,
    pub(super) election_deadline_ms: u64,
    /// When a leader was last heard from (or, on a leader, when a quorum last answered).
    pub(super) leader_contact_ms: Option<u64>,
    pub(super) votes: BTreeMap<NodeId, bool>,
    /// The granted votes (its own included) of the last election this node won: Consul's
    /// `tally` in `election won: term=N tally=M`.
    pub(super) election_tally: u64,
    pub(super) progress: BTreeMap<NodeId, Progress>,
    pub(super) heartbeat_deadline_ms: u64,
    pub(super) check_quorum_deadline_ms: u64,
    pub(super) reads: ReadQueue,
    pub(super) transfer: Option<Transfer>,
    pub(super) incoming_snapshot: Option<IncomingSnapshot>,
    pub(super) messages: Vec<RaftMessage>,
    pub(super) snapshot_to_save: Option<SnapshotToSave>,
    pub(super) given_hard_state: HardState,
    pub(super) reported_leader: Option<NodeId>,
    pub stats: RaftStats,
}

impl Raft {
    /// A Raft node restored from storage (or fresh, from `RaftRestore::default()`).
    pub fn new(
        id: NodeId,
        options: RaftOptions,
        seed: u64,
        now_ms: u64,
        restore: RaftRestore,
    ) -> Raft {
        options.validate().expect("invalid RaftOptions");
        let (meta, snapshot_data) = restore
            .snapshot
            .map(|s| (s.meta, s.data))
            .unwrap_or_default();
        let log = RaftLog::restore(meta, restore.entries, restore.hard_state.commit_index);
        let mut raft = Raft {
            id,
            options,
            term: restore.hard_state.term,
            voted_for: restore.hard_state.voted_for.clone(),
            role: Role::Follower,
            leader_id: None,
            log,
            config: ClusterConfig::default(),
            config_index: 0,
            snapshot_data: std::sync::Arc::new(snapshot_data),
            rng: Rng::new(seed),
            now_ms,
            election_deadline_ms: 0,
            leader_contact_ms: None,
            votes: BTreeMap::new(),
            election_tally: 0,
            progress: BTreeMap::new(),
            heartbeat_deadline_ms: 0,
            check_quorum_deadline_ms: 0,
            reads: ReadQueue::default(),
            transfer: None,
            incoming_snapshot: None,
            messages: Vec::new(),
            snapshot_to_save: None,
            given_hard_state: restore.hard_state,
            reported_leader: None,
            stats: RaftStats::default(),
        };
        raft.given_hard_state.commit_index = raft.log.commit_index;
        raft.reload_config_from_log();
        raft.reset_election_deadline();
        raft
    }

    /// Whether this node never held a term, a log entry, a snapshot or a configuration: only
    /// then may it bootstrap. A term counts: some cluster's server has reached us (a vote
    /// request, a probe), and that cluster's leader, not a bootstrap, gives us entry 1. The
    /// agent asks this very function before bootstrapping, so the two never disagree (fuzz
    /// seed 40317: a vote request raised the term between the agent's check and Raft's).
    pub fn is_fresh(&self) -> bool {
        self.term == 0 && self.log.last_index() == 0 && self.config.is_empty()
    }

    /// Forms the initial cluster: writes `config` as entry 1 of term 1. Every server of the
    /// initial configuration must bootstrap with the very same `config` (see `bootstrap.rs`).
    pub fn bootstrap(&mut self, config: ClusterConfig) -> Result<(), RaftError> {
        if !self.is_fresh() {
            return Err(RaftError::AlreadyBootstrapped);
        }
        assert!(
            config.voters.contains(&self.id),
            "{}: bootstrapping without itself",
            self.id
        );
        self.term = 1;
        self.log.append(Entry {
            term: 1,
            index: 1,
            payload: EntryPayload::Config(config.clone()),
        });
        self.apply_config(config, 1);
        // A single server needs no one's vote: be leader at once (what `-dev` wants).
        self.election_deadline_ms = self.now_ms;
        Ok(())
    }

    pub fn id(&self) -> &NodeId {
        &self.id
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// The granted votes (its own included) of the last election this node won; 0 if none.
    pub fn election_tally(&self) -> u64 {
        self.election_tally
    }
    pub fn leader(&self) -> Option<&NodeId> {
        self.leader_id.as_ref()
    }
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }
    pub fn config_index(&self) -> u64 {
        self.config_index
    }
    pub fn commit_index(&self) -> u64 {
        self.log.commit_index
    }
    pub fn applied_index(&self) -> u64 {
        self.log.applied_index
    }
    pub fn last_index(&self) -> u64 {
        self.log.last_index()
    }
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    pub fn voted_for(&self) -> Option<&NodeId> {
        self.voted_for.as_ref()
    }
    pub fn options(&self) -> &RaftOptions {
        &self.options
    }
    pub fn is_voter(&self) -> bool {
        self.config.voters.contains(&self.id)
    }
    /// When this node last heard from its leader (ms on its own clock), if ever.
    pub fn last_leader_contact_ms(&self) -> Option<u64> {
        self.leader_contact_ms
    }
    /// The leader's view of each follower's match index.
    pub fn match_indexes(&self) -> BTreeMap<NodeId, u64> {
        self.progress
            .iter()
            .map(|(id, p)| (id.clone(), p.match_index))
            .collect()
    }
    /// The leader's view of each peer: its match index and when it last answered (on the
    /// leader's clock). Empty on followers.
    pub fn peer_progress(&self) -> BTreeMap<NodeId, (u64, Option<u64>)> {
        self.progress
            .iter()
            .map(|(id, p)| (id.clone(), (p.match_index, p.last_heard_ms)))
            .collect()
    }
    /// The snapshot this node holds (for tests and storage), if any.
    pub fn snapshot_data(&self) -> &[u8] {
        &self.snapshot_data
    }

    /// Time passes: campaign, heartbeat, check quorum or give up a transfer as due.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        if self.role == Role::Leader {
            self.tick_leader();
        } else if self.now_ms >= self.election_deadline_ms {
            self.on_election_timeout();
        }
    }

    /// A message from a peer. Stale, misaddressed or unexpected messages are dropped and counted.
    pub fn step(&mut self, now_ms: u64, msg: RaftMessage) {
        self.now_ms = self.now_ms.max(now_ms);
        if msg.to != self.id || msg.from == self.id {
            self.stats.messages_dropped_misaddressed += 1;
            return;
        }
        if !self.reconcile_term(&msg) {
            return;
        }
        let RaftMessage {
            from, term, body, ..
        } = msg;
        match body {
            RaftBody::RequestVote {
                last_log_index,
                last_log_term,
                pre_vote,
                transfer: _,
            } => self.on_request_vote(from, term, last_log_index, last_log_term, pre_vote),
            RaftBody::RequestVoteResponse { granted, pre_vote } => {
                self.on_request_vote_response(from, granted, pre_vote)
            }
            RaftBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_seq,
            } => self.on_append_entries(
                from,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_seq,
            ),
            RaftBody::AppendEntriesResponse {
                success,
                match_index,
                hint_index,
                hint_term,
                read_seq,
            } => self.on_append_entries_response(
                from,
                success,
                match_index,
                hint_index,
                hint_term,
                read_seq,
            ),
            RaftBody::InstallSnapshot {
                meta,
                offset_bytes,
                data,
                done,
            } => self.on_install_snapshot(from, meta, offset_bytes, data, done),
            RaftBody::InstallSnapshotResponse {
                next_offset_bytes,
                done,
                last_index,
            } => self.on_install_snapshot_response(from, next_offset_bytes, done, last_index),
            RaftBody::TimeoutNow => self.on_timeout_now(from),
        }
    }

    /// Everything this round asks of the driver (see `ready.rs` for the order). New entries
    /// are handed out `persist_bytes_max` at a time, so that no client load can make one write
    /// to storage too large; what depends on them waits for the Ready that takes the last.
    pub fn poll_ready(&mut self) -> Ready {
        let snapshot = self.snapshot_to_save.take();
        let vote_before = (
            self.given_hard_state.term,
            self.given_hard_state.voted_for.clone(),
        );
        let hard_state = self.take_hard_state_changed();
        let vote_changed = hard_state
            .as_ref()
            .is_some_and(|h| (h.term, &h.voted_for) != (vote_before.0, &vote_before.1));
        let entries = self.log.take_unpersisted(self.options.persist_bytes_max);
        let must_sync = vote_changed || !entries.is_empty();
        if self.log.has_unpersisted() {
            // Only durable state: a commit index ahead of the entries on disk is clamped
            // on restart, and no message or reply of this round may go out before the rest.
            return Ready {
                snapshot,
                hard_state,
                entries,
                must_sync,
                ..Ready::default()
            };
        }
        let leader_changed =
            (self.reported_leader != self.leader_id).then(|| self.leader_id.clone());
        self.reported_leader = self.leader_id.clone();
        let (early_messages, messages) = self.split_early_messages(vote_changed);
        Ready {
            snapshot,
            hard_state,
            entries,
            must_sync,
            early_messages,
            messages,
            committed: self.log.take_committed(),
            read_states: self.reads.take_ready(),
            leader_changed,
        }
    }

    /// The messages that need nothing of this round on disk (a leader's appends, snapshots
    /// and transfer orders: its term and vote are already durable, and its own copy of new
    /// entries counts only once persisted), and the rest, each in the order sent.
    fn split_early_messages(&mut self, vote_changed: bool) -> (Vec<RaftMessage>, Vec<RaftMessage>) {
        let messages = std::mem::take(&mut self.messages);
        if vote_changed {
            return (Vec::new(), messages);
        }
        let (early, late): (Vec<_>, Vec<_>) = messages.into_iter().partition(|m| {
            matches!(
                m.body,
                RaftBody::AppendEntries { .. }
                    | RaftBody::InstallSnapshot { .. }
                    | RaftBody::TimeoutNow
            )
        });
        assert!(
            early.iter().all(|m| m.term == self.given_hard_state.term),
            "{}: term {}: an early message of another term",
            self.id,
            self.term
        );
        (early, late)
    }

    /// The hard state, if it changed since it was last handed out.
    fn take_hard_state_changed(&mut self) -> Option<HardState> {
        let hard_state = HardState {
            term: self.term,
            voted_for: self.voted_for.clone(),
            commit_index: self.log.commit_index,
        };
        let changed = hard_state != self.given_hard_state;
        self.given_hard_state = hard_state.clone();
        changed.then_some(hard_state)
    }

    /// Storage made the log durable up to `index` of `term`: the leader may count its own copy.
    pub fn on_persisted(&mut self, index: u64, term: u64) {
        self.log.on_persisted(index, term);
        if self.role == Role::Leader {
            self.maybe_commit();
        }
    }

    /// Whether the test-only bug `bug` is planted.
    pub(super) fn planted(&self, bug: super::options::RaftBug) -> bool {
        self.options.planted_bug == Some(bug)
    }

    pub(super) fn send(&mut self, to: NodeId, body: RaftBody) {
        debug_assert!(to != self.id);
        self.messages.push(RaftMessage {
            from: self.id.clone(),
            to,
            term: self.term,
            body,
        });
    }

    pub(super) fn reset_election_deadline(&mut self) {
        let timeout_ms = self.rng.range(
            self.options.election_timeout_min_ms,
            self.options.election_timeout_max_ms,
        );
        self.election_deadline_ms = self.now_ms + timeout_ms;
    }

    /// Whether a leader was heard from within the minimum election timeout (CheckQuorum lease).
    pub(super) fn in_leader_lease(&self) -> bool {
        self.options.check_quorum
            && self.leader_id.is_some()
            && self
                .leader_contact_ms
                .is_some_and(|t| self.now_ms < t + self.options.election_timeout_min_ms)
    }

    pub(super) fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        assert!(
            term >= self.term,
            "{}: term going back from {} to {term}",
            self.id,
            self.term
        );
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        if self.role == Role::Leader {
            self.reads.fail_all();
            self.progress.clear();
            self.transfer = None;
        }
        self.role = Role::Follower;
        self.leader_id = leader;
        self.votes.clear();
        self.reset_election_deadline();
    }

    /// Re-derives the configuration from the log (after a restart or a truncation): the last
    /// configuration entry wins; without one, the snapshot's.
    pub(super) fn reload_config_from_log(&mut self) {
        let latest = self.log.iter().rev().find_map(|e| match &e.payload {
            EntryPayload::Config(c) => Some((c.clone(), e.index)),
            _ => None,
        });
        let meta = self.log.snapshot_meta();
        let (config, index) = latest.unwrap_or((meta.config.clone(), meta.last_index));
        self.apply_config(config, index);
    }
}
