//! Lock-delay (Consul's `KVSLockDelay`): after a session is invalidated, the keys it held
//! cannot be acquired again for the session's lock-delay, so a holder that lost its session
//! (and may still be acting) has time to notice before someone else takes over.
//!
//! Every server records the delays as it applies the invalidation (`ApplyOutcome::
//! lock_changes` with `delay_ns > 0`), with its own clock, as each Consul FSM does; only the
//! leader consults them, before it proposes an acquire (`KvCommand::Lock`, a transaction's
//! `lock`). Not replicated and not in snapshots: a new leader knows the delays it applied
//! itself, which are the ones Consul's new leader knows too. Cleared when a restore commits.

use super::api::{ApiError, ApiResult, Response};
use super::Agent;
use crate::kv::KvCommand;
use crate::state::LockChange;
use std::collections::{BTreeMap, BTreeSet};

/// Keys under lock-delay remembered at once. Past it the delay closest to its end is
/// forgotten first (an invalidation of more keys than this at once is the only way there).
pub const LOCK_DELAYS_MAX: usize = 65_536;

/// Until when (ms on this agent's clock) each key may not be locked again. `by_end` orders
/// the same delays by their end, so expired ones are pruned from its front and the soonest
/// is found at once when the table is full: each record and tick costs O(log n) per delay
/// it adds or drops, never a scan of the table.
#[derive(Clone, Debug, Default)]
pub(super) struct LockDelays {
    until_ms: BTreeMap<String, u64>,
    by_end: BTreeSet<(u64, String)>,
}

impl LockDelays {
    /// Records the delays that `changes`, applied at `now_ms`, start.
    pub(super) fn record(&mut self, changes: &[LockChange], now_ms: u64) {
        let mut delayed = changes.iter().filter(|c| c.delay_ns > 0).peekable();
        if delayed.peek().is_none() {
            return;
        }
        self.prune(now_ms);
        for change in delayed {
            let until_ms = now_ms + change.delay_ns.div_ceil(1_000_000);
            self.insert(&change.key, until_ms);
        }
    }

    fn insert(&mut self, key: &str, until_ms: u64) {
        let until_ms = match self.until_ms.get(key) {
            Some(&old) => {
                self.by_end.remove(&(old, key.to_string()));
                old.max(until_ms)
            }
            None => {
                if self.until_ms.len() >= LOCK_DELAYS_MAX {
                    let (_, soonest) = self.by_end.pop_first().expect("the table is full");
                    self.until_ms.remove(&soonest);
                }
                until_ms
            }
        };
        self.until_ms.insert(key.to_string(), until_ms);
        self.by_end.insert((until_ms, key.to_string()));
        assert!(self.until_ms.len() <= LOCK_DELAYS_MAX);
        debug_assert_eq!(self.until_ms.len(), self.by_end.len());
    }

    /// Until when `key` is under lock-delay, if it is at `now_ms`.
    pub(super) fn delayed_until(&self, key: &str, now_ms: u64) -> Option<u64> {
        self.until_ms
            .get(key)
            .copied()
            .filter(|until| *until > now_ms)
    }

    /// Forgets expired delays (called every tick: cheap, it looks only at expired ones).
    pub(super) fn prune_due(&mut self, now_ms: u64) {
        self.prune(now_ms);
    }

    fn prune(&mut self, now_ms: u64) {
        while let Some((until, _)) = self.by_end.first() {
            if *until > now_ms {
                break;
            }
            let (_, key) = self.by_end.pop_first().expect("looked at just now");
            self.until_ms.remove(&key);
        }
        debug_assert_eq!(self.until_ms.len(), self.by_end.len());
    }

    /// When `prune_due` next forgets a delay (the soonest end).
    pub(super) fn next_deadline_ms(&self) -> Option<u64> {
        self.by_end.first().map(|(until, _)| *until)
    }

    pub(super) fn clear(&mut self) {
        self.until_ms.clear();
        self.by_end.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.until_ms.len()
    }
}

