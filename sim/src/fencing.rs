//! The fenced resource the lock workload protects: a storage service outside Concord that
//! takes a write only with a fencing token (the ModifyIndex the lock's acquire applied at) at
//! least as large as every token it has accepted for that lock. A holder that lost its lock
//! while paused writes with an old token and is turned away; that is what makes a lock safe
//! when clients cannot know they lost it (Kleppmann's fencing, Jepsen's Consul analysis).
//!
//! The resource only records; `checker/fencing.rs` judges what it accepted against the grants
//! every server journaled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One write the resource accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub world_ms: u64,
    pub client: u64,
    pub session: String,
    pub token: u64,
}

/// What the resource holds for one lock key.
#[derive(Clone, Debug, Default)]
pub struct FencedKey {
    /// The largest token accepted so far.
    pub max_token: u64,
    pub accepted: Vec<Accepted>,
    /// Writes turned away for a token smaller than `max_token`.
    pub rejected: u64,
}

/// Every lock key's resource, shared by the world's clients.
#[derive(Clone, Debug, Default)]
pub struct FencedResource {
    pub keys: BTreeMap<String, FencedKey>,
}

pub type SharedResource = Arc<Mutex<FencedResource>>;

impl FencedResource {
    /// A write by `client` holding `session`'s lock on `key` with `token`: accepted only if
    /// no larger token was accepted before. Returns whether it was accepted.
    pub fn write(
        &mut self,
        key: &str,
        token: u64,
        client: u64,
        session: &str,
        world_ms: u64,
    ) -> bool {
        assert!(token > 0, "a fencing token is a Raft index, never 0");
        let fenced = self.keys.entry(key.to_string()).or_default();
        if token < fenced.max_token {
            fenced.rejected += 1;
            return false;
        }
        fenced.max_token = token;
        fenced.accepted.push(Accepted {
            world_ms,
            client,
            session: session.to_string(),
            token,
        });
        true
    }

    /// Writes turned away, over every key.
    pub fn rejected(&self) -> u64 {
        self.keys.values().map(|k| k.rejected).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_smaller_token_is_turned_away_an_equal_one_is_not() {
        let mut resource = FencedResource::default();
        assert!(resource.write("lk0", 7, 1, "a", 0));
        assert!(resource.write("lk0", 7, 1, "a", 1));
        assert!(resource.write("lk0", 9, 2, "b", 2));
        assert!(!resource.write("lk0", 7, 1, "a", 3));
        assert!(resource.write("lk1", 3, 1, "a", 4));
        assert_eq!(resource.rejected(), 1);
        assert_eq!(resource.keys["lk0"].accepted.len(), 3);
    }
}
