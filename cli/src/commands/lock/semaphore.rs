//! `concord lock -n N` (N > 1): Go's `api.Semaphore` on PREFIX, step for step. Each contender
//! holds `PREFIX/<session>` with its session (deleted with it); `PREFIX/.lock` holds
//! `{"Limit":N,"Holders":{"<session>":true,...}}`, changed only by check-and-set, and a holder
//! whose contender key is gone (its session ended) is pruned by whoever writes next.

use super::kv::{self, Read, ReadError, ReadMode};
use super::{monitor_until_lost, AcquireClock, Cleanup, MONITOR_WAIT};
use crate::http_client::Client;
use concord_node::api_types::KvPair;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Go's `api.SemaphoreFlagValue`.
pub const SEMAPHORE_FLAG_VALUE: u64 = 0xe0f6_9a2b_aa41_4de0;
/// Go's `api.DefaultSemaphoreKey`: the coordination key under the prefix.
pub const SEMAPHORE_KEY: &str = ".lock";
/// Go's `ErrSemaphoreConflict`.
pub const SEMAPHORE_CONFLICT: &str = "Existing key does not match semaphore use";

/// The value of `PREFIX/.lock` (Go's `semaphoreLock`; a map, so holders encode sorted as Go's
/// encoder sorts them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SemaphoreLock {
    #[serde(rename = "Limit")]
    pub limit: u64,
    #[serde(rename = "Holders", default)]
    pub holders: BTreeMap<String, bool>,
}

impl SemaphoreLock {
    /// The lock stored in `pair` (a missing or empty one: `limit`, no holders).
    pub fn decode(pair: Option<&KvPair>, limit: u64) -> Result<SemaphoreLock, String> {
        let value = pair
            .map(crate::commands::kv::pair_bytes)
            .unwrap_or_default();
        if value.is_empty() {
            return Ok(SemaphoreLock {
                limit,
                holders: BTreeMap::new(),
            });
        }
        serde_json::from_slice(&value).map_err(|e| format!("lock decoding failed: {e}"))
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a semaphore lock encodes")
    }

    /// Drops holders without a live contender key (Go's `pruneDeadHolders`).
    pub fn prune_dead_holders(&mut self, pairs: &[KvPair]) {
        let alive: Vec<&str> = pairs.iter().filter_map(|p| p.session.as_deref()).collect();
        self.holders
            .retain(|holder, _| alive.contains(&holder.as_str()));
    }
}

#[derive(Clone)]
pub struct Semaphore {
    pub client: Client,
    pub prefix: String,
    pub limit: u64,
    pub session: String,
}

impl Semaphore {
    fn lock_key(&self) -> String {
        format!("{}/{SEMAPHORE_KEY}", self.prefix)
    }

    fn contender_key(&self) -> String {
        format!("{}/{}", self.prefix, self.session)
    }

    /// Blocks until a slot is ours (`Some(fencing token)`), the timeout passes (`None`) or an
    /// error.
    pub fn acquire(&self, clock: &mut AcquireClock) -> Result<Option<u64>, String> {
        let flags = SEMAPHORE_FLAG_VALUE.to_string();
        let query = [
            ("acquire", self.session.as_str()),
            ("flags", flags.as_str()),
        ];
        let made = kv::write(&self.client, &self.contender_key(), &query, &[])
            .map_err(|e| format!("failed to make contender entry: {e}"))?;
        if !made.applied {
            return Err("failed to make contender entry: the agent refused it".to_string());
        }
        let mut index = 0;
        loop {
            let Some(wait) = clock.next_wait() else {
                return Ok(None);
            };
            let read = self.read(index, wait, false)?;
            let (mut lock, modify_index) = self.decode(&read)?;
            if lock.holders.len() as u64 >= lock.limit {
                index = read.index;
                continue;
            }
            lock.holders.insert(self.session.clone(), true);
            if let Some(token) = self.swap(&lock, modify_index)? {
                return Ok(Some(token));
            }
            // Another contender wrote first: read again.
        }
    }

    /// The lock in `read`, pruned, and its ModifyIndex (0: none yet); refuses a key of another
    /// use and a limit the other contenders do not share.
    fn decode(&self, read: &Read) -> Result<(SemaphoreLock, u64), String> {
        let pair = read.find(&self.lock_key());
        if pair.is_some_and(|p| p.flags != SEMAPHORE_FLAG_VALUE) {
            return Err(SEMAPHORE_CONFLICT.to_string());
        }
        let mut lock = SemaphoreLock::decode(pair, self.limit)?;
        if lock.limit != self.limit {
            return Err(format!(
                "semaphore limit conflict (lock: {}, local: {})",
                lock.limit, self.limit
            ));
        }
        lock.prune_dead_holders(&read.pairs);
        Ok((lock, pair.map_or(0, |p| p.modify_index)))
    }

