//! The driver: one task that owns the agent, feeds it events and executes its actions in order.
//! Durable writes happen (with fsync) before the messages and replies that follow them; a
//! leader's early appends go out before its own write. In the product it runs on a thread of
//! its own (`super::spawn_driver`), so its blocking fsyncs hold up no other task.

use super::clock::Clock;
use super::{Observer, PlantedBug};
use crate::handle::RequestEnvelope;
use crate::metrics::commit_timer::CommitTimer;
use crate::metrics::{Metrics, RaftStatusCell};
use crate::storage::{Disk, RaftStorage};
use crate::transport::{Received, Transport};
use concord_core::agent::{Action, Agent, ApiResult, Envelope, LogLevel};
use concord_core::raft::Role;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Events taken in one round before the agent's actions run: batches proposals into one
/// group commit without starving the timer. It does not bound a write's size: a round's new
/// entries reach storage `RaftOptions::persist_bytes_max` at a time (see `crate::bounds`).
pub const EVENTS_PER_ROUND_MAX: usize = 256;
/// The longest the driver sleeps without ticking, whatever the agent's next deadline: a
/// safety net. A tick at such a wake that does anything is a deadline the agent's timer table
/// missed, a bug (logged, and an assertion in debug builds).
pub const WAKE_INTERVAL_MAX_MS: u64 = 1_000;
/// How long a leaving agent waits for its last messages to go out.
pub const LEAVE_DRAIN_TIMEOUT: Duration = Duration::from_millis(1000);

pub struct Driver {
    agent: Agent,
    storage: RaftStorage,
    /// Where `Action::PersistLocal` writes (the disk Raft's storage uses).
    local_disk: Arc<dyn Disk>,
    clock: Clock,
    transport: Transport,
    bug: PlantedBug,
    next_request_id: u64,
    replies: BTreeMap<u64, oneshot::Sender<ApiResult>>,
    observer: Option<Arc<dyn Observer>>,
    /// Where the figures of each round go (`NodeHandle::metrics`, `NodeHandle::raft_status`).
    metrics: Arc<Metrics>,
    raft_status: RaftStatusCell,
    commit_timer: CommitTimer,
}

/// Why the driver stopped.
enum Stop {
    Left,
    StorageFailed,
}

impl Driver {
    pub fn new(
        agent: Agent,
        (storage, local_disk): (RaftStorage, Arc<dyn Disk>),
        clock: Clock,
        transport: Transport,
        bug: PlantedBug,
        observer: Option<Arc<dyn Observer>>,
    ) -> Driver {
        let replies = BTreeMap::new();
        Driver {
            agent,
            storage,
            local_disk,
            clock,
            transport,
            bug,
            next_request_id: 1,
            replies,
            observer,
            metrics: Arc::default(),
            raft_status: RaftStatusCell::default(),
            commit_timer: CommitTimer::default(),
        }
    }

