//! The lock workload: a client keeps one session on the agent it talks to (as an application
//! keeps one on its local agent), acquires one of the lock keys with it, writes the fenced
//! resource with its token (the ModifyIndex the acquire applied at), holds the lock a while,
//! writes again, then releases it, destroys its session, or walks away. One hold in ten is a
//! paused holder: the process holding the lock stops for longer than twice its session's TTL
//! (its session is invalidated and the lock may go to someone else meanwhile), then writes
//! the resource with its old token as if nothing had happened, which the resource must turn
//! away if a newer holder wrote. It runs apart from the client (which goes on as a new
//! process with a new session), so that the loads after it contend for the lock meanwhile.
//!
//! Every request goes through the recorder, so the history holds them as sent and answered;
//! `checker/lock_holders.rs` judges mutual exclusion from the servers' lock journals, and
//! `checker/fencing.rs` the tokens against the grants.

use crate::load::Client;
use concord_core::agent::{ApiError, Request, Response};
use concord_core::kv::KvCommand;
use concord_core::session::{Behavior, SessionSpec};
use std::time::Duration;

/// Lock keys the workload contends on: few, so that acquisitions meet.
pub const LOCK_KEYS: u64 = 2;
/// Every lock key starts with it. The linearizability checker leaves these keys alone: a
/// session's invalidation writes them with no client operation to account for it.
pub const LOCK_KEY_PREFIX: &str = "lk";
/// The longest ordinary hold.
const HOLD_MS_MAX: u64 = 800;
/// A paused holder sleeps 2 x TTL plus this much (range, ms).
const PAUSE_BEYOND_TTL_MS: (u64, u64) = (1_000, 3_000);

/// The session a client holds its locks with.
#[derive(Clone, Debug)]
pub struct HeldSession {
    pub id: String,
    /// The agent it was created on (and is used through).
    pub target: usize,
    pub ttl_ms: u64,
    /// When it was created or last renewed (world ms).
    pub renewed_ms: u64,
}

/// A lock client's state between its steps.
#[derive(Clone, Debug, Default)]
pub struct LockState {
    pub session: Option<HeldSession>,
}

/// A lock key by number.
pub fn lock_key(n: u64) -> String {
    format!("{LOCK_KEY_PREFIX}{n}")
}

/// Whether `key` is a lock key (written by session invalidation too).
pub fn is_lock_key(key: &str) -> bool {
    key.starts_with(LOCK_KEY_PREFIX)
}

impl Client {
    /// One lock step: a session (new, or renewed when due), an acquire; on success a fenced
    /// write, a hold, a second fenced write, and the end of the hold.
    pub(crate) async fn lock_step(&mut self, target: usize, op: u64) {
        let Some(session) = self.ensure_session(target).await else {
            return;
        };
        let key = lock_key(self.rng.range(0, LOCK_KEYS));
        let (value, flags) = self.value(op, false);
        let command = KvCommand::Lock {
            key: key.clone(),
            value: value.clone(),
            flags,
            session: session.id.clone(),
        };
        let token = match self
            .call(session.target, Request::KvWrite { command })
            .await
        {
            Ok(Response::KvWritten {
                applied: true,
                index,
            }) => index,
            Err(ApiError::BadRequest(_) | ApiError::NotFound(_)) => {
                // The session is gone (invalidated): a new one next time.
                self.lock.session = None;
                return;
            }
            _ => return,
        };
        self.fenced_write(&key, token, &session.id);
        if self.rng.chance(1, 10) {
            return self.pause_holder(key, token, session);
        }
        self.hold(&session).await;
        self.fenced_write(&key, token, &session.id);
        self.end_hold(key, value, flags, session).await;
    }

    /// The client's session, renewed if half its TTL has passed; a new one if it has none or
    /// the renewal says it is gone.
    async fn ensure_session(&mut self, target: usize) -> Option<HeldSession> {
        if let Some(held) = self.lock.session.clone() {
            if self.recorder.now_ms() < held.renewed_ms + held.ttl_ms / 2 {
                return Some(held);
            }
            return self.renew(held).await;
        }
        let spec = self.session_spec();
        let ttl_ms = spec.ttl_ms.expect("load sessions have a TTL");
        let created_ms = self.recorder.now_ms();
        match self.call(target, Request::SessionCreate { spec }).await {
            Ok(Response::SessionCreated { id }) => {
                let held = HeldSession {
                    id,
                    target,
                    ttl_ms,
                    renewed_ms: created_ms,
                };
                self.lock.session = Some(held.clone());
                Some(held)
            }
            _ => None,
        }
    }

