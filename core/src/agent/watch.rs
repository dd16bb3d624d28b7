//! Blocking reads (Consul's `?index=N&wait=D`), held by the server that answers the read.
//!
//! A `Request::Watch` reaches the place its read runs (a client agent forwards it like the read
//! itself). There, if what the read covers already moved past `index`, the read is served at
//! once; otherwise it is parked with a deadline of `wait` plus jitter. After each batch of
//! applied entries, parked reads whose table changed are looked at, and those whose own index
//! (`StateMachine::watch_index`) moved past theirs are released; at the deadline a read is
//! released whatever happened, and answered with the current data, as Consul does. A released
//! read is dispatched again as a plain read, so it is served wherever its consistency says.

use super::api::{ApiError, Consistency, Request, WatchRead};
use super::pending::Origin;
use super::Agent;
use crate::state::{TableId, WatchKey};
use std::collections::BTreeMap;

/// Consul's default wait (`default_query_time`, 5 minutes) and longest (`max_query_time`).
pub const WAIT_MS_DEFAULT: u64 = 5 * 60 * 1000;
pub const WAIT_MS_MAX: u64 = 10 * 60 * 1000;
/// Consul adds up to wait/16 so that watchers blocked on one index do not all come back (and
/// re-query) at the same instant.
pub const JITTER_FRACTION: u64 = 16;
/// Blocking reads parked on one server at once; more are refused (HTTP 429), since each
/// holds its request and its answer's destination for up to `WAIT_MS_MAX`.
pub const PARKED_READS_MAX: usize = 16_384;
/// Hops a released read is dispatched with: it already came at least one hop when remote,
/// and a release is never a reason to forward further than a plain read would go.
const RELEASE_HOPS: u8 = 1;

/// The wait a request asks for as Consul reads it: 0 means the default, more than the
/// maximum is cut to it.
pub fn effective_wait_ms(wait_ms: u64) -> u64 {
    match wait_ms {
        0 => WAIT_MS_DEFAULT,
        wait => wait.min(WAIT_MS_MAX),
    }
}

/// How long a watch may take before its answer comes, jitter included.
pub fn watch_duration_ms_max(wait_ms: u64) -> u64 {
    let wait = effective_wait_ms(wait_ms);
    wait + wait / JITTER_FRACTION
}

impl WatchRead {
    /// A read that can block, from the plain read; other requests come back unchanged.
    pub fn from_request(request: Request) -> Result<WatchRead, Box<Request>> {
        match request {
            Request::KvGet { key, consistency } => Ok(WatchRead::KvGet { key, consistency }),
            Request::KvList {
                prefix,
                consistency,
            } => Ok(WatchRead::KvList {
                prefix,
                consistency,
            }),
            Request::KvKeys {
                prefix,
                separator,
                consistency,
            } => Ok(WatchRead::KvKeys {
                prefix,
                separator,
                consistency,
            }),
            Request::Catalog { read, consistency } => Ok(WatchRead::Catalog { read, consistency }),
            Request::Session { read, consistency } => Ok(WatchRead::Session { read, consistency }),
            other => Err(Box::new(other)),
        }
    }

    /// The plain read, as served when the watch is released.
    pub fn into_request(self) -> Request {
        match self {
            WatchRead::KvGet { key, consistency } => Request::KvGet { key, consistency },
            WatchRead::KvList {
                prefix,
                consistency,
            } => Request::KvList {
                prefix,
                consistency,
            },
            WatchRead::KvKeys {
                prefix,
                separator,
                consistency,
            } => Request::KvKeys {
                prefix,
                separator,
                consistency,
            },
            WatchRead::Catalog { read, consistency } => Request::Catalog { read, consistency },
            WatchRead::Session { read, consistency } => Request::Session { read, consistency },
        }
    }

    /// What the read covers: its index moves when its answer may have changed. A key read
    /// watches the key as a prefix, as Consul does.
    pub fn key(&self) -> WatchKey {
        match self {
            WatchRead::KvGet { key, .. } => WatchKey::KvPrefix(key.clone()),
            WatchRead::KvList { prefix, .. } | WatchRead::KvKeys { prefix, .. } => {
                WatchKey::KvPrefix(prefix.clone())
            }
            WatchRead::Catalog { read, .. } => read.key(),
            // Consul's session endpoints all block on the sessions table's index.
            WatchRead::Session { .. } => WatchKey::Table(crate::state::TableId::Sessions),
        }
    }

    pub fn consistency(&self) -> Consistency {
        match self {
            WatchRead::KvGet { consistency, .. }
            | WatchRead::KvList { consistency, .. }
            | WatchRead::KvKeys { consistency, .. }
            | WatchRead::Catalog { consistency, .. }
            | WatchRead::Session { consistency, .. } => *consistency,
        }
    }
}

impl Request {
    /// `read` as a blocking query on `index` for `wait_ms`; `None` if it cannot block.
    pub fn watch(read: Request, index: u64, wait_ms: u64) -> Option<Request> {
        let read = WatchRead::from_request(read).ok()?;
        Some(Request::Watch {
            index,
            wait_ms,
            read,
        })
    }
}

#[derive(Clone, Debug)]
pub(super) struct Parked {
    origin: Origin,
    read: WatchRead,
    key: WatchKey,
    min_index: u64,
    deadline_ms: u64,
}

/// Reads waiting for a change, bounded by `parked_max`.
#[derive(Clone, Debug)]
pub(super) struct ParkedReads {
    next_id: u64,
    entries: BTreeMap<u64, Parked>,
    parked_max: usize,
}

impl ParkedReads {
    pub(super) fn new(parked_max: usize) -> ParkedReads {
        assert!(parked_max > 0, "parked_max must allow one read");
        ParkedReads {
            next_id: 0,
            entries: BTreeMap::new(),
            parked_max,
        }
    }

