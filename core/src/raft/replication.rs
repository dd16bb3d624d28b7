//! Log replication: proposals, AppendEntries and their responses, and commitment (§5.3, §5.4).

use super::message::RaftBody;
use super::progress::ReplicationState;
use super::quorum;
use super::state::{Raft, RaftError, Role};
use super::types::{Entry, EntryPayload, NodeId};

impl Raft {
    /// Appends a command to the leader's log. Returns its index; it is committed when it shows
    /// up in `Ready::committed` with this node's term.
    pub fn propose(&mut self, now_ms: u64, data: Vec<u8>) -> Result<u64, RaftError> {
        self.now_ms = self.now_ms.max(now_ms);
        self.check_can_propose()?;
        Ok(self.append_and_replicate(EntryPayload::Command(data)))
    }

    pub(super) fn check_can_propose(&self) -> Result<(), RaftError> {
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader_id.clone(),
            });
        }
        if self.transfer.is_some() {
            return Err(RaftError::TransferInProgress);
        }
        let uncommitted = self.log.last_index() - self.log.commit_index;
        if uncommitted >= self.options.uncommitted_entries_max as u64 {
            return Err(RaftError::TooManyUncommitted {
                entries_max: self.options.uncommitted_entries_max,
            });
        }
        if self.log.size_bytes() >= self.options.log_bytes_max {
            return Err(RaftError::LogFull {
                bytes_max: self.options.log_bytes_max,
            });
        }
        Ok(())
    }

    pub(super) fn append_and_replicate(&mut self, payload: EntryPayload) -> u64 {
        assert_eq!(self.role, Role::Leader);
        let index = self.log.last_index() + 1;
        let is_config = matches!(payload, EntryPayload::Config(_));
        self.log.append(Entry {
            term: self.term,
            index,
            payload,
        });
        if is_config {
            self.on_appended_config(index);
        }
        self.broadcast_append();
        index
    }

    pub(super) fn broadcast_append(&mut self) {
        let peers: Vec<NodeId> = self.progress.keys().cloned().collect();
        for peer in peers {
            self.send_append(&peer);
        }
        // A lone voter commits as soon as its own copy is durable (`on_persisted`).
        self.maybe_commit();
    }

    /// Sends the next batch to `to` if its pacing allows. Returns whether anything was sent.
    pub(super) fn send_append(&mut self, to: &NodeId) -> bool {
        let Some(progress) = self.progress.get(to) else {
            return false;
        };
        if matches!(progress.state, ReplicationState::Snapshot { .. }) {
            return self.send_snapshot_chunks(to);
        }
        if !progress.can_send(self.options.inflight_messages_max) {
            return false;
        }
        let next_index = progress.next_index;
        let Some(prev_log_term) = self.log.term_at(next_index - 1) else {
            return self.start_snapshot(to);
        };
        let in_replicate = progress.state == ReplicationState::Replicate;
        if in_replicate && next_index > self.log.last_index() {
            return false; // nothing new; heartbeats keep the follower company
        }
        let entries = if next_index > self.log.last_index() {
            Vec::new()
        } else {
            self.log.entries_from(
                next_index,
                self.options.append_entries_max,
                self.options.append_bytes_max,
            )
        };
        let last_index = next_index - 1 + entries.len() as u64;
        let entry_count = entries.len();
        self.progress
            .get_mut(to)
            .expect("checked above")
            .commit_sent = self.log.commit_index;
        let body = RaftBody::AppendEntries {
            prev_log_index: next_index - 1,
            prev_log_term,
            entries,
            leader_commit: self.log.commit_index,
            read_seq: self.reads.current_seq(),
        };
        self.send(to.clone(), body);
        self.progress.get_mut(to).expect("checked above").on_sent(
            last_index,
            entry_count,
            self.now_ms,
        );
        true
    }

    pub(super) fn on_append_entries(
        &mut self,
        from: NodeId,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
        read_seq: u64,
    ) {
        if self.role == Role::Leader {
            panic!(
                "{}: two leaders in term {} ({} and {from})",
                self.id, self.term, self.id
            );
        }
        self.accept_leader(&from);
        let commit_index = self.log.commit_index;
        let reply = if prev_log_index < commit_index {
            // Everything up to our commit index is settled; say so and let the leader move on.
            Ok(commit_index)
        } else if self.log.term_at(prev_log_index) == Some(prev_log_term) {
            let last_new = self.append_from_leader(prev_log_index, entries);
            let new_commit = leader_commit.min(last_new).max(self.log.commit_index);
            self.log.commit_index = new_commit;
            Ok(last_new)
        } else {
            Err(self.conflict_hint(prev_log_index))
        };
        let body = match reply {
            Ok(match_index) => RaftBody::AppendEntriesResponse {
                success: true,
                match_index,
                hint_index: 0,
                hint_term: 0,
                read_seq,
            },
            Err((hint_index, hint_term)) => RaftBody::AppendEntriesResponse {
                success: false,
                match_index: prev_log_index,
                hint_index,
                hint_term,
                read_seq,
            },
        };
        self.send(from, body);
    }

    /// A message from the leader of our term: follow it and restart the election timer.
    pub(super) fn accept_leader(&mut self, from: &NodeId) {
        if self.role != Role::Follower || self.leader_id.as_ref() != Some(from) {
            self.become_follower(self.term, Some(from.clone()));
        }
        self.leader_contact_ms = Some(self.now_ms);
        self.reset_election_deadline();
    }

    /// Appends what the leader sent after a matching `prev_log_index`. Only a real conflict
    /// truncates: a stale or reordered message must not cut entries that agree (openraft's
    /// "committed entry lost"). Returns the index of the last entry the message carried.
    fn append_from_leader(&mut self, prev_log_index: u64, entries: Vec<Entry>) -> u64 {
        let last_new = prev_log_index + entries.len() as u64;
        let mut config_touched = false;
        let stale_truncates = self.planted(super::options::RaftBug::StaleAppendTruncates);
        if stale_truncates && !entries.is_empty() && self.log.last_index() > last_new {
            self.log.truncate_from(last_new + 1); // the planted bug: cut what may agree
            config_touched = true;
        }
        for entry in entries {
            match self.log.term_at(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    self.log.truncate_from(entry.index);
                    config_touched = true;
                }
                None => {}
            }
            config_touched |= matches!(entry.payload, EntryPayload::Config(_));
            self.log.append(entry);
        }
        if config_touched {
            self.reload_config_from_log();
        }
        last_new
    }

    /// Where the leader should look next: the first index of our conflicting term, or the end
    /// of our log when it is too short (the "skip a whole term" optimisation).
    fn conflict_hint(&self, prev_log_index: u64) -> (u64, u64) {
        let Some(conflict_term) = self.log.term_at(prev_log_index) else {
            return (self.log.last_index() + 1, 0);
        };
        let mut first = prev_log_index;
        while first > self.log.commit_index + 1
            && self.log.term_at(first - 1) == Some(conflict_term)
        {
            first -= 1;
        }
        (first, conflict_term)
    }

    pub(super) fn on_append_entries_response(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: u64,
        hint_index: u64,
        hint_term: u64,
        read_seq: u64,
    ) {
        if self.role != Role::Leader || !self.progress.contains_key(&from) {
            self.stats.messages_dropped_unexpected += 1;
            return;
        }
        let progress = self.progress.get_mut(&from).expect("checked above");
        progress.recently_active = true;
        progress.last_heard_ms = Some(self.now_ms);
        progress.read_seq_acked = progress.read_seq_acked.max(read_seq);
        let progressed = if success {
            let advanced = progress.on_match(match_index, self.now_ms);
            // Also on a plain acknowledgement: a removed server's answer to the commit news.
            self.forget_removed_peers();
            if advanced {
                self.maybe_commit();
                self.maybe_send_timeout_now(&from);
            }
            advanced
        } else {
            let next_guess = self.next_index_guess(hint_index, hint_term);
            let progress = self.progress.get_mut(&from).expect("checked above");
            progress.on_reject(match_index, next_guess)
        };
        self.release_confirmed_reads();
        // Only news moves replication on: answering a stale reply (a heartbeat's, a duplicate's)
        // with another append would start a chain that never ends, one more per heartbeat,
        // until the queues overflow (fuzzer, seed 5019). Lost probes are retried on heartbeats.
        let mut sent = false;
        while progressed
            && self.role == Role::Leader
            && self.has_more_for(&from)
            && self.send_append(&from)
        {
            sent = true;
        }
        if !sent && self.role == Role::Leader {
            self.send_commit_if_behind(&from);
        }
    }

    /// Our removal is committed: tell the most up-to-date voter to campaign at once (no waiting
    /// for an election timeout), then step down.
    fn hand_over_after_removal(&mut self) {
        let successor = self
            .progress
            .iter()
            .filter(|(id, p)| {
                self.config.voters.contains(*id) && p.match_index == self.log.last_index()
            })
            .map(|(id, _)| id.clone())
            .next();
        if let Some(successor) = successor {
            self.send_heartbeat(&successor, self.log.last_index());
            self.send(successor, RaftBody::TimeoutNow);
        }
        self.become_follower(self.term, None);
    }

    /// An idle follower that holds entries the leader has since committed is told so now.
    fn send_commit_if_behind(&mut self, peer: &NodeId) {
        let Some(progress) = self.progress.get(peer) else {
            return;
        };
        let known_committed = self.log.commit_index.min(progress.match_index);
        if progress.inflight.is_empty() && progress.commit_sent < known_committed {
            self.send_heartbeat(peer, progress.match_index);
        }
    }

    fn has_more_for(&self, peer: &NodeId) -> bool {
        self.progress
            .get(peer)
            .is_some_and(|p| p.next_index <= self.log.last_index())
    }

    fn next_index_guess(&self, hint_index: u64, hint_term: u64) -> u64 {
        if hint_term == 0 {
            return hint_index.max(1);
        }
        let last_of_term = self
            .log
            .iter()
            .rev()
            .find(|e| e.term == hint_term)
            .map(|e| e.index);
        match last_of_term {
            Some(index) => index + 1,
            None => hint_index.max(1),
        }
    }

    /// Advances the commit index to what a majority of voters holds, counting only an entry of
    /// the current term (Figure 8). The leader's own copy counts once it is durable.
    pub(super) fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched = self.match_indexes();
        matched.insert(self.id.clone(), self.log.persisted_index());
        let counted = if self.planted(super::options::RaftBug::QuorumCountsLearners) {
            self.config.members().cloned().collect()
        } else {
            self.config.voters.clone()
        };
        let index = quorum::committed_index(&counted, &matched);
        let own_term = self.log.term_at(index) == Some(self.term)
            || self.planted(super::options::RaftBug::CommitOldTermByCounting);
        if index <= self.log.commit_index || !own_term {
            return;
        }
        self.log.commit_index = index;
        self.on_commit_advanced();
    }

    fn on_commit_advanced(&mut self) {
        self.release_confirmed_reads();
        if self.config_index <= self.log.commit_index && !self.is_voter() {
            self.hand_over_after_removal();
            return;
        }
        // Followers learn the new commit index at once: with the next batch, or, when idle,
        // with a heartbeat (so that their stale reads and DNS answers lag as little as possible).
        let peers: Vec<NodeId> = self.progress.keys().cloned().collect();
        for peer in peers {
            if !self.send_append(&peer) {
                self.send_commit_if_behind(&peer);
            }
        }
    }
}
