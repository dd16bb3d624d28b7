//! Errors as Consul's HTTP API reports them: a status code and a plain-text reason.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use concord_core::agent::{ApiError, Response as ApiResponse};
use concord_core::kv::KvError;

/// Every failed request ends here: the status code and the reason the client sees as the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: StatusCode,
    pub reason: String,
}

impl HttpError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> HttpError {
        HttpError {
            status,
            reason: reason.into(),
        }
    }

    pub fn bad_request(reason: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, reason)
    }

    /// The node answered a request with a response of another kind: a bug, not the client's
    /// fault, so it is reported as such rather than hidden behind a generic message.
    pub fn unexpected(what: &str, response: &ApiResponse) -> HttpError {
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: unexpected answer to {what}: {response:?}"),
        )
    }
}

/// Consul answers most RPC failures with 500 and the error text; we keep that, but use a more
/// telling code where one exists (413 for size limits, 504 for timeouts, 503 when the agent
/// cannot take requests) since every Consul client treats any non-2xx as an error anyway.
pub fn status_of(error: &ApiError) -> StatusCode {
    match error {
        ApiError::NoLeader | ApiError::NoServers | ApiError::LeadershipLost => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ApiError::JoinFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ApiError::Kv(KvError::ValueTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::Kv(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
    }
}

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> HttpError {
        HttpError::new(status_of(&error), error.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.reason,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(error: ApiError) -> (u16, String) {
        let e = HttpError::from(error);
        (e.status.as_u16(), e.reason)
    }

    #[test]
    fn api_errors_map_to_consul_codes_and_reasons() {
        assert_eq!(
            mapped(ApiError::NoLeader),
            (500, "No cluster leader".into())
        );
        assert_eq!(mapped(ApiError::NoServers).0, 500);
        assert_eq!(mapped(ApiError::LeadershipLost).0, 500);
        assert_eq!(mapped(ApiError::JoinFailed("refused".into())).0, 500);
        assert_eq!(mapped(ApiError::Timeout).0, 504);
        assert_eq!(
            mapped(ApiError::Unavailable("agent is shutting down".into())).0,
            503
        );
        assert_eq!(
            mapped(ApiError::NotFound("No failed node".into())),
            (404, "No failed node".into())
        );
        assert_eq!(mapped(ApiError::BadRequest("x".into())).0, 400);
        assert_eq!(
            mapped(ApiError::RateLimited("queue full".into())),
            (429, "rate limit exceeded: queue full".into())
        );
        assert_eq!(
            mapped(ApiError::TooLarge("snapshot of 9 bytes".into())),
            (413, "snapshot of 9 bytes".into())
        );
        assert_eq!(
            mapped(ApiError::Kv(KvError::EmptyKey)),
            (400, "Missing key name".into())
        );
        let too_long = KvError::KeyTooLarge {
            size_bytes: 9000,
            size_bytes_max: 8192,
        };
        assert_eq!(mapped(ApiError::Kv(too_long)).0, 400);
    }

    #[test]
    fn value_too_large_is_413_naming_size_and_limit() {
        let (code, reason) = mapped(ApiError::Kv(KvError::ValueTooLarge {
            size_bytes: 600_000,
            size_bytes_max: 524_288,
        }));
        assert_eq!(code, 413);
        assert!(
            reason.contains("600000") && reason.contains("524288"),
            "{reason}"
        );
    }

    #[test]
    fn error_body_is_plain_text() {
        let response = HttpError::bad_request("nope").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let content_type = response.headers().get(header::CONTENT_TYPE).unwrap();
        assert!(content_type.to_str().unwrap().starts_with("text/plain"));
    }
}
