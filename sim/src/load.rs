//! Background client load: several clients, each a task issuing random KV operations to
//! random agents while faults happen, every operation recorded for the checkers.
//!
//! Every client sets, deletes and reads (consistent and stale); a `LoadMix` adds, with the
//! percentages a schedule gives: read-then-cas writes (a read, then a cas with the ModifyIndex
//! it saw, so both outcomes occur), read-then-delete-cas, recursive deletes (of every load key
//! at once, or of a prefix naming one key), and values up to the 512 KiB maximum. Every write
//! carries flags, which the checkers compare on read as part of the value. With `svc%`, that
//! share of a client's operations are an agent's own services instead (`services.rs`):
//! registrations with a TTL check, TTL updates and deregistrations on the agent the client
//! talks to, which anti-entropy carries to the catalog (`checker/catalog_synced.rs`). With
//! `lock%` and `txn%`, that share are coordination steps instead: a lock held under a session
//! and fenced on a resource (`locks.rs`, `fencing.rs`), or a transaction over `t0..t2`
//! (`txn_load.rs`).

use crate::fencing::SharedResource;
use crate::history::Recorder;
use crate::locks::LockState;
use crate::services;
use crate::world::Handle;
use crate::world::World;
use concord_core::agent::{ApiResult, Consistency, Request, Response};
use concord_core::catalog::CheckStatus;
use concord_core::kv::{KvCommand, VALUE_SIZE_BYTES_MAX};
use concord_core::rng::Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keys the load writes and reads: few, so that operations contend.
pub const LOAD_KEYS: u64 = 4;
/// Every load key starts with it: a recursive delete of it deletes them all.
pub const LOAD_KEY_PREFIX: &str = "k";
/// The smallest large value; half of the large values are exactly the maximum.
pub const LARGE_VALUE_BYTES_MIN: usize = 64 * 1024;
/// Service names the load registers: few, so that registrations, updates and
/// deregistrations of one service meet on one agent.
pub const LOAD_SERVICES: [&str; 3] = ["web", "api", "db"];
/// TTLs of the load's checks: some expire within a step (the agent turns them critical by
/// itself, and syncs that), some outlive the run.
const LOAD_TTLS_MS: [u64; 4] = [500, 2_000, 10_000, 600_000];

type Slot = Arc<Mutex<Option<Handle>>>;

/// Percentages of a client's operations beyond set, delete and get (all 0: the original load).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadMix {
    /// Read a key, then cas it with the ModifyIndex seen (0 if absent).
    pub cas_percent: u64,
    /// Read a key, then delete it with a cas on the ModifyIndex seen.
    pub delete_cas_percent: u64,
    /// Delete a prefix recursively.
    pub tree_percent: u64,
    /// Of the plain sets: those whose value is large (up to `VALUE_SIZE_BYTES_MAX`).
    pub large_percent: u64,
    /// Of all operations, drawn first: an agent's own service registered, updated or removed.
    pub service_percent: u64,
    /// Of all operations, drawn after services: a lock acquired, held and released (`locks.rs`).
    pub lock_percent: u64,
    /// Of all operations, drawn with locks: a transaction over the txn keys (`txn_load.rs`).
    pub txn_percent: u64,
    /// The lock-delay of the lock clients' sessions.
    pub lock_delay_ms: u64,
    /// The TTL of the lock clients' sessions.
    pub session_ttl_ms: u64,
}

impl LoadMix {
    /// The `load-start` settings that set each field (`session-ttl-s` in seconds).
    pub const SETTINGS: [&'static str; 9] = [
        "cas%",
        "delete-cas%",
        "tree%",
        "large%",
        "svc%",
        "lock%",
        "txn%",
        "lock-delay-ms",
        "session-ttl-s",
    ];

    fn extra_percent(&self) -> u64 {
        self.cas_percent + self.delete_cas_percent + self.tree_percent
    }

    /// Lock and transaction steps together (0: no draw for them, as before they existed).
    pub fn coordination_percent(&self) -> u64 {
        self.lock_percent + self.txn_percent
    }
}

/// Clients running in the background; `wait` joins them.
#[derive(Default)]
pub struct Load {
    tasks: Vec<madsim::task::JoinHandle<()>>,
}

