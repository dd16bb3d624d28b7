//! Elections: PreVote, RequestVote, and winning or losing them (Raft §5.2, thesis §9.6).

use super::message::RaftBody;
use super::quorum;
use super::state::{Raft, Role};
use super::types::NodeId;

impl Raft {
    pub(super) fn on_election_timeout(&mut self) {
        if !self.may_campaign() {
            // Learners, removed servers and servers not yet bootstrapped never campaign.
            self.reset_election_deadline();
            return;
        }
        if self.options.pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate();
        }
    }

    fn become_pre_candidate(&mut self) {
        self.role = Role::PreCandidate;
        self.leader_id = None;
        self.start_poll(true, false);
    }

    pub(super) fn become_candidate(&mut self) {
        self.become_candidate_for(false);
    }

    /// Voters campaign, and so does a server whose own removal is not committed yet (thesis
    /// §4.2.2, Figure 4.6): the remaining voters may still need it, for only it may hold the
    /// removal (fuzz seed 31591: the leader that removed itself stopped before any follower
    /// had it, and refused the followers' votes forever). It counts the votes of the
    /// configuration without it; if it wins, it commits the removal and hands over.
    pub(super) fn may_campaign(&self) -> bool {
        let removal_pending =
            !self.config.contains(&self.id) && self.config_index > self.log.commit_index;
        self.is_voter() || removal_pending
    }

    pub(super) fn become_candidate_for(&mut self, transfer: bool) {
        assert!(
            self.may_campaign(),
            "{}: non-voter campaigning in term {}",
            self.id,
            self.term
        );
        self.term += 1;
        self.voted_for = Some(self.id.clone());
        self.role = Role::Candidate;
        self.leader_id = None;
        self.stats.elections_started += 1;
        self.start_poll(false, transfer);
    }

    /// Votes for itself and asks every other voter.
    fn start_poll(&mut self, pre_vote: bool, transfer: bool) {
        self.votes.clear();
        self.votes.insert(self.id.clone(), true);
        self.reset_election_deadline();
        let term = if pre_vote { self.term + 1 } else { self.term };
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        let peers: Vec<NodeId> = self
            .config
            .voters
            .iter()
            .filter(|v| **v != self.id)
            .cloned()
            .collect();
        for peer in peers {
            let body = RaftBody::RequestVote {
                last_log_index,
                last_log_term,
                pre_vote,
                transfer,
            };
            self.messages.push(super::message::RaftMessage {
                from: self.id.clone(),
                to: peer,
                term,
                body,
            });
        }
        self.tally_votes();
    }

    pub(super) fn on_request_vote(
        &mut self,
        from: NodeId,
        msg_term: u64,
        last_log_index: u64,
        last_log_term: u64,
        pre_vote: bool,
    ) {
        let can_vote = self.voted_for.as_ref() == Some(&from)
            || (self.voted_for.is_none() && self.leader_id.is_none())
            || (pre_vote && msg_term > self.term);
        let up_to_date = self.log.is_up_to_date(last_log_index, last_log_term)
            || self.planted(super::options::RaftBug::VoteIgnoresLog);
        let granted = can_vote && up_to_date;
        if granted && !pre_vote {
            self.voted_for = Some(from.clone());
            self.reset_election_deadline();
        }
        // A granted PreVote answers in the candidate's future term so it counts there.
        let term = if granted && pre_vote {
            msg_term
        } else {
            self.term
        };
        let body = RaftBody::RequestVoteResponse { granted, pre_vote };
        self.messages.push(super::message::RaftMessage {
            from: self.id.clone(),
            to: from,
            term,
            body,
        });
    }

    pub(super) fn on_request_vote_response(&mut self, from: NodeId, granted: bool, pre_vote: bool) {
        let expected = if pre_vote {
            Role::PreCandidate
        } else {
            Role::Candidate
        };
        if self.role != expected {
            self.stats.messages_dropped_unexpected += 1;
            return;
        }
        self.votes.entry(from).or_insert(granted);
        self.tally_votes();
    }

    fn tally_votes(&mut self) {
        let granted: Vec<&NodeId> = self
            .votes
            .iter()
            .filter(|(_, g)| **g)
            .map(|(id, _)| id)
            .collect();
        let rejected: Vec<&NodeId> = self
            .votes
            .iter()
            .filter(|(_, g)| !**g)
            .map(|(id, _)| id)
            .collect();
        let tally = granted.len() as u64;
        if quorum::has_quorum(&self.config.voters, granted) {
            match self.role {
                Role::PreCandidate => self.become_candidate(),
                Role::Candidate => {
                    self.election_tally = tally;
                    self.become_leader()
                }
                _ => unreachable!("tallying votes as {:?}", self.role),
            }
        } else if quorum::is_lost(&self.config.voters, rejected) {
            self.become_follower(self.term, None);
        }
    }

    /// Leader transfer: the old leader says we are up to date; campaign at once, skipping PreVote.
    pub(super) fn on_timeout_now(&mut self, from: NodeId) {
        if !self.is_voter() || self.role == Role::Leader {
            self.stats.messages_dropped_unexpected += 1;
            return;
        }
        let _ = from;
        self.become_candidate_for(true);
    }
}
