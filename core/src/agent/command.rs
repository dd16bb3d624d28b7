//! Commands replicated through the Raft log, and the state-machine snapshot format.

use crate::kv::{KvCommand, KvStore};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Kv(KvCommand),
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("commands always encode")
    }

    /// Entries come from our own log: a command that does not decode is a broken invariant
    /// (corruption passed the CRC, or a version mismatch), and the caller panics with context.
    pub fn decode(bytes: &[u8]) -> Result<Command, String> {
        bincode::deserialize(bytes).map_err(|e| e.to_string())
    }
}

/// Everything the state machine holds at a log index.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    pub kv: KvStore,
}

impl StateSnapshot {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("snapshots always encode")
    }

    pub fn decode(bytes: &[u8]) -> Result<StateSnapshot, String> {
        bincode::deserialize(bytes).map_err(|e| e.to_string())
    }
}
