//! Session TTL timers, on the leader only and not replicated, as Consul keeps them
//! (`session_ttl.go`): a session with a TTL is destroyed through the log when the leader has
//! not heard a renew for twice its TTL (`SessionTTLMultiplier`: the contract is only that a
//! session does not expire before its TTL).
//!
//! A leader starts the timers once it has applied its own term's first entry (so it sees
//! every session): each TTL session gets now + 2 x TTL, whatever the old leader had (Consul's
//! `initializeSessionTimers`), so a leader change never expires a session early. Sessions
//! created later get a timer when the leader sees them (the sessions table moved); a renew
//! restarts the timer; a due timer proposes `Session(Destroy)` once (a failed proposal is
//! retried after `DESTROY_RETRY_MS`); timers of sessions that vanished are dropped.

use super::command::Command;
use super::{Agent, LogLevel};
use crate::session::SessionCommand;
use crate::state::TableId;
use std::collections::{BTreeMap, BTreeSet};

/// Consul's `SessionTTLMultiplier`: a session expires after twice its TTL without a renew.
pub const SESSION_TTL_MULTIPLIER: u64 = 2;
/// A destroy the leader could not propose (a transfer in progress, the log full) is tried
/// again after this (the old 10 ms tick's period).
pub const DESTROY_RETRY_MS: u64 = 10;

/// The leader's timers of one term.
#[derive(Clone, Debug, Default)]
pub(super) struct SessionTimers {
    /// The term these timers were started in (0: none running).
    term: u64,
    /// The sessions table's index when the timers were last matched with it.
    seen_index: u64,
    /// When each TTL session expires (ms, this agent's clock), and the same ordered by time.
    deadlines: BTreeMap<String, u64>,
    by_deadline: BTreeSet<(u64, String)>,
    /// Destroys proposed and not yet applied, with their log index.
    in_flight: BTreeMap<String, u64>,
    /// No destroy is proposed before this (a refused proposal's back-off).
    retry_at_ms: u64,
}

impl SessionTimers {
    fn set(&mut self, id: &str, deadline_ms: u64) {
        if let Some(old) = self.deadlines.insert(id.to_string(), deadline_ms) {
            self.by_deadline.remove(&(old, id.to_string()));
        }
        self.by_deadline.insert((deadline_ms, id.to_string()));
        assert_eq!(self.deadlines.len(), self.by_deadline.len());
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.deadlines.remove(id) {
            self.by_deadline.remove(&(old, id.to_string()));
        }
        self.in_flight.remove(id);
    }

    /// Ids whose deadline is at or before `now_ms` and whose destroy is not in flight.
    fn due(&self, now_ms: u64) -> Vec<String> {
        let due = self.by_deadline.iter().take_while(|(d, _)| *d <= now_ms);
        due.map(|(_, id)| id.clone())
            .filter(|id| !self.in_flight.contains_key(id))
            .collect()
    }

    /// The first deadline whose destroy is not in flight (those applied by `applied` are not:
    /// the tick forgets them), not before a refused proposal's back-off.
    fn next_due_ms(&self, applied: u64) -> Option<u64> {
        let in_flight = |id: &String| self.in_flight.get(id).is_some_and(|i| *i > applied);
        let mut waiting = self.by_deadline.iter().filter(|(_, id)| !in_flight(id));
        waiting.next().map(|(d, _)| (*d).max(self.retry_at_ms))
    }

    /// The running timer's deadline of `id`, if any.
    pub(super) fn deadline_ms(&self, id: &str) -> Option<u64> {
        self.deadlines.get(id).copied()
    }
}

/// A session's expiry from `now_ms`: twice its TTL.
fn expiry_ms(now_ms: u64, ttl_ms: u64) -> u64 {
    now_ms + SESSION_TTL_MULTIPLIER * ttl_ms
}

impl Agent {
    /// The current term while this agent leads and has applied its own term's first entry
    /// (every earlier entry is then applied: the sessions table is complete).
    pub(super) fn caught_up_leader_term(&self) -> Option<u64> {
        if !self.is_leader() {
            return None;
        }
        let raft = self.raft.as_ref()?;
        let caught_up = raft.log().term_at(raft.applied_index()) == Some(raft.term());
        caught_up.then_some(raft.term())
    }