impl Load {
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl World {
    /// Starts `clients` clients doing `ops` operations each, in the background.
    pub fn start_load(&mut self, clients: u64, ops: u64, mix: LoadMix) -> Load {
        assert!(mix.extra_percent() <= 100, "load mix over 100%: {mix:?}");
        assert!(
            mix.coordination_percent() <= 100,
            "load mix over 100%: {mix:?}"
        );
        if mix.lock_percent > 0 {
            // What `check-locks` must wait for: a lock abandoned by a client of this load.
            let bound_ms = 2 * mix.session_ttl_ms + mix.lock_delay_ms;
            self.lock_bound_ms = self.lock_bound_ms.max(bound_ms);
        }
        let targets: Vec<(String, Slot)> = self
            .nodes
            .values()
            .map(|n| (n.name.clone(), n.handle.clone()))
            .collect();
        let mut load = Load::default();
        for _ in 0..clients {
            self.next_client += 1;
            let client = Client {
                id: self.next_client,
                rng: Rng::new(self.rng.next_u64()),
                recorder: self.recorder.clone(),
                mix,
                targets: targets.clone(),
                lock: LockState::default(),
                fencing: self.fencing.clone(),
            };
            load.tasks.push(madsim::task::spawn(client.run(ops)));
        }
        load
    }
}

pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) rng: Rng,
    pub(crate) recorder: Recorder,
    pub(crate) mix: LoadMix,
    targets: Vec<(String, Slot)>,
    /// The session this client holds locks with (`locks.rs`).
    pub(crate) lock: LockState,
    pub(crate) fencing: SharedResource,
}

/// One step of a client: a single request, a read followed by a conditional write, or a
/// coordination step of several requests.
enum Step {
    One(Request),
    ReadThenCas { key: String, delete: bool },
    Lock,
    Txn,
}

impl Client {
    async fn run(mut self, ops: u64) {
        for op in 0..ops {
            // The target first, then the operation: the original load's order of draws.
            let target = self.pick_target();
            match self.next_step(op) {
                Step::One(request) => {
                    self.send(target, request).await;
                }
                Step::ReadThenCas { key, delete } => {
                    self.read_then_cas(target, op, key, delete).await
                }
                Step::Lock => self.lock_step(target, op).await,
                Step::Txn => self.txn_step(target, op).await,
            }
            madsim::time::sleep(Duration::from_millis(self.rng.range(0, 30))).await;
        }
    }

    pub(crate) fn pick_target(&mut self) -> usize {
        self.rng.range(0, self.targets.len() as u64) as usize
    }

    /// Sends `request` to agent number `target`, recorded in the history.
    pub(crate) async fn send(&mut self, target: usize, request: Request) -> Option<Response> {
        self.call(target, request).await.ok()
    }

    /// As `send`, with the error.
    pub(crate) async fn call(&mut self, target: usize, request: Request) -> ApiResult {
        let (name, slot) = &self.targets[target];
        let handle = slot.lock().expect("slot").clone();
        self.recorder.call(self.id, name, handle, request).await
    }

    /// Reads `key` (mostly consistent, sometimes stale, so some cas are rejected), then writes
    /// or deletes it only if its ModifyIndex is still the one seen (0 if absent or unknown).
    async fn read_then_cas(&mut self, target: usize, op: u64, key: String, delete: bool) {
        let consistency = if self.rng.chance(3, 4) {
            Consistency::Consistent
        } else {
            Consistency::Stale
        };
        let read = Request::KvGet {
            key: key.clone(),
            consistency,
        };
        let modify_index = match self.send(target, read).await {
            Some(Response::Kv { entries, .. }) => entries.first().map_or(0, |e| e.modify_index),
            _ => 0,
        };
        let command = if delete {
            KvCommand::DeleteCas { key, modify_index }
        } else {
            let (value, flags) = self.value(op, false);
            KvCommand::Cas {
                key,
                value,
                flags,
                modify_index,
            }
        };
        let target = self.pick_target();
        self.send(target, Request::KvWrite { command }).await;
    }

