//! Consul's autopilot, run by the leader every gossip round (from `reconcile.rs`): it
//! promotes non-voters once healthy for `server_stabilization_time`, and removes failed
//! servers within the quorum rules. Settings (`config.rs`) are replicated through Raft; the
//! decision is a pure function (`plan.rs`); health is the leader's view (`health.rs`); the
//! agent's side (facts in, one change out, and the requests) is in `leader.rs`.

mod config;
mod health;
mod leader;
mod plan;

pub use config::{AutopilotCommand, AutopilotConfig, AutopilotOptions};
pub use health::{failure_tolerance, is_healthy, AutopilotHealth, ServerHealth, Tracker};
pub use plan::{decide, Decision, Liveness, ServerFacts, DEAD_SERVER_GRACE_MS};
