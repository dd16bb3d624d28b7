//! Raft safety checkers, fed after every driver round of every node (the node's `Observer`).
//! One invariant per file; a violation is recorded with the node, term and time, and the run
//! fails at its next step. `catalog_synced` is asked instead (`check-catalog`): it reads the
//! catalog and the agents once faults have ended. `lock_holders` replays every server's lock
//! journal; `fencing` and `txn_atomic` judge the history at the end.

mod acked_entries_kept;
pub mod acked_writes;
mod applied_agreement;
pub mod catalog_synced;
mod commit_quorum;
mod commit_rule;
mod election_safety;
pub mod fencing;
mod leader_agreement;
mod leader_completeness;
pub mod linearizable;
pub mod lock_holders;
mod log_matching;
pub mod member_views;
mod read_release;
mod state_agreement;
pub mod txn_atomic;

use crate::trace::Trace;
use concord_core::agent::{Agent, AppliedEntry};
use concord_core::raft::{NodeId, Role};
use concord_node::Observer;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct CheckState {
    /// term -> the one leader seen in it.
    pub leaders: BTreeMap<u64, String>,
    /// term -> (the leader first named for it, the node that named it).
    pub leader_named: BTreeMap<u64, (String, String)>,
    /// index -> what was applied there first, and by whom.
    pub applied: BTreeMap<u64, (AppliedEntry, String)>,
    /// (node, term) pairs whose leader log was checked already.
    pub leaders_checked: BTreeMap<(String, u64), ()>,
    /// Each node's last seen (role, term, leader, commit), to trace only changes.
    pub last_seen: BTreeMap<String, Seen>,
    /// Each server's last observed (term, last log index).
    pub log_ends: BTreeMap<String, acked_entries_kept::LogEnd>,
    /// (leader, term) -> the commit index it had when first observed leading.
    pub commit_at_election: BTreeMap<(String, u64), u64>,
    /// (index, term) -> (payload digest, the server first seen holding it).
    pub entries_seen: BTreeMap<(u64, u64), (u64, String)>,
    /// Per server, the last log index (and its term) checked for log matching.
    pub log_checked: BTreeMap<String, (u64, u64)>,
    /// index -> (KV state digest after applying it, the server first seen applying it).
    pub state_digests: BTreeMap<u64, (u64, String)>,
    /// Driver rounds observed so far, across all nodes: the order of events in the world.
    pub round: u64,
    /// term -> (round, world ms, leader) when a leader of it was first observed.
    pub elected: BTreeMap<u64, (u64, u64, String)>,
    /// (leader, read id) -> when that consistent read reached it, until it is released.
    pub reads_arrived: BTreeMap<(String, u64), read_release::Arrival>,
    /// The leader of the newest term observed (faults aimed at the leader pick it).
    pub latest_leader: Option<(u64, String)>,
    /// Each node's failure detector's view of the others (see `member_views.rs`).
    pub member_views: member_views::MemberViews,
    /// Each server's view of the lock holders, from its lock journal (`lock_holders.rs`).
    pub lock_views: BTreeMap<String, lock_holders::ServerView>,
    /// (key, fencing token) -> (the session granted the lock, the server first seen
    /// journaling it).
    pub lock_grants: BTreeMap<(String, u64), (String, String)>,
    /// Lock changes replayed over a server's view, and views reseeded from a state.
    pub lock_counts: lock_holders::Counts,
    pub violations: Vec<String>,
}

pub struct Checker {
    pub state: Mutex<CheckState>,
    pub trace: Arc<Trace>,
}

