//! Blocking queries from the CLI (`concord lock`, `concord watch`): `?index=N&wait=D` reads and
//! Consul's rules for the index to wait on next.

use crate::http_client::{Client, HttpError, Reply};
use concord_core::duration::format_go_duration;
use std::time::Duration;

/// One blocking read of `path`: `extra` query parameters plus `index` (when > 0) and `wait`.
/// The reply is returned whatever its status; its `X-Consul-Index` is the next index.
pub fn blocking_get(
    client: &Client,
    path: &str,
    extra: &[(&str, &str)],
    index: u64,
    wait: Duration,
) -> Result<Reply, HttpError> {
    let index_text = index.to_string();
    // Whole milliseconds, at least one: `wait=0s` would mean the server's default (minutes).
    let wait_ms = wait.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
    let wait_text = format_go_duration(Duration::from_millis(wait_ms));
    let mut query: Vec<(&str, &str)> = extra.to_vec();
    if index > 0 {
        query.push(("index", &index_text));
        query.push(("wait", &wait_text));
    }
    client.get(path, &query)
}

/// The index to wait on after a read answered `new` when we waited on `previous`: Consul's
/// rules for blocking clients. An index that went backwards (a restore, a new cluster behind
/// the same address) resets the wait to 0, which reads at once; 0 itself becomes 1, so the next
/// read still blocks instead of spinning.
pub fn next_index(previous: u64, new: u64) -> u64 {
    if new < previous {
        return 0;
    }
    new.max(1)
}

/// Whether an error is worth retrying (Go's `api.IsRetryableError`): the agent could not be
/// reached, or answered with a server error.
pub fn is_retryable(error: &HttpError) -> bool {
    match error {
        HttpError::Connect { .. } => true,
        HttpError::Status { code, .. } => *code >= 500,
        HttpError::Other(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_resets_when_it_goes_backwards_and_is_never_zero_after_a_read() {
        assert_eq!(next_index(0, 7), 7);
        assert_eq!(next_index(7, 9), 9);
        assert_eq!(next_index(9, 9), 9);
        assert_eq!(next_index(9, 3), 0, "went backwards: read again at once");
        assert_eq!(next_index(0, 0), 1, "0 would never block");
    }

    #[test]
    fn connection_and_server_errors_are_retried_others_not() {
        let connect = HttpError::Connect {
            method: "Get".into(),
            url: "u".into(),
            addr: "a".into(),
            detail: "connection refused".into(),
        };
        assert!(is_retryable(&connect));
        let status = |code| HttpError::Status {
            code,
            body: String::new(),
        };
        assert!(is_retryable(&status(500)));
        assert!(!is_retryable(&status(403)));
        assert!(!is_retryable(&HttpError::Other("bad json".into())));
    }
}
