//! Cluster membership: who is in the cluster, where, and whether alive. Push/pull gossip with
//! heartbeat counters; kept apart from the rest so that full SWIM can replace it later.

pub mod member;
pub mod table;

pub use member::*;
pub use table::*;
