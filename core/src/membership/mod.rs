//! Cluster membership: who is in the cluster, where, and whether alive. `Swim` is the SWIM
//! failure detector with Lifeguard, sans-IO (`handle_*` in with `now_ms`, `poll_*` out,
//! `next_deadline_ms`); the agent knows it as `Membership`.

pub mod broadcast;
mod input;
pub mod member;
mod merge;
pub mod message;
pub mod options;
mod periodic;
pub mod probe;
mod states;
pub mod stats;
pub mod suspicion;
pub mod swim;

pub use member::*;
pub use message::*;
pub use options::*;
pub use periodic::{push_pull_scale, PUSH_PULL_SCALE_THRESHOLD};
pub use stats::MembershipStats;
pub use swim::{Entry, ForceLeaveError, MemberEvent, Swim};

/// The agent's name for the detector.
pub type Membership = Swim;