    /// Publishes this node's figures to `metrics` and `raft_status` (the handle's).
    pub fn publish_to(&mut self, metrics: Arc<Metrics>, raft_status: RaftStatusCell) {
        self.storage
            .time_fsyncs_into(metrics.raft.storage_fsync.clone());
        self.metrics = metrics;
        self.raft_status = raft_status;
    }

    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Received>,
        mut requests: mpsc::Receiver<RequestEnvelope>,
        running: watch::Sender<bool>,
    ) {
        loop {
            // Re-armed every round: a message or request may have moved the deadline earlier.
            let deadline_ms = self.agent.next_deadline_ms();
            let wait_ms =
                (deadline_ms.saturating_sub(self.clock.now_ms())).min(WAKE_INTERVAL_MAX_MS);
            tokio::select! {
                biased;
                _ = tokio::time::sleep(self.clock.real_duration(wait_ms)) => self.on_timer(deadline_ms),
                Some(received) = inbox.recv() => self.on_message(received.envelope),
                Some(request) = requests.recv() => self.on_request(request),
            }
            self.drain_ready_events(&mut inbox, &mut requests);
            let stop = self.execute();
            self.publish_round();
            if let Some(observer) = &self.observer {
                observer.after_round(&mut self.agent);
            }
            match stop {
                Some(Stop::StorageFailed) => {
                    tracing::error!(target: "concord", "agent: stopping: storage failed");
                    break;
                }
                Some(Stop::Left) => {
                    self.transport.drain(LEAVE_DRAIN_TIMEOUT).await;
                    break;
                }
                None => {}
            }
        }
        let _ = running.send(false);
    }

    /// Copies the round's Raft figures out for readers; counts role changes.
    fn publish_round(&mut self) {
        let published = self.raft_status.publish(&self.agent, self.clock.now_ms());
        let raft = &self.metrics.raft;
        match published.entered {
            Some(Role::Leader) => {
                raft.state_leader.inc();
                self.log_election_won();
            }
            Some(Role::Candidate | Role::PreCandidate) => raft.state_candidate.inc(),
            Some(Role::Follower) => raft.state_follower.inc(),
            None => {}
        }
        if published.new_leader {
            raft.leader_changes.inc();
        }
        if published.committed_as_leader > 0 {
            raft.apply.add(published.committed_as_leader);
        }
        match self.agent.raft().filter(|_| self.agent.is_leader()) {
            Some(leader) => self
                .commit_timer
                .committed(leader.commit_index(), &raft.commit_time),
            None => self.commit_timer.forget(),
        }
    }

    /// Consul's own line when this node becomes leader; the real-process runner reads it to
    /// check that no two leaders share a term.
    fn log_election_won(&self) {
        let Some(raft) = self.agent.raft() else {
            return;
        };
        let (term, tally) = (raft.term(), raft.election_tally());
        let message = format!("raft: election won: term={term} tally={tally}");
        log(LogLevel::Info, self.agent.name(), &message);
    }

    /// Ticks the agent. Before its deadline (the safety wake, or a wake the clock's rounding
    /// made early) the tick must do nothing: if it does, the timer table missed a deadline.
    fn on_timer(&mut self, deadline_ms: u64) {
        let now_ms = self.clock.now_ms();
        let early = now_ms < deadline_ms;
        let queued = self.agent.actions_queued();
        self.agent.tick(now_ms);
        let moved = self.agent.next_deadline_ms() != deadline_ms;
        if early && (moved || self.agent.actions_queued() != queued) {
            tracing::warn!(target: "concord", "{}: agent: a tick at {now_ms}, before the announced deadline {deadline_ms}, acted: a missed deadline", self.agent.name());
            debug_assert!(
                false,
                "missed deadline: tick at {now_ms} before {deadline_ms} acted"
            );
        }
    }

    fn on_message(&mut self, envelope: Envelope) {
        if let Some(observer) = &self.observer {
            observer.on_receive(self.agent.name(), &envelope.from_addr, envelope.msg.kind());
        }
        self.agent.handle_message(self.clock.now_ms(), envelope);
    }

    /// Takes a request off the queue; its queued bytes are given back here.
    fn on_request(&mut self, (request, reply, _queued): RequestEnvelope) {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.replies.insert(id, reply);
        tracing::trace!(target: "concord", "{}: request {id}: {}", self.agent.name(), request.kind());
        self.agent.handle_request(self.clock.now_ms(), id, request);
    }

    /// Takes what is already waiting, up to a bound, so that one round handles a burst.
    fn drain_ready_events(
        &mut self,
        inbox: &mut mpsc::Receiver<Received>,
        requests: &mut mpsc::Receiver<RequestEnvelope>,
    ) {
        for _ in 0..EVENTS_PER_ROUND_MAX {
            if let Ok(received) = inbox.try_recv() {
                self.on_message(received.envelope);
            } else if let Ok(request) = requests.try_recv() {
                self.on_request(request);
            } else {
                return;
            }
        }
    }

    /// Runs the agent's actions in order until it has none. Returns why to stop, if so.
    fn execute(&mut self) -> Option<Stop> {
        for _ in 0..64 {
            let actions = self.agent.poll();
            if actions.is_empty() {
                return None;
            }
            for action in actions {
                if let Some(stop) = self.execute_one(action) {
                    return Some(stop);
                }
            }
        }
        None
    }

    fn execute_one(&mut self, action: Action) -> Option<Stop> {
        match action {
            Action::SaveSnapshot(save) => {
                let retained = save
                    .retained_entries
                    .first()
                    .zip(save.retained_entries.last())
                    .map(|(a, b)| (a.index, b.index));
                tracing::debug!(target: "concord", "{}: storage: snapshot at {} (restore: {}), keeping entries {retained:?}", self.agent.name(), save.snapshot.meta.last_index, save.restore);
                let storage = &mut self.storage;
                let started = Instant::now();
                let result =
                    storage.save_snapshot(&save.snapshot, &save.hard_state, &save.retained_entries);
                let raft = &self.metrics.raft;
                raft.snapshot_persist.observe_since(started);
                match save.restore {
                    true => raft.snapshot_installed.inc(),
                    false => raft.snapshot_taken.inc(),
                }
                if let Err(e) = result {
                    tracing::error!(target: "concord", "storage: saving snapshot failed: {e}");
                    return Some(Stop::StorageFailed);
                }
            }
            Action::Persist {
                hard_state,
                entries,
                sync,
            } => return self.persist(hard_state, entries, sync),
            Action::Send { to, envelope } => {
                if let Some(observer) = &self.observer {
                    observer.on_send(self.agent.name(), &to, envelope.msg.kind());
                }
                self.transport.send(&to, &envelope)
            }
            Action::SendDatagram { to, envelope } => {
                if let Some(observer) = &self.observer {
                    observer.on_send(self.agent.name(), &to, envelope.msg.kind());
                }
                self.transport.send_datagram(&to, &envelope)
            }
            Action::Reply { request_id, result } => {
                tracing::trace!(target: "concord", "{}: reply {request_id}: {}", self.agent.name(), match &result { Ok(r) => format!("{r:?}").chars().take(40).collect::<String>(), Err(e) => e.to_string() });
                if let Some(reply) = self.replies.remove(&request_id) {
                    let _ = reply.send(result);
                }
            }
            Action::Log { level, message } => log(level, self.agent.name(), &message),
            Action::LeaveComplete => return Some(Stop::Left),
            Action::PersistLocal { bytes } => self.persist_local(&bytes),
        }
        None
    }

    /// The agent's own services and checks. A failed write is logged, not fatal: the state
    /// is still in memory and the next change writes it again (as Consul's agent does).
    fn persist_local(&mut self, bytes: &[u8]) {
        let file = super::local_disk::LOCAL_STATE_FILE;
        let disk = &self.local_disk;
        if let Err(e) = disk.write_atomic(file, bytes) {
            tracing::error!(target: "concord", "agent: failed to save local state to {file}: {e}");
        }
    }

    fn persist(
        &mut self,
        hard_state: Option<concord_core::raft::HardState>,
        entries: Vec<concord_core::raft::Entry>,
        sync: bool,
    ) -> Option<Stop> {
        if self.bug == PlantedBug::VoteNotDurable && entries.is_empty() {
            return None; // the planted bug: a vote that never reaches the disk
        }
        if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
            tracing::trace!(target: "concord", "{}: storage: persist entries {}..={}", self.agent.name(), first.index, last.index);
        }
        let storage = &mut self.storage;
        let started = Instant::now();
        let result = match (&hard_state, sync) {
            (Some(hard_state), false) => {
                assert!(entries.is_empty(), "entries to write without an fsync");
                storage.persist_commit(hard_state)
            }
            _ => {
                let result = storage.persist(hard_state.as_ref(), &entries);
                self.metrics.raft.storage_append.observe_since(started);
                result
            }
        };
        if let Err(e) = result {
            tracing::error!(target: "concord", "storage: write failed: {e}");
            return Some(Stop::StorageFailed);
        }
        if let Some(last) = entries.last() {
            if self.agent.is_leader() {
                self.commit_timer.written(last.index, started);
            }
            self.agent.on_persisted(last.index, last.term);
        }
        None
    }
}

/// In the simulator many nodes share one log, so each line names its node; a real process
/// logs only its own (as Consul's agents do).
fn log(level: LogLevel, name: &str, message: &str) {
    let message = if cfg!(madsim) {
        format!("{name}: {message}")
    } else {
        message.to_string()
    };
    match level {
        LogLevel::Debug => tracing::debug!(target: "concord", "{message}"),
        LogLevel::Info => tracing::info!(target: "concord", "{message}"),
        LogLevel::Warn => tracing::warn!(target: "concord", "{message}"),
        LogLevel::Error => tracing::error!(target: "concord", "{message}"),
    }
}