impl Checker {
    pub fn new(trace: Arc<Trace>) -> Checker {
        Checker {
            state: Mutex::new(CheckState::default()),
            trace,
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().expect("checker lock").violations.clone()
    }

    /// The leader of the newest term seen so far (it may have stepped down since).
    pub fn latest_leader(&self) -> Option<String> {
        let state = self.state.lock().expect("checker lock");
        state.latest_leader.as_ref().map(|(_, name)| name.clone())
    }

    /// The newest term a leader was seen in so far.
    pub fn latest_leader_term(&self) -> Option<u64> {
        let state = self.state.lock().expect("checker lock");
        state.latest_leader.as_ref().map(|(term, _)| *term)
    }

    /// Index -> (term, digest) of everything applied anywhere.
    pub fn applied(&self) -> BTreeMap<u64, AppliedEntry> {
        let state = self.state.lock().expect("checker lock");
        state.applied.iter().map(|(i, (e, _))| (*i, *e)).collect()
    }

    /// (key, fencing token) -> session of every lock grant any server journaled.
    pub fn lock_grants(&self) -> BTreeMap<(String, u64), String> {
        let state = self.state.lock().expect("checker lock");
        let grants = state.lock_grants.iter();
        grants.map(|(g, (s, _))| (g.clone(), s.clone())).collect()
    }
}

/// The end-of-run checks: safety violations seen along the way, acknowledged writes, and the
/// linearizability of the history. A world whose nodes are not observed (the real one) has
/// no applied entries and no lock journals: acknowledged writes are judged by the history's
/// reads alone (linearizability), and the fenced resource against the grants clients saw.
pub fn final_checks(world: &crate::world::World) -> Result<(), String> {
    let mut violations = world.checker.violations();
    let history = world.recorder.history();
    if world.observed {
        violations.extend(acked_writes::check(&history, &world.checker.applied()));
    }
    let servers = world
        .nodes
        .values()
        .filter(|n| n.spec.role == concord_core::membership::Role::Server)
        .map(|n| n.name.clone())
        .collect();
    violations.extend(linearizable::check(&history, &servers));
    let resource = world.fencing.lock().expect("fencing lock").clone();
    if !resource.keys.is_empty() {
        // Runs with locks only, so that the traces of the others are what they were.
        let counts = world
            .checker
            .state
            .lock()
            .expect("checker lock")
            .lock_counts;
        let accepted: usize = resource.keys.values().map(|k| k.accepted.len()).sum();
        world.trace.record(&format!(
            "locks: {} changes replayed, {} views reseeded, {} grants; fenced writes: \
             {accepted} accepted, {} turned away",
            counts.replayed,
            counts.reseeded,
            world.checker.lock_grants().len(),
            resource.rejected()
        ));
    }
    let grants = match world.observed {
        true => world.checker.lock_grants(),
        false => fencing::grants_seen_by_clients(&history),
    };
    violations.extend(fencing::check(&history, &resource, &grants));
    violations.extend(txn_atomic::check(&history));
    match violations.into_iter().next() {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

impl Observer for Checker {
    fn on_send(&self, node: &str, to: &str, kind: &str) {
        self.trace.record_message(node, to, kind, true);
    }

    fn on_receive(&self, node: &str, from: &str, kind: &str) {
        self.trace.record_message(node, from, kind, false);
    }

    fn after_round(&self, agent: &mut Agent) {
        let applied = agent.take_applied();
        let reads = agent.take_read_events();
        let lock_changes = agent.take_lock_changes();
        // The newer checkers report world time (the timeline's), not the node's skewed clock;
        // read arrivals are ordered against elections in it. Read once, and only if needed.
        let mut world_ms_read = None;
        let mut world_ms = || *world_ms_read.get_or_insert_with(|| self.trace.now_ms());
        let mut state = self.state.lock().expect("checker lock");
        // Clients gossip too: their view is recorded before the Raft checks, which skip them.
        state
            .member_views
            .observe(agent.name(), agent.membership(), &mut world_ms);
        let Some(raft) = agent.raft() else { return };
        let name = agent.name().to_string();
        let now_ms = agent.now_ms();
        state.round += 1;
        let applied_index = raft.applied_index();
        lock_holders::check(
            &mut state,
            &name,
            agent,
            applied_index,
            &applied,
            lock_changes,
        );
        for entry in applied {
            state_agreement::check(&mut state, &name, &entry, world_ms());
            applied_agreement::check(&mut state, &name, entry, now_ms);
        }
        if raft.role() == Role::Leader {
            read_release::on_leader(&mut state, &name, raft.term(), world_ms());
            note_latest_leader(&mut state, &name, raft.term());
        }
        for event in reads {
            read_release::on_read(&mut state, &name, event, world_ms());
        }
        log_matching::check(&mut state, &name, raft, now_ms);
        if let Some(leader) = raft.leader() {
            leader_agreement::check(&mut state, &name, raft.term(), leader.as_str(), now_ms);
        }
        if raft.role() == Role::Leader {
            election_safety::check(&mut state, &name, raft.term(), now_ms);
            leader_completeness::check(&mut state, &name, raft, now_ms);
            acked_entries_kept::check(&mut state, &name, raft, now_ms);
            commit_rule::check(&mut state, &name, raft, now_ms);
            commit_quorum::check(&mut state, &name, raft, now_ms);
        }
        let log_end = (raft.term(), raft.last_index());
        match state.log_ends.get_mut(name.as_str()) {
            Some(end) => *end = log_end,
            None => {
                state.log_ends.insert(name.clone(), log_end);
            }
        }
        // Compared as values every round; formatted only when it changed.
        let seen = (
            raft.role(),
            raft.term(),
            raft.leader().cloned(),
            raft.commit_index(),
        );
        if state.last_seen.get(&name) != Some(&seen) {
            self.trace.record(&format!(
                "{name}: {} term={} leader={:?} commit={}",
                raft.role().name(),
                raft.term(),
                raft.leader(),
                raft.commit_index()
            ));
            state.last_seen.insert(name, seen);
        }
    }
}

/// A node's (role, term, leader, commit) as last traced.
pub type Seen = (Role, u64, Option<NodeId>, u64);

/// A leader of `term` known from outside the node (the real world's logs): election safety,
/// and the newest leader that faults aimed at the leader pick.
pub fn note_election(state: &mut CheckState, node: &str, term: u64, now_ms: u64) {
    election_safety::check(state, node, term, now_ms);
    note_latest_leader(state, node, term);
}

fn note_latest_leader(state: &mut CheckState, node: &str, term: u64) {
    if state.latest_leader.as_ref().is_none_or(|(t, _)| *t <= term) {
        state.latest_leader = Some((term, node.to_string()));
    }
}
