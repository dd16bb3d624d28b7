//! What the leader knows of each follower's log, and how it paces replication to it.

use super::types::SnapshotMeta;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicationState {
    /// Unsure where the follower's log ends: one AppendEntries at a time until one succeeds.
    Probe { waiting_for_reply: bool },
    /// The follower is known to match: pipeline up to `inflight_messages_max` AppendEntries.
    Replicate,
    /// The follower needs entries we compacted: send the snapshot in bursts of up to
    /// `inflight_messages_max` chunks, the next burst once the follower holds all of this one.
    Snapshot {
        /// The snapshot being sent, kept until the follower has it even when the leader
        /// compacts again meanwhile: restarting on every compaction would let a steady write
        /// load keep a slow follower from ever finishing.
        snapshot: OutgoingSnapshot,
        /// The follower holds the snapshot's bytes before this offset.
        acked_offset_bytes: u64,
        /// Where the burst in flight ends: the next waits until the follower holds it all (or
        /// a heartbeat gives it up as lost). Only the follower's progress opens the next burst,
        /// never the count of answers: repeated answers would open bursts that multiply.
        burst_end_bytes: Option<u64>,
        /// The follower held all of the last burst. Until it does, a burst is one chunk, as a
        /// probe is one AppendEntries: a follower that is cut off (or whose answers are) is
        /// sent one chunk a heartbeat, not a full burst each time, which would only fill the
        /// queues with chunks and answers that all arrive late at once.
        confirmed: bool,
    },
}

/// A snapshot on its way to a follower: shared with the leader's own copy, not copied.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingSnapshot {
    pub meta: SnapshotMeta,
    pub data: Arc<Vec<u8>>,
}

impl fmt::Debug for OutgoingSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (index, bytes) = (self.meta.last_index, self.data.len());
        write!(f, "snapshot at {index} ({bytes} bytes)")
    }
}

#[derive(Clone, Debug)]
pub struct Progress {
    pub match_index: u64,
    pub next_index: u64,
    pub state: ReplicationState,
    /// The last index carried by each AppendEntries in flight, oldest first.
    pub inflight: VecDeque<u64>,
    /// Heard from since the last CheckQuorum round.
    pub recently_active: bool,
    /// The highest ReadIndex round this follower has confirmed.
    pub read_seq_acked: u64,
    /// The commit index last sent to this follower, so an idle follower is told of a new one.
    pub commit_sent: u64,
    /// When the oldest unacknowledged AppendEntries went out, or an acknowledgement last came.
    pub inflight_since_ms: u64,
    /// When the follower last answered anything (autopilot's "last contact"); `None` until it
    /// does. Unlike `recently_active`, never reset: health needs the time, not a mark.
    pub last_heard_ms: Option<u64>,
}

impl Progress {
    pub fn new(next_index: u64) -> Progress {
        assert!(next_index > 0);
        Progress {
            match_index: 0,
            next_index,
            state: ReplicationState::Probe {
                waiting_for_reply: false,
            },
            inflight: VecDeque::new(),
            recently_active: true,
            read_seq_acked: 0,
            commit_sent: 0,
            inflight_since_ms: 0,
            last_heard_ms: None,
        }
    }

    /// Whether another AppendEntries may go out now.
    pub fn can_send(&self, inflight_messages_max: usize) -> bool {
        match self.state {
            ReplicationState::Probe { waiting_for_reply } => !waiting_for_reply,
            ReplicationState::Replicate => self.inflight.len() < inflight_messages_max,
            ReplicationState::Snapshot {
                burst_end_bytes, ..
            } => burst_end_bytes.is_none(),
        }
    }

    /// Records an AppendEntries whose last entry is `last_index`.
    pub fn on_sent(&mut self, last_index: u64, entry_count: usize, now_ms: u64) {
        match &mut self.state {
            ReplicationState::Probe { waiting_for_reply } => *waiting_for_reply = true,
            ReplicationState::Replicate => {
                if entry_count > 0 {
                    if self.inflight.is_empty() {
                        self.inflight_since_ms = now_ms;
                    }
                    self.inflight.push_back(last_index);
                    self.next_index = last_index + 1;
                }
            }
            ReplicationState::Snapshot { .. } => {
                unreachable!("append sent while sending a snapshot")
            }
        }
    }

    /// Pipelined messages unacknowledged for `stall_ms` were probably lost (a follower that
    /// restarted, a dropped connection): fall back to probing from what is known to match.
    pub fn is_stalled(&self, now_ms: u64, stall_ms: u64) -> bool {
        self.state == ReplicationState::Replicate
            && !self.inflight.is_empty()
            && now_ms >= self.inflight_since_ms + stall_ms
    }

    /// The follower has everything up to `index`. Returns false for a stale acknowledgement.
    pub fn on_match(&mut self, index: u64, now_ms: u64) -> bool {
        if index <= self.match_index && self.match_index > 0 {
            return false;
        }
        self.match_index = self.match_index.max(index);
        self.inflight_since_ms = now_ms;
        self.next_index = self.next_index.max(index + 1);
        while self.inflight.front().is_some_and(|&last| last <= index) {
            self.inflight.pop_front();
        }
        if matches!(self.state, ReplicationState::Probe { .. }) {
            self.state = ReplicationState::Replicate;
        }
        true
    }

    /// The follower rejected an AppendEntries whose previous index was `rejected_index`;
    /// `next_guess` is where the leader's search for agreement goes next. Returns false when the
    /// rejection is stale (answers a message sent before a newer one settled things).
    pub fn on_reject(&mut self, rejected_index: u64, next_guess: u64) -> bool {
        let stale = match self.state {
            ReplicationState::Replicate => rejected_index <= self.match_index,
            ReplicationState::Probe { .. } => rejected_index != self.next_index - 1,
            ReplicationState::Snapshot { .. } => true,
        };
        if stale {
            return false;
        }
        self.next_index = next_guess.clamp(
            self.match_index + 1,
            rejected_index.max(self.match_index + 1),
        );
        self.state = ReplicationState::Probe {
            waiting_for_reply: false,
        };
        self.inflight.clear();
        true
    }

    /// After a heartbeat interval a probe, or a burst of snapshot chunks, may be retried even
    /// without a reply (it may be lost).
    pub fn unpause_probe(&mut self) {
        match &mut self.state {
            ReplicationState::Probe { waiting_for_reply } => *waiting_for_reply = false,
            ReplicationState::Snapshot {
                burst_end_bytes,
                confirmed,
                ..
            } => {
                // A burst still unanswered at a heartbeat is given up: resend from what the
                // follower holds, one chunk until it answers.
                if burst_end_bytes.take().is_some() {
                    *confirmed = false;
                }
            }
            ReplicationState::Replicate => {}
        }
    }

    /// Replication in flight may all have been lost: start again from what is known to match.
    pub fn reset_to_probe(&mut self) {
        self.next_index = self.match_index + 1;
        self.state = ReplicationState::Probe {
            waiting_for_reply: false,
        };
        self.inflight.clear();
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
