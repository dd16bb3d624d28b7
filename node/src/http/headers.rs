//! Response helpers: JSON bodies and the `X-Consul-*` headers every read carries.

use super::errors::HttpError;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use concord_core::agent::{Consistency, QueryMeta};
use serde::Serialize;

pub const X_CONSUL_INDEX: HeaderName = HeaderName::from_static("x-consul-index");
pub const X_CONSUL_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-consul-knownleader");
pub const X_CONSUL_LAST_CONTACT: HeaderName = HeaderName::from_static("x-consul-lastcontact");
pub const X_CONSUL_EFFECTIVE_CONSISTENCY: HeaderName =
    HeaderName::from_static("x-consul-effective-consistency");

/// A 200 answer with `value` as JSON (indented for `?pretty`, as Consul does).
pub fn json<T: Serialize>(value: &T, pretty: bool) -> Response {
    let body = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: cannot encode the answer as JSON: {e}"),
        )
        .into_response(),
    }
}

/// Adds the read headers. X-Consul-Index is at least 1, as in Consul, so that a client that
/// blocks on the index it was given always blocks (index 0 would mean "do not block").
pub fn with_meta(mut response: Response, meta: &QueryMeta, consistency: Consistency) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONSUL_INDEX, HeaderValue::from(meta.index.max(1)));
    let known = if meta.known_leader { "true" } else { "false" };
    headers.insert(X_CONSUL_KNOWN_LEADER, HeaderValue::from_static(known));
    headers.insert(
        X_CONSUL_LAST_CONTACT,
        HeaderValue::from(meta.last_contact_ms),
    );
    headers.insert(
        X_CONSUL_EFFECTIVE_CONSISTENCY,
        HeaderValue::from_static(consistency_name(consistency)),
    );
    response
}

/// Consul's names for the read modes in X-Consul-Effective-Consistency.
fn consistency_name(consistency: Consistency) -> &'static str {
    match consistency {
        Consistency::Default => "leader",
        Consistency::Consistent => "consistent",
        Consistency::Stale => "stale",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_headers_are_set_and_index_is_at_least_one() {
        let meta = QueryMeta {
            index: 0,
            known_leader: false,
            last_contact_ms: 42,
        };
        let response = with_meta(
            StatusCode::NOT_FOUND.into_response(),
            &meta,
            Consistency::Stale,
        );
        let h = response.headers();
        assert_eq!(h[X_CONSUL_INDEX], "1");
        assert_eq!(h[X_CONSUL_KNOWN_LEADER], "false");
        assert_eq!(h[X_CONSUL_LAST_CONTACT], "42");
        assert_eq!(h[X_CONSUL_EFFECTIVE_CONSISTENCY], "stale");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn json_answers_are_typed() {
        let response = json(&vec!["a", "b"], false);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
