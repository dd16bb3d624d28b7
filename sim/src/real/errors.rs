//! An HTTP error answer back into the `ApiError` the node gave: the inverse of
//! `node/src/http/errors.rs` (status code and plain-text reason).

use concord_core::agent::ApiError;
use concord_core::kv::KvError;

/// The reasons of the 500s that name one `ApiError` (their `Display`).
fn internal(reason: &str) -> ApiError {
    let leadership_lost = ApiError::LeadershipLost.to_string();
    match reason {
        "No cluster leader" => ApiError::NoLeader,
        "No known Concord servers" => ApiError::NoServers,
        r if r == leadership_lost => ApiError::LeadershipLost,
        r => match r.strip_prefix("Failed to join: ") {
            Some(why) => ApiError::JoinFailed(why.to_string()),
            // Any other 500 (an unexpected answer, a refusal): the reason as the node wrote
            // it, so the history's refusal strings still match.
            None => ApiError::Unavailable(r.to_string()),
        },
    }
}

/// `status` with body `reason`, for a request whose answers are not 2xx.
pub fn api_error(status: u16, reason: &str) -> ApiError {
    match status {
        500 => internal(reason),
        504 => ApiError::Timeout,
        503 => ApiError::Unavailable(reason.to_string()),
        429 => {
            let why = reason
                .strip_prefix("rate limit exceeded: ")
                .unwrap_or(reason);
            ApiError::RateLimited(why.to_string())
        }
        413 => {
            kv_error(reason).map_or_else(|| ApiError::TooLarge(reason.to_string()), ApiError::Kv)
        }
        400 => {
            kv_error(reason).map_or_else(|| ApiError::BadRequest(reason.to_string()), ApiError::Kv)
        }
        404 => ApiError::NotFound(reason.to_string()),
        other => ApiError::Unavailable(format!("HTTP {other}: {reason}")),
    }
}

/// A `KvError` from its `Display`, when the reason is exactly one.
fn kv_error(reason: &str) -> Option<KvError> {
    if reason == KvError::EmptyKey.to_string() {
        return Some(KvError::EmptyKey);
    }
    let (size_bytes, size_bytes_max) = two_sizes(reason)?;
    let candidates = [
        KvError::ValueTooLarge {
            size_bytes,
            size_bytes_max,
        },
        KvError::KeyTooLarge {
            size_bytes,
            size_bytes_max,
        },
        KvError::SessionTooLong {
            size_bytes,
            size_bytes_max,
        },
    ];
    candidates.into_iter().find(|e| e.to_string() == reason)
}

/// The first two numbers of `text` (every KV size error names the size, then the bound).
fn two_sizes(text: &str) -> Option<(usize, usize)> {
    let mut numbers = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse::<usize>().ok());
    Some((numbers.next()?, numbers.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_keep_code_and_reason() {
        assert_eq!(
            api_error(418, "teapot"),
            ApiError::Unavailable("HTTP 418: teapot".into())
        );
        assert_eq!(
            api_error(500, "internal error: unexpected answer"),
            ApiError::Unavailable("internal error: unexpected answer".into())
        );
    }
}