    /// Check-and-set of the lock key: the fencing token when it applied.
    fn swap(&self, lock: &SemaphoreLock, modify_index: u64) -> Result<Option<u64>, String> {
        let (cas, flags) = (modify_index.to_string(), SEMAPHORE_FLAG_VALUE.to_string());
        let query = [("cas", cas.as_str()), ("flags", flags.as_str())];
        let written = kv::write(&self.client, &self.lock_key(), &query, &lock.encode())
            .map_err(|e| format!("failed to update lock: {e}"))?;
        if !written.applied {
            return Ok(None);
        }
        if let Some(token) = written.fencing_token {
            return Ok(Some(token));
        }
        let read = self.read(0, Duration::ZERO, true)?;
        Ok(Some(
            read.find(&self.lock_key()).map_or(0, |p| p.modify_index),
        ))
    }

    /// Returns once our slot is gone (Go's `monitorLock`, with `MonitorRetries`); a lock
    /// value we cannot decode counts as gone.
    pub fn monitor(&self, retries_max: u32) {
        monitor_until_lost(retries_max, |index| {
            let read = self.read(index, MONITOR_WAIT, true)?;
            let held = self
                .decode(&read)
                .is_ok_and(|(lock, _)| lock.holders.contains_key(&self.session));
            Ok(held.then_some(read.index))
        });
    }

    /// Takes us out of the holders (check-and-set, retried) and deletes our contender key.
    pub fn release(&self) -> Result<(), String> {
        loop {
            let read = self.read_lock_key()?;
            let pair = read.find(&self.lock_key());
            let mut lock = SemaphoreLock::decode(pair, self.limit)?;
            if lock.holders.remove(&self.session).is_none() {
                break;
            }
            if self
                .swap(&lock, pair.map_or(0, |p| p.modify_index))?
                .is_some()
            {
                break;
            }
        }
        kv::delete(&self.client, &self.contender_key(), &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Deletes the lock key if no one holds a slot (Go's `Destroy`).
    pub fn cleanup(&self) -> Result<Cleanup, String> {
        let read = self.read(0, Duration::ZERO, false)?;
        if read.find(&self.lock_key()).is_none() {
            return Ok(Cleanup::Done);
        }
        let (lock, modify_index) = self.decode(&read)?;
        if !lock.holders.is_empty() {
            return Ok(Cleanup::InUse);
        }
        kv::delete_unchanged(&self.client, &self.lock_key(), modify_index, "semaphore")
    }

    /// Everything under the prefix (the lock key and every contender key).
    fn read(&self, index: u64, wait: Duration, consistent: bool) -> Result<Read, ReadError> {
        let mode = ReadMode {
            recurse: true,
            consistent,
            index,
            wait,
        };
        kv::read(&self.client, &self.prefix, mode).map_err(|e| ReadError::new("prefix", e))
    }

    fn read_lock_key(&self) -> Result<Read, String> {
        let mode = ReadMode {
            recurse: false,
            consistent: false,
            index: 0,
            wait: Duration::ZERO,
        };
        kv::read(&self.client, &self.lock_key(), mode).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn pair(key: &str, session: Option<&str>, value: &[u8]) -> KvPair {
        KvPair {
            key: key.into(),
            session: session.map(String::from),
            value: Some(base64::engine::general_purpose::STANDARD.encode(value)),
            flags: SEMAPHORE_FLAG_VALUE,
            ..KvPair::default()
        }
    }

    #[test]
    fn the_lock_value_is_go_semaphores_json() {
        let mut lock = SemaphoreLock {
            limit: 2,
            holders: BTreeMap::new(),
        };
        lock.holders.insert("b-sid".into(), true);
        lock.holders.insert("a-sid".into(), true);
        assert_eq!(
            String::from_utf8(lock.encode()).unwrap(),
            r#"{"Limit":2,"Holders":{"a-sid":true,"b-sid":true}}"#
        );
        let stored = pair("p/.lock", None, &lock.encode());
        assert_eq!(SemaphoreLock::decode(Some(&stored), 9).unwrap(), lock);
    }

    #[test]
    fn a_missing_lock_is_empty_with_our_limit_and_garbage_is_an_error() {
        let empty = SemaphoreLock::decode(None, 3).unwrap();
        assert_eq!((empty.limit, empty.holders.len()), (3, 0));
        let bad = pair("p/.lock", None, b"{not json");
        let err = SemaphoreLock::decode(Some(&bad), 3).unwrap_err();
        assert!(err.starts_with("lock decoding failed: "), "{err}");
    }

    #[test]
    fn holders_without_a_live_contender_key_are_pruned() {
        let value = br#"{"Limit":2,"Holders":{"alive":true,"dead":true}}"#;
        let pairs = vec![
            pair("p/.lock", None, value),
            pair("p/alive", Some("alive"), b""),
            // The dead holder's key lost its session (released) but is still there.
            pair("p/dead", None, b""),
        ];
        let mut lock = SemaphoreLock::decode(Some(&pairs[0]), 2).unwrap();
        lock.prune_dead_holders(&pairs);
        assert_eq!(lock.holders.keys().collect::<Vec<_>>(), ["alive"]);
    }
}
