//! Raft consensus as a pure state machine: events in (`tick`, `step`, `propose`, ...), a
//! `Ready` out. One file per concern; `state.rs` holds the struct and the one dispatch.

mod election;
mod leader;
pub mod log;
pub mod membership_change;
pub mod message;
pub mod options;
pub mod progress;
pub mod quorum;
pub mod read_index;
pub mod ready;
mod replication;
pub mod snapshot;
pub mod state;
mod term;
mod timers;
mod transfer;
pub mod types;

pub use membership_change::ConfigChange;
pub use message::*;
pub use options::{RaftBug, RaftOptions};
pub use ready::{ReadState, Ready, SnapshotToSave};
pub use state::{Raft, RaftError, RaftRestore, RaftStats, Role};
pub use types::*;
