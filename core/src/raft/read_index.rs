//! ReadIndex (thesis §6.4): a linearizable read without writing to the log. The leader notes a
//! read, confirms with a quorum of voters that it is still leader (a round of heartbeats tagged
//! with a sequence number), and releases the read at its commit index. A deposed leader never
//! gathers that quorum, so it never answers (Jepsen's stale reads on etcd and Consul, 2014).

use super::quorum;
use super::ready::ReadState;
use super::state::{Raft, RaftError, Role};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
struct PendingRead {
    read_id: u64,
    /// The heartbeat round that must be acknowledged by a quorum.
    seq: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ReadQueue {
    seq: u64,
    pending: VecDeque<PendingRead>,
    ready: Vec<ReadState>,
}

impl ReadQueue {
    pub fn current_seq(&self) -> u64 {
        self.seq
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn take_ready(&mut self) -> Vec<ReadState> {
        std::mem::take(&mut self.ready)
    }

    /// Leadership lost: every pending read fails (the caller retries elsewhere).
    pub(super) fn fail_all(&mut self) {
        for read in self.pending.drain(..) {
            self.ready.push(ReadState {
                read_id: read.read_id,
                index: None,
            });
        }
    }
}

impl Raft {
    /// Asks for a linearizable read; its `ReadState` comes out of a later `poll_ready`.
    pub fn read_index(&mut self, now_ms: u64, read_id: u64) -> Result<(), RaftError> {
        self.now_ms = self.now_ms.max(now_ms);
        if self.role != Role::Leader {
            return Err(RaftError::NotLeader {
                leader: self.leader_id.clone(),
            });
        }
        if self.reads.pending.len() >= self.options.pending_reads_max {
            return Err(RaftError::TooManyPendingReads {
                reads_max: self.options.pending_reads_max,
            });
        }
        self.reads.seq += 1;
        let seq = self.reads.seq;
        self.reads.pending.push_back(PendingRead { read_id, seq });
        self.broadcast_heartbeat();
        self.release_confirmed_reads();
        Ok(())
    }

    /// Releases every read whose round a quorum acknowledged, once the leader has committed an
    /// entry of its own term (before that its commit index may lag what earlier leaders
    /// committed).
    pub(super) fn release_confirmed_reads(&mut self) {
        if self.role != Role::Leader || self.log.term_at(self.log.commit_index) != Some(self.term) {
            return;
        }
        let commit_index = self.log.commit_index;
        while let Some(read) = self.reads.pending.front() {
            let mut acked = vec![self.id.clone()];
            acked.extend(
                self.progress
                    .iter()
                    .filter(|(_, p)| p.read_seq_acked >= read.seq)
                    .map(|(id, _)| id.clone()),
            );
            let skip_quorum = self.planted(super::options::RaftBug::ReadIndexSkipsQuorum);
            if !skip_quorum && !quorum::has_quorum(&self.config.voters, acked.iter()) {
                break;
            }
            let read = self.reads.pending.pop_front().expect("front exists");
            self.reads.ready.push(ReadState {
                read_id: read.read_id,
                index: Some(commit_index),
            });
        }
    }
}