    /// Renews `held`: kept on success, dropped if the leader does not know it, kept for a
    /// later try on any other error (no leader, a timeout).
    async fn renew(&mut self, mut held: HeldSession) -> Option<HeldSession> {
        let sent_ms = self.recorder.now_ms();
        let request = Request::SessionRenew {
            id: held.id.clone(),
        };
        match self.call(held.target, request).await {
            Ok(Response::Sessions { sessions, .. }) if !sessions.is_empty() => {
                held.renewed_ms = sent_ms;
                self.lock.session = Some(held.clone());
                Some(held)
            }
            Ok(_) | Err(ApiError::NotFound(_)) => {
                self.lock.session = None;
                None
            }
            Err(_) => None,
        }
    }

    /// A session as an application would ask for it: the load's TTL and lock-delay, release
    /// (three in four) or delete behaviour, the default serfHealth check or none (one in four).
    fn session_spec(&mut self) -> SessionSpec {
        let ttl_ms = self.mix.session_ttl_ms;
        assert!(
            ttl_ms >= 1_000,
            "session TTLs are whole seconds: {ttl_ms} ms"
        );
        let behavior = match self.rng.chance(1, 4) {
            true => Behavior::Delete,
            false => Behavior::Release,
        };
        let mut spec = SessionSpec {
            name: format!("c{} lock", self.id),
            lock_delay_ns: self.mix.lock_delay_ms * 1_000_000,
            behavior,
            ttl: format!("{}s", ttl_ms / 1_000),
            ttl_ms: Some(ttl_ms),
            ..SessionSpec::default()
        };
        if self.rng.chance(1, 4) {
            spec.node_checks.clear();
        }
        spec
    }

    /// A holder stopped mid-hold (a stopped VM, a long GC pause) for 2 x TTL and more: it
    /// wakes and writes the resource with its old token, unaware. The client forgets the
    /// session and goes on as a new process would.
    fn pause_holder(&mut self, key: String, token: u64, held: HeldSession) {
        self.lock.session = None;
        let (low, high) = PAUSE_BEYOND_TTL_MS;
        let pause_ms = 2 * held.ttl_ms + self.rng.range(low, high);
        let (fencing, recorder, client) = (self.fencing.clone(), self.recorder.clone(), self.id);
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis(pause_ms)).await;
            let now_ms = recorder.now_ms();
            let mut resource = fencing.lock().expect("fencing lock");
            resource.write(&key, token, client, &held.id, now_ms);
        });
    }

    /// Holds the lock a short while, renewing the session if due.
    async fn hold(&mut self, held: &HeldSession) {
        let hold_ms = self.rng.range(0, HOLD_MS_MAX);
        madsim::time::sleep(Duration::from_millis(hold_ms)).await;
        if self.recorder.now_ms() >= held.renewed_ms + held.ttl_ms / 2 {
            let _ = self.renew(held.clone()).await;
        }
    }

    /// Releases (eight in ten), destroys the session (one in ten), or walks away (one in ten:
    /// the lock stays held until the session's TTL runs out).
    async fn end_hold(&mut self, key: String, value: Vec<u8>, flags: u64, held: HeldSession) {
        match self.rng.range(0, 10) {
            0..=7 => {
                let command = KvCommand::Unlock {
                    key,
                    value,
                    flags,
                    session: held.id,
                };
                let _ = self.call(held.target, Request::KvWrite { command }).await;
            }
            8 => {
                self.lock.session = None;
                let request = Request::SessionDestroy { id: held.id };
                let _ = self.call(held.target, request).await;
            }
            _ => {}
        }
    }

    /// A write to the fenced resource with `token` (accepted or turned away: both are fine;
    /// the checker judges what it accepted).
    fn fenced_write(&mut self, key: &str, token: u64, session: &str) {
        let now_ms = self.recorder.now_ms();
        let mut resource = self.fencing.lock().expect("fencing lock");
        resource.write(key, token, self.id, session, now_ms);
    }
}