    /// Parks `parked`, or gives it back when the table is full.
    fn park(&mut self, parked: Parked) -> Result<(), Box<Parked>> {
        if self.entries.len() >= self.parked_max {
            return Err(Box::new(parked));
        }
        self.next_id += 1;
        self.entries.insert(self.next_id, parked);
        Ok(())
    }

    /// Removes and returns, in parking order, the reads `due` picks.
    fn take_where(&mut self, mut due: impl FnMut(&Parked) -> bool) -> Vec<Parked> {
        let ids: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, p)| due(p))
            .map(|(id, _)| *id)
            .collect();
        let taken: Vec<Parked> = ids
            .iter()
            .filter_map(|id| self.entries.remove(id))
            .collect();
        assert_eq!(taken.len(), ids.len(), "picked reads are parked");
        taken
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// When the first parked read's wait is over (`release_watches_due`).
    pub(super) fn next_deadline_ms(&self) -> Option<u64> {
        self.entries.values().map(|p| p.deadline_ms).min()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Agent {
    /// Serves `Request::Watch` on the agent that is the place of `read`.
    pub(super) fn watch(&mut self, origin: Origin, min_index: u64, wait_ms: u64, read: WatchRead) {
        let key = read.key();
        // Answers never carry index 0 (Consul forces 1), so a watcher may hold 1 for "empty".
        let current = self.state.watch_index(&key).max(1);
        if min_index == 0 || current > min_index {
            return self.dispatch(origin, read.into_request(), RELEASE_HOPS);
        }
        let wait = effective_wait_ms(wait_ms);
        let jitter = match wait / JITTER_FRACTION {
            0 => 0,
            span => self.rng.range(0, span),
        };
        let parked = Parked {
            origin,
            read,
            key,
            min_index,
            deadline_ms: self.now_ms + wait + jitter,
        };
        if let Err(refused) = self.parked_reads.park(parked) {
            self.stats.requests_refused_overload += 1;
            let why = format!("more than {PARKED_READS_MAX} blocking queries waiting");
            self.reply(refused.origin, Err(ApiError::RateLimited(why)));
        }
    }

    /// Releases parked reads whose watched index moved past theirs (after applying entries).
    pub(super) fn release_watches_changed(&mut self) {
        if self.parked_reads.is_empty() {
            return;
        }
        let state = &self.state;
        // The tables' own indexes first: a read on tables that did not move costs no scan.
        let changed = |p: &Parked| {
            let moved = |t: &TableId| state.table_index(*t) > p.min_index;
            p.key.tables().iter().any(moved) && state.watch_index(&p.key) > p.min_index
        };
        let released = self.parked_reads.take_where(changed);
        self.release(released);
    }

    /// Releases parked reads whose wait is over: answered with the current data.
    pub(super) fn release_watches_due(&mut self) {
        let now_ms = self.now_ms;
        let released = self.parked_reads.take_where(|p| p.deadline_ms <= now_ms);
        self.release(released);
    }

    /// Releases every parked read (a restore replaced the state): each reads it again.
    pub(super) fn release_all_watches(&mut self) {
        let released = self.parked_reads.take_where(|_| true);
        self.release(released);
    }

    fn release(&mut self, released: Vec<Parked>) {
        for parked in released {
            self.dispatch(parked.origin, parked.read.into_request(), RELEASE_HOPS);
        }
    }

    /// Blocking reads parked here now.
    pub fn parked_reads(&self) -> usize {
        self.parked_reads.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str) -> Request {
        Request::KvGet {
            key: key.into(),
            consistency: Consistency::Default,
        }
    }

    fn parked(deadline_ms: u64) -> Parked {
        Parked {
            origin: Origin::Local(1),
            read: WatchRead::from_request(get("a")).expect("a read"),
            key: WatchKey::KvPrefix("a".into()),
            min_index: 3,
            deadline_ms,
        }
    }

    #[test]
    fn waits_follow_consul() {
        assert_eq!(effective_wait_ms(0), WAIT_MS_DEFAULT);
        assert_eq!(effective_wait_ms(1_000), 1_000);
        assert_eq!(effective_wait_ms(3_600_000), WAIT_MS_MAX);
        assert_eq!(watch_duration_ms_max(1_600), 1_700);
    }

    #[test]
    fn only_reads_with_an_index_can_block() {
        let read = WatchRead::from_request(get("a/b")).expect("a read");
        assert_eq!(read.key(), WatchKey::KvPrefix("a/b".into()));
        let keys = Request::KvKeys {
            prefix: "p/".into(),
            separator: Some("/".into()),
            consistency: Consistency::Stale,
        };
        let read = WatchRead::from_request(keys.clone()).expect("a read");
        assert_eq!(read.key(), WatchKey::KvPrefix("p/".into()));
        assert_eq!(read.consistency(), Consistency::Stale);
        assert_eq!(read.into_request(), keys, "round trip");
        assert!(Request::watch(Request::Members, 3, 0).is_none());
        assert!(Request::watch(Request::StatusLeader, 3, 0).is_none());
    }

    #[test]
    fn the_parked_table_is_bounded_and_releases_in_order() {
        let mut table = ParkedReads::new(2);
        assert!(table.park(parked(30)).is_ok());
        assert!(table.park(parked(10)).is_ok());
        assert!(table.park(parked(20)).is_err(), "third read over the bound");
        let due = table.take_where(|p| p.deadline_ms <= 30);
        let deadlines: Vec<u64> = due.iter().map(|p| p.deadline_ms).collect();
        assert_eq!(deadlines, [30, 10], "parking order");
        assert_eq!(table.len(), 0);
    }
}
