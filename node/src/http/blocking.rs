//! Blocking queries (`?index=N&wait=5m`): the HTTP side only turns the parameters into a
//! `Request::Watch`. The agent that answers the read holds it until what the read covers moved
//! past N, or the wait (plus jitter) ends (`concord_core::agent::watch`); a client agent
//! forwards it to a server, which holds it, instead of polling.

use crate::handle::NodeHandle;
use crate::metrics::GaugeGuard;
use concord_core::agent::watch::{WAIT_MS_DEFAULT, WAIT_MS_MAX};
use concord_core::agent::{ApiError, ApiResult, Request};
use std::time::Duration;

/// Consul's default and longest waits (the core's, as durations).
pub const WAIT_DEFAULT: Duration = Duration::from_millis(WAIT_MS_DEFAULT);
pub const WAIT_MAX: Duration = Duration::from_millis(WAIT_MS_MAX);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Answer once the response's index is past this.
    pub min_index: u64,
    pub wait: Duration,
}

/// Runs a read, blocking as asked.
pub async fn read_blocking(
    handle: &NodeHandle,
    request: Request,
    blocking: Option<Blocking>,
) -> ApiResult {
    let Some(blocking) = blocking else {
        return handle.request(request).await;
    };
    let kind = request.kind();
    let wait_ms = u64::try_from(blocking.wait.as_millis()).unwrap_or(WAIT_MS_MAX);
    let watch = Request::watch(request, blocking.min_index, wait_ms)
        .ok_or_else(|| ApiError::BadRequest(format!("?index cannot block a {kind} read")))?;
    // In flight until answered, or dropped with a client that went away.
    let _in_flight = GaugeGuard::hold(&handle.metrics().http.blocking_queries);
    handle.request(watch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_consuls() {
        assert_eq!(WAIT_DEFAULT, Duration::from_secs(300));
        assert_eq!(WAIT_MAX, Duration::from_secs(600));
    }
}
