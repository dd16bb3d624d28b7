//! Blocking queries (`?index=N&wait=5m`): answer once what the read covers changed past N, or
//! when the wait ends, whichever comes first.

use crate::handle::NodeHandle;
use concord_core::agent::{ApiResult, Request, Response};
use concord_core::membership::Role;
use std::time::{Duration, Instant};

/// Consul's default and longest waits.
pub const WAIT_DEFAULT: Duration = Duration::from_secs(5 * 60);
pub const WAIT_MAX: Duration = Duration::from_secs(10 * 60);
/// Consul adds up to wait/16 so that many clients blocked on one index do not all come back
/// (and re-query) at the same instant.
const JITTER_FRACTION: u32 = 16;
/// A client agent keeps no KV table, so its local KV index never moves: it re-asks the
/// servers this often instead.
const CLIENT_POLL_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Answer once the response's index is past this.
    pub min_index: u64,
    pub wait: Duration,
}

/// The X-Consul-Index a response carries, if it is a read.
pub fn response_index(response: &Response) -> Option<u64> {
    match response {
        Response::Kv { meta, .. } | Response::Keys { meta, .. } => Some(meta.index),
        _ => None,
    }
}

/// Runs a KV read, blocking as asked. Every write to the KV table wakes the wait, but the read
/// only returns early when its own index moved past `min_index` — that is, when the keys it
/// covers changed — so unrelated writes do not end a blocking query.
pub async fn read_blocking(
    handle: &NodeHandle,
    request: Request,
    blocking: Option<Blocking>,
) -> ApiResult {
    let Some(blocking) = blocking else {
        return handle.request(request).await;
    };
    let deadline = Instant::now() + blocking.wait + jitter(blocking.wait, blocking.min_index);
    loop {
        // Read the table index before asking, so a write landing in between wakes the wait
        // at once instead of being missed.
        let seen = handle.kv_index();
        let response = handle.request(request.clone()).await?;
        let changed = response_index(&response).is_none_or(|index| index > blocking.min_index);
        let now = Instant::now();
        if changed || now >= deadline {
            return Ok(response);
        }
        let mut step = deadline - now;
        if handle.info().role == Role::Client {
            step = step.min(CLIENT_POLL_INTERVAL);
        }
        handle.wait_kv_index_past(seen, step).await;
        if !handle.is_running() {
            // The agent stopped: one more request reports why, instead of waiting on.
            return handle.request(request).await;
        }
    }
}

/// Up to wait/16 extra, from a cheap source that differs between calls (the clock's
/// nanoseconds, mixed with the index); no cryptographic quality is needed.
fn jitter(wait: Duration, index: u64) -> Duration {
    let span_ms = (wait / JITTER_FRACTION).as_millis() as u64;
    if span_ms == 0 {
        return Duration::ZERO;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let mixed = (nanos ^ index).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    Duration::from_millis(mixed % span_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::QueryMeta;

    #[test]
    fn jitter_stays_under_a_sixteenth() {
        for index in 0..200 {
            assert!(jitter(WAIT_DEFAULT, index) < WAIT_DEFAULT / 16);
        }
        assert_eq!(jitter(Duration::from_millis(10), 5), Duration::ZERO);
    }

    #[test]
    fn only_reads_carry_an_index() {
        let meta = QueryMeta {
            index: 9,
            known_leader: true,
            last_contact_ms: 0,
        };
        let kv = Response::Kv {
            entries: vec![],
            meta: meta.clone(),
        };
        assert_eq!(response_index(&kv), Some(9));
        let keys = Response::Keys { keys: vec![], meta };
        assert_eq!(response_index(&keys), Some(9));
        assert_eq!(response_index(&Response::Done), None);
    }
}
