//! The agent: one Concord process as a pure state machine. It owns membership, and on servers
//! Raft and the state machine (KV); it turns client requests into proposals, reads or forwards.
//!
//! Inputs: `handle_request`, `handle_message`, `tick` (each with `now_ms`), `on_persisted`.
//! Output: `poll` returns an ordered list of `Action`s to execute in order: durable writes
//! first, then messages, then replies (see `Action`).

pub mod api;
pub mod apply;
pub mod autopilot;
mod bootstrap;
mod catalog;
mod catalog_reconcile;
pub mod command;
pub mod config;
mod gossip;
pub mod journal;
mod leave;
pub mod local;
pub mod lock_delay;
mod pending;
mod reconcile;
mod requests;
mod seen;
pub mod session_timers;
mod sessions;
mod snapshot_ops;
mod ticks;
mod timers;
pub mod txn;
pub mod watch;
pub mod wire;

pub use api::*;
pub use catalog_reconcile::{
    CATALOG_RECONCILE_WRITES_PER_ROUND_MAX, CONSUL_SERVICE, SERF_HEALTH_CHECK_ID,
};
pub use config::AgentConfig;
pub use gossip::{JOIN_RESEND_INTERVAL_MS, JOIN_TIMEOUT_MS};
pub use journal::LockJournalEvent;
pub use wire::{BootstrapMessage, Envelope, WireMessage};

use crate::kv::KvStore;
use crate::membership::{Member, MemberStatus, Membership, Role};
use crate::raft::Entry;
use crate::raft::{HardState, Raft, RaftRestore, SnapshotToSave};
use crate::rng::Rng;
use crate::state::StateMachine;
use bootstrap::Bootstrap;
use leave::LeaveState;
use pending::PendingTable;

/// What the driver must do, in the order given.
#[derive(Clone, Debug)]
pub enum Action {
    /// Write the snapshot and compact the log, durably.
    SaveSnapshot(Box<SnapshotToSave>),
    /// Append entries (replacing any at or after the first's index) and the hard state, with
    /// one write and one fsync; then call `Agent::on_persisted` with the last entry.
    Persist {
        hard_state: Option<HardState>,
        entries: Vec<Entry>,
        /// Whether to fsync: false only for a hard state that just moved the commit index.
        sync: bool,
    },
    Send {
        to: String,
        envelope: Envelope,
    },
    /// One UDP datagram to `to` (a gossip address); the runtime falls back to the stream
    /// transport when the encoded envelope exceeds the datagram maximum. Unreliable: it may be
    /// lost, duplicated or reordered, so only messages that tolerate that (probes, gossip) go
    /// this way.
    SendDatagram {
        to: String,
        envelope: Envelope,
    },
    /// Answer a local request.
    Reply {
        request_id: u64,
        result: ApiResult,
    },
    Log {
        level: LogLevel,
        message: String,
    },
    /// A graceful leave finished: the process may exit.
    LeaveComplete,
    /// Save the agent's own services and checks (`local::LocalState::to_bytes`), replacing
    /// what was saved before; given back by `Agent::restore_local` at the next start.
    PersistLocal {
        bytes: Vec<u8>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Counters of what was dropped; remote input never panics an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    pub messages_dropped: u64,
    pub raft_messages_unroutable: u64,
    pub requests_refused_overload: u64,
}

pub struct Agent {
    config: AgentConfig,
    now_ms: u64,
    rng: Rng,
    /// Draws the ids that must never repeat, even across restarts (sessions, restores):
    /// seeded with the seed and the incarnation (`incarnation_rng`).
    id_rng: Rng,
    membership: Membership,
    raft: Option<Raft>,
    /// The replicated tables (servers; empty on clients).
    state: StateMachine,
    /// Blocking reads waiting here for a change (see `watch.rs`).
    parked_reads: watch::ParkedReads,
    /// Forwarded requests taken, to drop duplicated frames (see `seen.rs`).
    seen_forwards: seen::SeenForwards,
    bootstrap: Bootstrap,
    pending: PendingTable,
    /// The services and checks registered on this agent (see `local/`).
    local: local::LocalState,
    leave: Option<LeaveState>,
    /// The leader's writes of serfHealth and `consul` (see `catalog_reconcile.rs`).
    catalog_reconcile: catalog_reconcile::CatalogReconcile,
    /// Since when each server has been healthy, on the leader (see `autopilot/`).
    autopilot: autopilot::Tracker,
    actions: Vec<Action>,
    /// Members the detector reaped lately, for the leader's catalog (see `gossip.rs`).
    reaped: std::collections::BTreeMap<String, u64>,
    /// When the next round of bootstrap and the leader's reconciles is due.
    reconcile_deadline_ms: u64,
    /// Before this, an agent that knows nobody does not join another gossip sender.
    alone_join_deadline_ms: u64,
    complaint_deadline_ms: u64,
    /// What was applied, for checkers (the simulator); off unless enabled.
    apply_journal: Option<Vec<AppliedEntry>>,
    /// Consistent reads as they arrive and are released, for checkers; off unless enabled.
    read_journal: Option<Vec<journal::ReadEvent>>,
    /// Changes of lock holders as they apply, for checkers; off unless enabled.
    lock_journal: Option<Vec<journal::LockJournalEvent>>,
    /// The leader's session TTL timers (see `session_timers.rs`).
    session_timers: session_timers::SessionTimers,
    /// Keys that may not be locked yet (see `lock_delay.rs`).
    lock_delays: lock_delay::LockDelays,
    /// When the log was last compacted by count (see `AgentConfig::snapshot_interval_ms`).
    last_snapshot_ms: u64,
    pub stats: AgentStats,
}

/// One applied log entry as a checker sees it: all servers must agree on each index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedEntry {
    pub index: u64,
    pub term: u64,
    /// FNV-1a of the entry's payload.
    pub digest: u64,
    /// The applying server's current term: the entry was committed in this term or earlier.
    pub applier_term: u64,
    /// `StateMachine::digest` once the entry is applied: servers agree on it at every index.
    pub state_digest: u64,
}

