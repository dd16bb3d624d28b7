//! `concord lock` with one holder: Go's `api.Lock` on `PREFIX/.lock`, step for step, so a Go
//! program using `api.Lock` on the same key and `concord lock` exclude each other.

use super::kv::{self, Read, ReadError, ReadMode};
use super::{monitor_until_lost, AcquireClock, Cleanup, MONITOR_WAIT};
use crate::http_client::Client;
use concord_node::api_types::KvPair;
use std::time::Duration;

/// Go's `api.LockFlagValue`: marks a key used as a lock (a semaphore's differs, so the two
/// detect each other on one prefix).
pub const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;
/// Go's `DefaultLockRetryTime`: the pause after an acquire refused with the key unlocked (a
/// lock-delay is in effect).
const LOCK_RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// Go's `ErrLockConflict`.
pub const LOCK_CONFLICT: &str = "Existing key does not match lock use";

#[derive(Clone)]
pub struct Mutex {
    pub client: Client,
    pub key: String,
    pub session: String,
}

impl Mutex {
    /// Blocks until the lock is ours (`Some(fencing token)`), the timeout passes (`None`) or
    /// an error.
    pub fn acquire(&self, clock: &mut AcquireClock) -> Result<Option<u64>, String> {
        let flags = LOCK_FLAG_VALUE.to_string();
        let mut index = 0;
        loop {
            let Some(wait) = clock.next_wait() else {
                return Ok(None);
            };
            let read = self.read(index, wait, false)?;
            let pair = read.find(&self.key);
            if pair.is_some_and(|p| p.flags != LOCK_FLAG_VALUE) {
                return Err(LOCK_CONFLICT.to_string());
            }
            match pair.and_then(|p| p.session.as_deref()) {
                Some(holder) if holder == self.session => {
                    return Ok(Some(pair.map_or(0, |p| p.modify_index)))
                }
                Some(_) => {
                    index = read.index;
                    continue;
                }
                None => {}
            }
            let query = [
                ("acquire", self.session.as_str()),
                ("flags", flags.as_str()),
            ];
            let written = kv::write(&self.client, &self.key, &query, &[])
                .map_err(|e| format!("failed to acquire lock: {e}"))?;
            if written.applied {
                return self.fencing_token(written.fencing_token).map(Some);
            }
            // Why not: held by another (block on it) or a lock-delay (wait, then try again).
            let read = self.read(0, wait, false)?;
            match read.find(&self.key).and_then(|p| p.session.as_ref()) {
                Some(_) => index = read.index,
                None => {
                    index = 0;
                    std::thread::sleep(LOCK_RETRY_INTERVAL);
                }
            }
        }
    }

    /// The ModifyIndex our acquire applied at: the agent's header, else the key's ModifyIndex
    /// read back (still ours, so no later write moved it but our own).
    fn fencing_token(&self, header: Option<u64>) -> Result<u64, String> {
        if let Some(token) = header {
            return Ok(token);
        }
        let read = self.read(0, Duration::ZERO, true)?;
        match read.find(&self.key) {
            Some(pair) if pair.session.as_deref() == Some(self.session.as_str()) => {
                Ok(pair.modify_index)
            }
            _ => Err("failed to acquire lock: lost right after acquiring it".to_string()),
        }
    }

    /// Returns once the lock is no longer ours (Go's `monitorLock` with `MonitorRetries`).
    pub fn monitor(&self, retries_max: u32) {
        monitor_until_lost(retries_max, |index| {
            let read = self.read(index, MONITOR_WAIT, true)?;
            Ok(self.holds(read.find(&self.key)).then_some(read.index))
        });
    }

    fn holds(&self, pair: Option<&KvPair>) -> bool {
        pair.and_then(|p| p.session.as_deref()) == Some(self.session.as_str())
    }

    /// `?release=`: the key stays, unlocked (Go's `Unlock`).
    pub fn release(&self) -> Result<(), String> {
        let flags = LOCK_FLAG_VALUE.to_string();
        let query = [
            ("release", self.session.as_str()),
            ("flags", flags.as_str()),
        ];
        kv::write(&self.client, &self.key, &query, &[])
            .map(|_| ())
            .map_err(|e| format!("failed to release lock: {e}"))
    }

    /// Deletes the key if no one holds it (Go's `Destroy`).
    pub fn cleanup(&self) -> Result<Cleanup, String> {
        let read = self.read(0, Duration::ZERO, false)?;
        let Some(pair) = read.find(&self.key) else {
            return Ok(Cleanup::Done);
        };
        if pair.flags != LOCK_FLAG_VALUE {
            return Err(LOCK_CONFLICT.to_string());
        }
        if pair.session.is_some() {
            return Ok(Cleanup::InUse);
        }
        kv::delete_unchanged(&self.client, &self.key, pair.modify_index, "lock")
    }

    fn read(&self, index: u64, wait: Duration, consistent: bool) -> Result<Read, ReadError> {
        let mode = ReadMode {
            recurse: false,
            consistent,
            index,
            wait,
        };
        kv::read(&self.client, &self.key, mode).map_err(|e| ReadError::new("lock", e))
    }
}
