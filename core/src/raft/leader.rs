//! Becoming leader and the leader's timers: heartbeats, CheckQuorum, learner promotion and
//! leadership-transfer deadlines.

use super::message::RaftBody;
use super::progress::Progress;
use super::state::{Raft, Role};
use super::types::{Entry, EntryPayload, NodeId};

impl Raft {
    pub(super) fn become_leader(&mut self) {
        assert_eq!(
            self.role,
            Role::Candidate,
            "{}: leader without candidacy in term {}",
            self.id,
            self.term
        );
        self.role = Role::Leader;
        self.leader_id = Some(self.id.clone());
        self.leader_contact_ms = Some(self.now_ms);
        self.votes.clear();
        self.transfer = None;
        let next_index = self.log.last_index() + 1;
        self.progress = self
            .config
            .members()
            .filter(|m| **m != self.id)
            .map(|m| (m.clone(), Progress::new(next_index)))
            .collect();
        self.check_quorum_deadline_ms = self.now_ms + self.options.election_timeout_min_ms;
        self.heartbeat_deadline_ms = self.now_ms + self.options.heartbeat_interval_ms;
        // Commit an entry of our own term at once: only then are earlier entries known
        // committed (Figure 8) and may reads and configuration changes be served.
        let entry = Entry {
            term: self.term,
            index: next_index,
            payload: EntryPayload::Noop,
        };
        self.log.append(entry);
        self.broadcast_append();
    }

    pub(super) fn tick_leader(&mut self) {
        if self.now_ms >= self.heartbeat_deadline_ms {
            self.heartbeat_deadline_ms = self.now_ms + self.options.heartbeat_interval_ms;
            self.broadcast_heartbeat();
        }
        if self.options.check_quorum && self.now_ms >= self.check_quorum_deadline_ms {
            self.check_quorum_deadline_ms = self.now_ms + self.options.election_timeout_min_ms;
            if !self.check_quorum_active() {
                self.become_follower(self.term, None);
                return;
            }
        }
        if let Some(transfer) = &self.transfer {
            if self.now_ms >= transfer.deadline_ms {
                self.transfer = None;
            }
        }
        self.promote_caught_up_learner();
    }

    /// CheckQuorum: did a quorum of voters answer since the last check? Resets the marks.
    fn check_quorum_active(&mut self) -> bool {
        let mut active: Vec<NodeId> = vec![self.id.clone()];
        for (id, progress) in self.progress.iter_mut() {
            if progress.recently_active {
                active.push(id.clone());
            }
            progress.recently_active = false;
        }
        let ok = super::quorum::has_quorum(&self.config.voters, active.iter());
        if ok {
            self.leader_contact_ms = Some(self.now_ms);
        }
        ok
    }

    /// Heartbeats go to everyone, however busy the pipeline: they carry the commit index and
    /// the ReadIndex round, and unblock a probe whose message may have been lost.
    pub(super) fn broadcast_heartbeat(&mut self) {
        let peers: Vec<NodeId> = self.progress.keys().cloned().collect();
        for peer in peers {
            let stall_ms = 2 * self.options.heartbeat_interval_ms;
            let progress = self.progress.get_mut(&peer).expect("peer has progress");
            if progress.is_stalled(self.now_ms, stall_ms) {
                progress.reset_to_probe();
            }
            progress.unpause_probe();
            let match_index = progress.match_index;
            if !self.send_append(&peer) {
                self.send_heartbeat(&peer, match_index);
            }
        }
    }

    pub(super) fn send_heartbeat(&mut self, to: &NodeId, match_index: u64) {
        let (prev_log_index, prev_log_term) = match self.log.term_at(match_index) {
            Some(term) => (match_index, term),
            None => (0, 0),
        };
        let leader_commit = self.log.commit_index.min(match_index);
        if let Some(progress) = self.progress.get_mut(to) {
            progress.commit_sent = progress.commit_sent.max(leader_commit);
        }
        let body = RaftBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries: Vec::new(),
            leader_commit,
            read_seq: self.reads.current_seq(),
        };
        self.send(to.clone(), body);
    }
}