    /// Writes carry values unique in the whole run, so that a read names the write it saw;
    /// with `large`, padded to a large size (half the time exactly the maximum).
    pub(crate) fn value(&mut self, op: u64, large: bool) -> (Vec<u8>, u64) {
        let mut value = format!("c{}-{op}", self.id).into_bytes();
        if large {
            let size = if self.rng.chance(1, 2) {
                VALUE_SIZE_BYTES_MAX
            } else {
                self.rng
                    .range(LARGE_VALUE_BYTES_MIN as u64, VALUE_SIZE_BYTES_MAX as u64)
                    as usize
            };
            value.resize(size, b'.');
        }
        // Flags derived from the writer, so a read that returns another write's flags (or
        // none) is a different value to the checker.
        let flags = (self.id << 32) | op;
        (value, flags)
    }

    fn next_step(&mut self, op: u64) -> Step {
        // Drawn only when the mix has services, so that other seeds keep their draws.
        if self.mix.service_percent > 0 && self.rng.chance(self.mix.service_percent, 100) {
            return Step::One(self.service_request());
        }
        // Drawn only when the mix has locks or transactions, so that other seeds keep theirs.
        if self.mix.coordination_percent() > 0 {
            let draw = self.rng.range(0, 100);
            if draw < self.mix.lock_percent {
                return Step::Lock;
            }
            if draw < self.mix.coordination_percent() {
                return Step::Txn;
            }
        }
        if self.mix.extra_percent() > 0 {
            let draw = self.rng.range(0, 100);
            let key = format!("{LOAD_KEY_PREFIX}{}", self.rng.range(0, LOAD_KEYS));
            let (cas, delete_cas) = (self.mix.cas_percent, self.mix.delete_cas_percent);
            if draw < cas {
                return Step::ReadThenCas { key, delete: false };
            }
            if draw < cas + delete_cas {
                return Step::ReadThenCas { key, delete: true };
            }
            if draw < self.mix.extra_percent() {
                // All the load keys at once, or a prefix that is one whole key.
                let prefix = match self.rng.chance(1, 2) {
                    true => LOAD_KEY_PREFIX.to_string(),
                    false => key,
                };
                let command = KvCommand::DeleteTree { prefix };
                return Step::One(Request::KvWrite { command });
            }
        }
        Step::One(self.next_request(op))
    }

    /// A registration (half of them with a TTL check), a TTL update of the service's check
    /// (which the agent refuses if the service has none: refusals are part of the load), or
    /// a deregistration.
    fn service_request(&mut self) -> Request {
        let pick = |rng: &mut Rng, n: usize| rng.range(0, n as u64) as usize;
        let name = LOAD_SERVICES[pick(&mut self.rng, LOAD_SERVICES.len())];
        match self.rng.range(0, 10) {
            0..=3 => {
                let ttl_ms = LOAD_TTLS_MS[pick(&mut self.rng, LOAD_TTLS_MS.len())];
                let ttl_ms = self.rng.chance(1, 2).then_some(ttl_ms);
                let port = 8000 + self.rng.range(0, 3) as u16;
                services::register(name, name, port, ttl_ms)
            }
            4..=8 => {
                let statuses = CheckStatus::ALL;
                let status = statuses[pick(&mut self.rng, statuses.len())];
                services::ttl_update(&services::ttl_check_id(name), status)
            }
            _ => services::deregister(name),
        }
    }

    fn next_request(&mut self, op: u64) -> Request {
        let key = format!("{LOAD_KEY_PREFIX}{}", self.rng.range(0, LOAD_KEYS));
        match self.rng.range(0, 20) {
            0..=8 => {
                let large =
                    self.mix.large_percent > 0 && self.rng.chance(self.mix.large_percent, 100);
                let (value, flags) = self.value(op, large);
                Request::KvWrite {
                    command: KvCommand::Set { key, value, flags },
                }
            }
            9 => Request::KvWrite {
                command: KvCommand::Delete { key },
            },
            10..=17 => Request::KvGet {
                key,
                consistency: Consistency::Consistent,
            },
            _ => Request::KvGet {
                key,
                consistency: Consistency::Stale,
            },
        }
    }
}
