//! What a message's term means before its handler sees it (Raft §5.1, PreVote, CheckQuorum).
//!
//! A higher term makes the receiver adopt it and step down, except for the messages that must
//! not disrupt a healthy cluster: vote requests while a leader is heard from, and PreVote
//! traffic, which never changes anyone's term. A lower term is answered only where the answer
//! helps the sender step down, and otherwise dropped.

use super::message::{RaftBody, RaftMessage};
use super::state::Raft;

impl Raft {
    /// Returns true if the handler should see the message.
    pub(super) fn reconcile_term(&mut self, msg: &RaftMessage) -> bool {
        if msg.term > self.term {
            return self.on_higher_term(msg);
        }
        if msg.term < self.term {
            let stale_leader = matches!(msg.body, RaftBody::AppendEntries { .. })
                && self.role != super::state::Role::Leader;
            if stale_leader && self.planted(super::options::RaftBug::AcceptStaleLeader) {
                return true; // the planted bug: follow a leader of an older term
            }
            self.on_lower_term(msg);
            return false;
        }
        true
    }

    fn on_higher_term(&mut self, msg: &RaftMessage) -> bool {
        match &msg.body {
            RaftBody::RequestVote {
                transfer: false, ..
            } if self.in_leader_lease() => {
                self.stats.votes_ignored_in_lease += 1;
                false
            }
            RaftBody::RequestVote { pre_vote: true, .. } => true,
            RaftBody::RequestVoteResponse {
                pre_vote: true,
                granted: true,
            } => true,
            RaftBody::AppendEntries { .. }
            | RaftBody::InstallSnapshot { .. }
            | RaftBody::TimeoutNow => {
                self.become_follower(msg.term, Some(msg.from.clone()));
                true
            }
            _ => {
                self.become_follower(msg.term, None);
                true
            }
        }
    }

    fn on_lower_term(&mut self, msg: &RaftMessage) {
        self.stats.messages_dropped_stale_term += 1;
        match &msg.body {
            // A leader cut off in an old term learns of the new one from this reply and steps
            // down; without it, PreVote would leave it leading forever (etcd-io/raft #8501).
            RaftBody::AppendEntries { .. } | RaftBody::InstallSnapshot { .. } => {
                let body = RaftBody::AppendEntriesResponse {
                    success: false,
                    match_index: 0,
                    hint_index: 0,
                    hint_term: 0,
                    read_seq: 0,
                };
                self.send(msg.from.clone(), body);
            }
            RaftBody::RequestVote { pre_vote: true, .. } => {
                self.send(
                    msg.from.clone(),
                    RaftBody::RequestVoteResponse {
                        granted: false,
                        pre_vote: true,
                    },
                );
            }
            _ => {}
        }
    }
}
