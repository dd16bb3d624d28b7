//! Cluster membership: who is in the cluster, where, and whether alive. `Swim` is the SWIM
//! failure detector with Lifeguard (issue 12); `table` is the older push/pull table with
//! heartbeats, kept until the agent switches over.

pub mod broadcast;
mod input;
pub mod member;
mod merge;
pub mod message;
pub mod options;
mod periodic;
pub mod probe;
pub mod stats;
pub mod suspicion;
pub mod swim;
pub mod table;

pub use member::*;
pub use message::*;
pub use options::MembershipOptions as SwimOptions;
pub use periodic::{push_pull_scale, PUSH_PULL_SCALE_THRESHOLD};
pub use stats::MembershipStats;
pub use swim::{Entry, ForceLeaveError, MemberEvent, Swim};
pub use table::*;
