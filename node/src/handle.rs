//! `NodeHandle`: how the HTTP API, DNS and the simulator talk to a running node. It speaks the
//! core's typed request API; the driver task owns the agent.

use concord_core::agent::{ApiError, ApiResult, Request};
use concord_core::membership::Role;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Requests queued for the driver before callers are told to back off.
pub const REQUEST_QUEUE_MAX: usize = 4096;

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

pub(crate) type RequestEnvelope = (Request, oneshot::Sender<ApiResult>);

#[derive(Clone)]
pub struct NodeHandle {
    pub(crate) requests: mpsc::Sender<RequestEnvelope>,
    /// The KV table's index: bumps whenever a write or delete is applied here.
    pub(crate) kv_index: watch::Receiver<u64>,
    /// Whether the driver is still running.
    pub(crate) running: watch::Receiver<bool>,
    pub(crate) info: Arc<NodeInfo>,
}

impl NodeHandle {
    pub fn info(&self) -> &NodeInfo {
        &self.info
    }

    /// Sends a request to the node and waits for its answer.
    pub async fn request(&self, request: Request) -> ApiResult {
        let (reply_tx, reply_rx) = oneshot::channel();
        match self.requests.try_send((request, reply_tx)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return Err(ApiError::Unavailable(
                    "agent is overloaded: request queue full".into(),
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(ApiError::Unavailable("agent is shutting down".into()))
            }
        }
        reply_rx
            .await
            .unwrap_or_else(|_| Err(ApiError::Unavailable("agent is shutting down".into())))
    }

    /// The KV table index as last applied on this node.
    pub fn kv_index(&self) -> u64 {
        *self.kv_index.borrow()
    }

    /// Waits until the KV table index moves past `index`, or `timeout` passes. Blocking queries
    /// re-read after this and go on waiting if what they watch did not change.
    pub async fn wait_kv_index_past(&self, index: u64, timeout: Duration) {
        let mut watch = self.kv_index.clone();
        let wait = async {
            while *watch.borrow_and_update() <= index {
                if watch.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
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