/// A generator for this incarnation: a simulated machine restarts with the same seed, but
/// at a later clock, so what it draws differs from what it drew before the restart. Its own
/// stream: drawing from it moves nothing the seed alone decides.
fn incarnation_rng(seed: u64, now_ms: u64) -> Rng {
    const ID_STREAM: u64 = 0x5E55_1011_1D5E_ED00;
    let mut mixer = Rng::new(seed ^ ID_STREAM);
    Rng::new(mixer.next_u64() ^ now_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Entries a journal holds before the oldest are dropped (a checker drains it every round).
pub const APPLY_JOURNAL_MAX: usize = 65_536;

impl Agent {
    /// An agent; servers come back from `restore` (what storage recovered).
    pub fn new(config: AgentConfig, seed: u64, now_ms: u64, restore: RaftRestore) -> Agent {
        config.validate().expect("invalid AgentConfig");
        let mut rng = Rng::new(seed);
        let state = restore_state(&restore);
        // Different for every incarnation (a restarted process has the same seed but a later
        // clock), so request ids never repeat across restarts.
        let first_request_id = (rng.next_u64() ^ now_ms.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 1;
        let id_rng = incarnation_rng(seed, now_ms);
        let raft = (config.role == Role::Server).then(|| {
            Raft::new(
                crate::raft::NodeId::new(&config.node_name),
                config.raft.clone(),
                rng.next_u64(),
                now_ms,
                restore,
            )
        });
        let in_raft = raft.as_ref().is_some_and(|r| !r.config().is_empty());
        let me = Member {
            name: config.node_name.clone(),
            gossip_addr: config.gossip_addr.clone(),
            rpc_addr: config.rpc_addr.clone(),
            role: config.role,
            datacenter: config.datacenter.clone(),
            bootstrap_expect: config.bootstrap_expect,
            in_raft,
            build: config.build.clone(),
            incarnation: now_ms,
            announced: MemberStatus::Alive,
        };
        let membership = Membership::new(me, config.membership.clone(), rng.next_u64(), now_ms);
        let mut agent = Agent {
            bootstrap: Bootstrap::new(config.bootstrap_expect),
            pending: PendingTable::new(config.pending_requests_max, first_request_id),
            local: local::LocalState::default(),
            config,
            now_ms,
            rng,
            id_rng,
            membership,
            raft,
            state,
            parked_reads: watch::ParkedReads::new(watch::PARKED_READS_MAX),
            seen_forwards: seen::SeenForwards::new(seen::FORWARDS_SEEN_MAX),
            leave: None,
            catalog_reconcile: Default::default(),
            autopilot: Default::default(),
            actions: Vec::new(),
            reaped: Default::default(),
            reconcile_deadline_ms: now_ms,
            alone_join_deadline_ms: now_ms,
            complaint_deadline_ms: now_ms,
            apply_journal: None,
            read_journal: None,
            lock_journal: None,
            session_timers: Default::default(),
            lock_delays: Default::default(),
            last_snapshot_ms: now_ms,
            stats: AgentStats::default(),
        };
        agent.plant_state_bug();
        agent
    }

    /// Plants `AgentConfig::planted_state_bug` in the state machine (again after the state is
    /// replaced: a snapshot installed, a restore committed). Tests and the simulator only.
    fn plant_state_bug(&mut self) {
        if let Some(bug) = self.config.planted_state_bug {
            self.state.plant_bug(bug);
        }
    }

    pub fn config(&self) -> &AgentConfig {
        &self.config
    }
    pub fn name(&self) -> &str {
        &self.config.node_name
    }
    pub fn raft(&self) -> Option<&Raft> {
        self.raft.as_ref()
    }
    pub fn kv(&self) -> &KvStore {
        self.state.kv()
    }
    pub fn state(&self) -> &StateMachine {
        &self.state
    }
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }
    /// The services and checks registered on this agent.
    pub fn local(&self) -> &local::LocalState {
        &self.local
    }
    /// Settings of the local state (the node sets them at start, before `restore_local`).
    pub fn set_local_options(&mut self, options: local::LocalOptions) {
        self.local.options = options;
    }
    /// Starts recording applied entries for `take_applied`, consistent reads for
    /// `take_read_events` and lock changes for `take_lock_changes` (checkers only).
    pub fn enable_apply_journal(&mut self) {
        self.apply_journal.get_or_insert_with(Vec::new);
        self.read_journal.get_or_insert_with(Vec::new);
        self.lock_journal.get_or_insert_with(Vec::new);
    }

    /// Entries applied since the last call (empty unless the journal is enabled).
    pub fn take_applied(&mut self) -> Vec<AppliedEntry> {
        self.apply_journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Requests in progress on this agent.
    pub fn pending_requests(&self) -> usize {
        self.pending.count()
    }
    pub fn is_leader(&self) -> bool {
        self.raft
            .as_ref()
            .is_some_and(|r| r.role() == crate::raft::Role::Leader)
    }

    /// The leader's RPC address, if a leader is known and its address too.
    pub fn leader_addr(&self) -> Option<String> {
        let leader = self.raft.as_ref()?.leader()?;
        if leader.as_str() == self.config.node_name {
            return Some(self.config.rpc_addr.clone());
        }
        self.membership
            .get(leader.as_str())
            .map(|m| m.rpc_addr.clone())
    }

    /// A message from another agent. Anything unexpected is dropped and counted.
    pub fn handle_message(&mut self, now_ms: u64, envelope: Envelope) {
        self.advance_clock(now_ms);
        let Envelope { from_addr, msg } = envelope;
        match msg {
            WireMessage::Raft(m) => match self.raft.as_mut() {
                Some(raft) => raft.step(now_ms, m),
                None => self.stats.messages_dropped += 1,
            },
            WireMessage::Gossip { packet, channel } => self.on_gossip(packet, channel),
            WireMessage::Bootstrap(m) => self.on_bootstrap_message(from_addr, m),
            WireMessage::Forward {
                request_id,
                hops,
                request,
            } => {
                if !self.seen_forwards.first_time(&from_addr, request_id) {
                    self.stats.messages_dropped += 1;
                    return;
                }
                // Counted in the log: a blocking read behind a client agent is one request.
                let kind = request.kind();
                self.log(
                    LogLevel::Debug,
                    format!("agent: request {kind} forwarded by {from_addr}"),
                );
                let origin = pending::Origin::Remote {
                    addr: from_addr,
                    request_id,
                };
                self.dispatch(origin, request, hops);
            }
            WireMessage::ForwardReply { request_id, result } => {
                self.on_forward_reply(request_id, result)
            }
        }
    }

    /// A request from this agent's own API (HTTP, or the simulator's client).
    pub fn handle_request(&mut self, now_ms: u64, request_id: u64, request: Request) {
        self.advance_clock(now_ms);
        self.dispatch(pending::Origin::Local(request_id), request, 0);
    }

    /// Storage made the log durable up to `index` of `term`.
    pub fn on_persisted(&mut self, index: u64, term: u64) {
        if let Some(raft) = self.raft.as_mut() {
            raft.on_persisted(index, term);
        }
    }

    /// Everything to do now, in order.
    pub fn poll(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        // Before Raft's output, so that a new leader's first writes go out in this poll.
        self.reconcile_catalog_on_gain();
        // Raft first: its durable writes must precede anything that depends on them.
        for _ in 0..16 {
            let Some(ready) = self.raft.as_mut().map(|r| r.poll_ready()) else {
                break;
            };
            if ready.is_empty() {
                break;
            }
            self.handle_ready(ready, &mut out);
        }
        // The agent's own services and checks are written before the replies that
        // acknowledge them: a registration answered 200 survives a crash right after.
        if let Some(bytes) = self.take_local_to_persist() {
            out.push(Action::PersistLocal { bytes });
        }
        out.append(&mut self.actions);
        out
    }

    fn advance_clock(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    pub(crate) fn log(&mut self, level: LogLevel, message: String) {
        self.actions.push(Action::Log { level, message });
    }

    pub(crate) fn send(&mut self, to: String, msg: WireMessage) {
        let envelope = self.envelope(msg);
        self.actions.push(Action::Send { to, envelope });
    }

    /// As `send`, but as one datagram (see `Action::SendDatagram`).
    pub(crate) fn send_datagram(&mut self, to: String, msg: WireMessage) {
        let envelope = self.envelope(msg);
        self.actions.push(Action::SendDatagram { to, envelope });
    }

    fn envelope(&self, msg: WireMessage) -> Envelope {
        Envelope {
            from_addr: self.config.rpc_addr.clone(),
            msg,
        }
    }
}

fn restore_state(restore: &RaftRestore) -> StateMachine {
    match &restore.snapshot {
        Some(snapshot) => StateMachine::from_snapshot_bytes(&snapshot.data).unwrap_or_else(|e| {
            panic!(
                "snapshot at index {} cannot be restored: {e}",
                snapshot.meta.last_index
            )
        }),
        None => StateMachine::new(),
    }
}
