//! What one round of Raft asks the driver to do, in the order it must be done.
//!
//! 0. `early_messages`: a leader's appends, snapshots and transfer orders, which may go out
//!    before (and while) its own log is written: the leader counts its own copy towards
//!    commit only once storage reports it durable (Raft thesis §10.2.1; etcd does the same).
//!    Empty whenever this round changed the term or the vote.
//! 1. `snapshot`: write it (and compact the log) durably.
//! 2. `hard_state` and `entries`: write them with one write, and one fsync when `must_sync`
//!    (group commit). A hard state that only moved the commit index need not be synced:
//!    a lower commit index after a crash is learnt again (etcd-io/raft's `MustSync`).
//! 3. `messages`: send them; they may depend on 1 and 2 (a vote, an append acknowledgement).
//! 4. `committed`: apply them to the state machine, in order.
//! 5. `read_states`: answer the linearizable reads they release, once applied that far.
//!
//! Then report `Raft::on_persisted` so the leader may count its own copy towards commit.

use super::message::RaftMessage;
use super::types::{Entry, HardState, NodeId, Snapshot};

#[derive(Clone, Debug, Default)]
pub struct Ready {
    pub snapshot: Option<SnapshotToSave>,
    pub hard_state: Option<HardState>,
    pub entries: Vec<Entry>,
    /// Whether 2 must be fsynced: entries, or a changed term or vote, are to be written.
    pub must_sync: bool,
    pub early_messages: Vec<RaftMessage>,
    pub messages: Vec<RaftMessage>,
    pub committed: Vec<Entry>,
    pub read_states: Vec<ReadState>,
    /// Set when the known leader changed during this round: `Some(None)` means "no leader".
    pub leader_changed: Option<Option<NodeId>>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none()
            && self.hard_state.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.early_messages.is_empty()
            && self.committed.is_empty()
            && self.read_states.is_empty()
            && self.leader_changed.is_none()
    }

    /// The last entry storage must report durable once this Ready is written.
    pub fn last_entry(&self) -> Option<(u64, u64)> {
        self.entries.last().map(|e| (e.index, e.term))
    }
}

#[derive(Clone, Debug)]
pub struct SnapshotToSave {
    pub snapshot: Snapshot,
    /// The hard state to write with it.
    pub hard_state: HardState,
    /// Entries after the snapshot that earlier actions wrote, kept when the log file is
    /// compacted.
    pub retained_entries: Vec<Entry>,
    /// True when the snapshot came from the leader: the state machine must be restored from it.
    pub restore: bool,
}

/// The outcome of a linearizable read: `Some(index)` once a quorum confirmed leadership (answer
/// after applying up to `index`), `None` when leadership was lost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub read_id: u64,
    pub index: Option<u64>,
}