    /// Starts, matches and fires the timers; called at every tick.
    pub(super) fn tick_sessions(&mut self) {
        let Some(term) = self.caught_up_leader_term() else {
            if self.session_timers.term != 0 && !self.is_leader() {
                // Leadership lost: the next term starts its own timers.
                self.session_timers = Default::default();
            }
            return;
        };
        let sessions_index = self.state.table_index(TableId::Sessions);
        let timers = &mut self.session_timers;
        if timers.term != term {
            *timers = SessionTimers {
                term,
                ..Default::default()
            };
            self.match_session_timers();
        } else if timers.seen_index != sessions_index {
            self.match_session_timers();
        }
        self.fire_session_timers();
    }

    /// Drops the timers of vanished sessions and starts those of sessions without one.
    fn match_session_timers(&mut self) {
        let now_ms = self.now_ms;
        let sessions = self.state.sessions();
        let timers = &mut self.session_timers;
        timers.seen_index = self.state.table_index(TableId::Sessions);
        let vanished: Vec<String> = (timers.deadlines.keys())
            .chain(timers.in_flight.keys())
            .filter(|id| sessions.get(id).is_none())
            .cloned()
            .collect();
        for id in vanished {
            timers.remove(&id);
        }
        for session in sessions.list() {
            let Some(ttl_ms) = session.ttl_ms else {
                continue;
            };
            if !timers.deadlines.contains_key(&session.id) {
                timers.set(&session.id, expiry_ms(now_ms, ttl_ms));
            }
        }
    }

    /// Proposes the destroy of every session whose timer is due, once each.
    fn fire_session_timers(&mut self) {
        let applied = self.raft.as_ref().map_or(0, |r| r.applied_index());
        // A destroy that applied and left the session (it cannot; a lost one) is retried.
        (self.session_timers.in_flight).retain(|_, index| *index > applied);
        if self.now_ms < self.session_timers.retry_at_ms {
            return;
        }
        for id in self.session_timers.due(self.now_ms) {
            let command = Command::Session(SessionCommand::Destroy { id: id.clone() });
            let raft = self.raft.as_mut().expect("leaders have raft");
            match raft.propose(self.now_ms, command.encode()) {
                Ok(index) => {
                    self.session_timers.in_flight.insert(id.clone(), index);
                    let message = format!("session: TTL of {id} ran out; destroying it");
                    self.log(LogLevel::Debug, message);
                }
                Err(e) => {
                    let message = format!("session: cannot destroy expired {id} yet: {e}");
                    self.log(LogLevel::Debug, message);
                    self.session_timers.retry_at_ms = self.now_ms + DESTROY_RETRY_MS;
                    break;
                }
            }
        }
    }

    /// When `tick_sessions` acts next: at once when the timers must be (re)matched with the
    /// sessions table, else at the first due destroy. Not leading: never (a lost term's timers
    /// are dropped lazily, at the next tick, and a new term starts its own anyway).
    pub(super) fn sessions_deadline_ms(&self) -> Option<u64> {
        let term = self.caught_up_leader_term()?;
        let timers = &self.session_timers;
        if timers.term != term || timers.seen_index != self.state.table_index(TableId::Sessions) {
            return Some(self.now_ms);
        }
        let applied = self.raft.as_ref().map_or(0, |r| r.applied_index());
        timers.next_due_ms(applied)
    }

    /// Restarts the TTL timer of a renewed session (leader, caught up).
    pub(super) fn renew_session_timer(&mut self, id: &str, ttl_ms: Option<u64>) {
        let Some(ttl_ms) = ttl_ms else {
            return;
        };
        let deadline_ms = expiry_ms(self.now_ms, ttl_ms);
        self.session_timers.set(id, deadline_ms);
    }

    /// When the leader's timer of session `id` runs out (ms), if one runs here.
    pub fn session_deadline_ms(&self, id: &str) -> Option<u64> {
        self.session_timers.deadline_ms(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order_once_each() {
        let mut timers = SessionTimers::default();
        timers.set("b", 300);
        timers.set("a", 200);
        timers.set("c", 900);
        assert_eq!(timers.due(250), ["a"]);
        assert_eq!(timers.due(300), ["a", "b"]);
        timers.in_flight.insert("a".into(), 7);
        assert_eq!(timers.due(300), ["b"], "a's destroy is in flight");
        timers.set("b", 1_000);
        assert_eq!(timers.due(300), Vec::<String>::new(), "renewed");
        timers.remove("a");
        assert_eq!(timers.deadlines.len(), 2);
        assert!(timers.in_flight.is_empty());
        assert_eq!(expiry_ms(100, 10_000), 20_100);
    }
}