impl Agent {
    /// The leader's answer to an acquire it must not propose: `false` while the key is under
    /// lock-delay (Consul's leader rejects it before the log, first), `invalid session` for
    /// a session it does not know (Consul's FSM error, a 400 here). `None`: propose it.
    pub(super) fn refusal_of_lock(&self, command: &KvCommand) -> Option<ApiResult> {
        let KvCommand::Lock { key, session, .. } = command else {
            return None;
        };
        if let Err(error) = self.check_caught_up("acquire") {
            return Some(Err(error));
        }
        if self.lock_delays.delayed_until(key, self.now_ms).is_some() {
            let index = self.raft.as_ref().map_or(0, |r| r.applied_index());
            return Some(Ok(Response::KvWritten {
                applied: false,
                index,
            }));
        }
        if self.state.sessions().get(session).is_none() {
            let why = format!("invalid session {session:?}");
            return Some(Err(ApiError::BadRequest(why)));
        }
        None
    }

    /// A leader that has not applied its own term's first entry may lack sessions, releases
    /// and lock-delays its predecessor committed: its checks of an acquire would judge an old
    /// state. 503 then (as a renew), and the client retries in a moment.
    pub(super) fn check_caught_up(&self, what: &str) -> Result<(), ApiError> {
        match self.caught_up_leader_term() {
            Some(_) => Ok(()),
            None => Err(ApiError::Unavailable(format!(
                "leader is catching up; retry the {what} shortly"
            ))),
        }
    }

    /// Keys under lock-delay now (for tests and the simulator's reports).
    pub fn lock_delays(&self) -> usize {
        self.lock_delays.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(key: &str, delay_ns: u64) -> LockChange {
        LockChange {
            key: key.into(),
            before: Some("s".into()),
            after: None,
            lock_index: 1,
            modify_index: 7,
            deleted: false,
            delay_ns,
        }
    }

    #[test]
    fn a_released_key_is_delayed_for_its_delay_only() {
        let mut delays = LockDelays::default();
        delays.record(&[released("a", 2_000_000_000), released("b", 0)], 1_000);
        assert_eq!(delays.delayed_until("a", 1_000), Some(3_000));
        assert_eq!(delays.delayed_until("a", 2_999), Some(3_000));
        assert_eq!(delays.delayed_until("a", 3_000), None, "over at its end");
        assert_eq!(delays.delayed_until("b", 1_000), None, "no delay, no entry");
        delays.prune_due(3_000);
        assert_eq!(delays.len(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_soonest_first() {
        let mut delays = LockDelays::default();
        for i in 0..LOCK_DELAYS_MAX as u64 {
            delays.insert(&format!("k{i}"), 10_000 + i);
        }
        delays.insert("new", 50_000);
        assert_eq!(delays.len(), LOCK_DELAYS_MAX);
        assert_eq!(delays.delayed_until("k0", 0), None, "the soonest went");
        assert_eq!(delays.delayed_until("new", 0), Some(50_000));
        assert_eq!(delays.delayed_until("k1", 0), Some(10_001));
    }

    /// A full table taking as many new keys again: each one evicts the soonest in
    /// O(log n) (a scan of the table per key took hours here), and a longer delay of a key
    /// already there moves its end.
    #[test]
    fn a_full_table_takes_new_keys_without_scanning_it() {
        let mut delays = LockDelays::default();
        let n = LOCK_DELAYS_MAX as u64;
        let batch: Vec<LockChange> = (0..n)
            .map(|i| released(&format!("old{i}"), (1_000 + i) * 1_000_000))
            .collect();
        delays.record(&batch, 0);
        assert_eq!(delays.len(), LOCK_DELAYS_MAX);
        for i in 0..n {
            delays.record(&[released(&format!("new{i}"), 200_000_000_000)], 10);
        }
        assert_eq!(delays.len(), LOCK_DELAYS_MAX);
        let last_old = format!("old{}", n - 1);
        assert_eq!(
            delays.delayed_until(&last_old, 10),
            None,
            "every old one evicted"
        );
        assert_eq!(
            delays.delayed_until(&format!("new{}", n - 1), 10),
            Some(200_010)
        );
        delays.record(&[released("new0", 300_000_000_000)], 20);
        assert_eq!(
            delays.delayed_until("new0", 20),
            Some(300_020),
            "moved later"
        );
        delays.prune_due(200_010);
        assert_eq!(delays.len(), 1, "only the moved one is left");
        assert_eq!(delays.by_end.len(), 1);
    }
}
