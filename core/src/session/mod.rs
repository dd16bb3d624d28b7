//! Sessions (Consul's `/v1/session/*`): named leases that hold KV locks. A session is
//! invalidated when its TTL runs out (timers on the leader, `agent/session_timers.rs`), when it
//! is destroyed, when its node is deregistered, or when one of its checks goes critical; its
//! locks are then released or deleted (`Behavior`), and lock-delay applies to those keys
//! (`invalidate.rs`). `validate.rs` says whether a session may exist given the catalog.

pub(crate) mod invalidate;
pub mod store;
pub mod types;
pub mod validate;

#[cfg(test)]
mod tests;

pub use store::SessionStore;
pub use types::*;
pub use validate::{check_against_catalog, check_spec_bounds};
