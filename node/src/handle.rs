//! `NodeHandle`: how the HTTP API, DNS and the simulator talk to a running node. It speaks the
//! core's typed request API; the driver task owns the agent.

use crate::metrics::{Metrics, RaftStatus, RaftStatusCell};
use concord_core::agent::{ApiError, ApiResult, Request};
use concord_core::membership::Role;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Requests queued for the driver before callers are told to back off.
pub const REQUEST_QUEUE_MAX: usize = 4096;
/// Bytes of write payload (keys and values) queued for the driver before callers are told to
/// back off: without it a full queue of the largest values would hold gigabytes.
pub const REQUEST_QUEUE_BYTES_MAX: usize = 64 * 1024 * 1024;
const _: () = assert!(
    REQUEST_QUEUE_BYTES_MAX >= 64 * concord_core::kv::VALUE_SIZE_BYTES_MAX,
    "the queue must take a burst of the largest values"
);

/// What a front end may show about this node without asking the driver.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node_name: String,
    pub node_id: String,
    pub datacenter: String,
    pub role: Role,
    pub rpc_addr: String,
    pub gossip_addr: String,
    pub version: String,
}

pub(crate) type RequestEnvelope = (Request, oneshot::Sender<ApiResult>, QueuedBytes);

/// A request's share of `REQUEST_QUEUE_BYTES_MAX`, given back when the driver takes it.
pub(crate) struct QueuedBytes {
    queued: Arc<AtomicUsize>,
    bytes: usize,
}

impl QueuedBytes {
    /// Reserves `bytes` of the queue, or refuses when that would pass the bound.
    fn reserve(queued: &Arc<AtomicUsize>, bytes: usize) -> Option<QueuedBytes> {
        let reserve = |current: usize| {
            (current + bytes <= REQUEST_QUEUE_BYTES_MAX).then_some(current + bytes)
        };
        queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, reserve)
            .ok()?;
        let queued = queued.clone();
        Some(QueuedBytes { queued, bytes })
    }
}

impl Drop for QueuedBytes {
    fn drop(&mut self) {
        let before = self.queued.fetch_sub(self.bytes, Ordering::AcqRel);
        assert!(before >= self.bytes, "queued bytes go below zero");
    }
}

/// The payload bytes a request carries: what it costs to hold it in the queue.
fn payload_bytes(request: &Request) -> usize {
    match request {
        Request::KvWrite { command } => command.payload_bytes(),
        Request::Txn { ops, .. } => ops.iter().map(|op| op.payload_bytes()).sum(),
        // Up to 64 MiB: a restore is refused (429) while other writes fill the queue.
        Request::SnapshotRestore { state } => state.len(),
        // A registration's encoded size: up to the 1 MiB HTTP body before it is checked.
        Request::CatalogWrite { command } => {
            bincode::serialized_size(command).map_or(usize::MAX, |n| n as usize)
        }
        _ => 0,
    }
}

#[derive(Clone)]
pub struct NodeHandle {
    pub(crate) requests: mpsc::Sender<RequestEnvelope>,
    /// Whether the driver is still running.
    pub(crate) running: watch::Receiver<bool>,
    pub(crate) info: Arc<NodeInfo>,
    /// Payload bytes in the request queue (see `REQUEST_QUEUE_BYTES_MAX`).
    pub(crate) queued_bytes: Arc<AtomicUsize>,
    /// This node's metrics (written by the driver, storage and the HTTP API).
    pub(crate) metrics: Arc<Metrics>,
    /// The driver's copy of the Raft figures, as of its last round.
    pub(crate) raft_status: RaftStatusCell,
}

impl NodeHandle {
    pub fn info(&self) -> &NodeInfo {
        &self.info
    }

    /// This node's metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// This node's Raft figures as of the driver's last round (the default on a client).
    pub fn raft_status(&self) -> RaftStatus {
        self.raft_status.get()
    }

    /// Sends a request to the node and waits for its answer.
    pub async fn request(&self, request: Request) -> ApiResult {
        let (reply_tx, reply_rx) = oneshot::channel();
        let Some(queued) = QueuedBytes::reserve(&self.queued_bytes, payload_bytes(&request)) else {
            let why = format!("more than {REQUEST_QUEUE_BYTES_MAX} bytes of writes queued");
            return Err(ApiError::RateLimited(why));
        };
        match self.requests.try_send((request, reply_tx, queued)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let why = format!("more than {REQUEST_QUEUE_MAX} requests queued");
                return Err(ApiError::RateLimited(why));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(ApiError::Unavailable("agent is shutting down".into()))
            }
        }
        reply_rx
            .await
            .unwrap_or_else(|_| Err(ApiError::Unavailable("agent is shutting down".into())))
    }

    /// Whether the node's driver is still running.
    pub fn is_running(&self) -> bool {
        *self.running.borrow()
    }

    /// Waits until the driver stops (after a graceful leave, or a fatal storage error).
    pub async fn stopped(&self) {
        let mut running = self.running.clone();
        while *running.borrow_and_update() {
            if running.changed().await.is_err() {
                return;
            }
        }
    }
}
