//! Requests in progress: where each answer goes and what it waits for. Bounded.

use super::api::{Request, WatchRead};
use crate::kv::txn::TxnOp;
use std::collections::BTreeMap;

/// Where the answer to a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Local(u64),
    Remote {
        addr: String,
        request_id: u64,
    },
    /// The agent's own request (anti-entropy, `local/sync.rs`): the answer goes back to it.
    Internal(u64),
}

#[derive(Clone, Debug)]
pub enum Waiting {
    /// A proposal at `index` of `term`: answered when that index is applied.
    Write { index: u64, term: u64 },
    /// A consistent read: first a ReadIndex, then the apply of that index.
    Read {
        request: PendingRead,
        read_index: Option<u64>,
    },
    /// Passed on to the agent at `to`; its `ForwardReply` carries our id. Requests that are
    /// safe to repeat keep a copy, to send again to a new leader.
    Forwarded {
        to: String,
        retry: Option<(Request, u8)>,
    },
    /// No leader known yet: dispatched again once there is one.
    Leader { request: Request, hops: u8 },
    /// A join's gossip push to `addr`, answered by the other agent's pull; pushed again at
    /// `resend_at_ms` while unanswered (`Agent::resend_unanswered_joins`).
    Join { addr: String, resend_at_ms: u64 },
    /// A graceful leave in progress.
    Leave,
}

/// What a consistent read answers once its index is applied: a read that could also block,
/// or one that never does (a read-only transaction, a snapshot).
#[derive(Clone, Debug)]
pub enum PendingRead {
    Watch(WatchRead),
    Txn(Vec<TxnOp>),
    Snapshot,
}

#[derive(Clone, Debug)]
pub struct Pending {
    pub origin: Origin,
    pub deadline_ms: u64,
    pub waiting: Waiting,
}

impl Pending {
    /// Its deadline, or a join's resend if sooner.
    fn next_event_ms(&self) -> u64 {
        match self.waiting {
            Waiting::Join { resend_at_ms, .. } => resend_at_ms.min(self.deadline_ms),
            _ => self.deadline_ms,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PendingTable {
    next_id: u64,
    entries: BTreeMap<u64, Pending>,
    writes_by_index: BTreeMap<u64, u64>,
    requests_max: usize,
}

impl PendingTable {
    /// `first_id` must differ between the agent's incarnations: ids travel in forwarded
    /// requests, and a reply to the previous process must not answer a request of this one
    /// (found by the fuzzer, seed 6759: a restarted server got another write's index).
    pub fn new(requests_max: usize, first_id: u64) -> PendingTable {
        assert!(requests_max > 0);
        PendingTable {
            next_id: first_id.max(1),
            entries: BTreeMap::new(),
            writes_by_index: BTreeMap::new(),
            requests_max,
        }
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.requests_max
    }

    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Registers a request; returns its id (used for ReadIndex ids and forwarded request ids).
    pub fn insert(&mut self, pending: Pending) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if let Waiting::Write { index, .. } = pending.waiting {
            let previous = self.writes_by_index.insert(index, id);
            assert!(previous.is_none(), "two writes waiting on index {index}");
        }
        self.entries.insert(id, pending);
        id
    }

    pub fn remove(&mut self, id: u64) -> Option<Pending> {
        let pending = self.entries.remove(&id)?;
        if let Waiting::Write { index, .. } = pending.waiting {
            self.writes_by_index.remove(&index);
        }
        Some(pending)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Pending> {
        self.entries.get_mut(&id)
    }

    /// The write waiting on log index `index`, if any.
    pub fn take_write_at(&mut self, index: u64) -> Option<(u64, Pending)> {
        let id = self.writes_by_index.remove(&index)?;
        let pending = self.entries.remove(&id).expect("indexed write exists");
        Some((id, pending))
    }

    /// Ids of requests matching `pred`, in id order.
    pub fn ids_where(&self, pred: impl Fn(&Pending) -> bool) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|(_, p)| pred(p))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The earliest time the table has something to do: a request's deadline, or a join's
    /// resend (a scan: called once a driver round).
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.entries.values().map(Pending::next_event_ms).min()
    }

    /// Requests whose deadline passed, removed.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<Pending> {
        let ids = self.ids_where(|p| p.deadline_ms <= now_ms);
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }
}
