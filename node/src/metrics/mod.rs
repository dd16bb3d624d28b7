//! Concord's metrics: one registry per node (the simulator runs many nodes in one process, so
//! nothing here is process-global), written on the hot paths through atomics, read at scrape
//! time by `/v1/agent/metrics` in Consul's JSON shape or the Prometheus text format.

pub mod raft_status;

pub use raft_status::{RaftStatus, RaftStatusCell};

/// Every figure this node keeps.
#[derive(Default)]
pub struct Metrics {}
