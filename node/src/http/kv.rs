//! `/v1/kv/{key}`: the routes, and reads (`GET`, with `?recurse`, `?keys`, `?raw`, blocking).

use super::blocking::{read_blocking, Blocking};
use super::errors::HttpError;
use super::headers::{json, with_meta};
use super::kv_json::entries_json;
use super::kv_write::{delete_key, delete_root, put_key, put_root};
use super::query::QueryParams;
use crate::handle::NodeHandle;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::{Consistency, Request, Response as ApiResponse};
use concord_core::kv::KvEntry;

/// The key is everything after `/v1/kv/`, slashes included. `/v1/kv/` (empty key) is its own
/// route because a wildcard never matches nothing; it serves `?recurse` and `?keys` over the
/// whole store and `DELETE ?recurse` of everything, as in Consul.
pub fn routes() -> Router<NodeHandle> {
    let root = || get(get_root).put(put_root).delete(delete_root);
    Router::new()
        .route("/v1/kv", root())
        .route("/v1/kv/", root())
        .route(
            "/v1/kv/{*key}",
            get(get_key).put(put_key).delete(delete_key),
        )
}

async fn get_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    query: QueryParams,
) -> Response {
    read(&handle, key, &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn get_root(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    read(&handle, String::new(), &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn read(
    handle: &NodeHandle,
    key: String,
    query: &QueryParams,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    let consistency = query.consistency()?;
    let blocking = query.blocking()?;
    if query.flag("keys") {
        return read_keys(handle, key, query, consistency, blocking).await;
    }
    let recurse = query.flag("recurse");
    if !recurse && key.is_empty() {
        return Err(HttpError::bad_request("Missing key name"));
    }
    let request = if recurse {
        Request::KvList {
            prefix: key,
            consistency,
        }
    } else {
        Request::KvGet { key, consistency }
    };
    match read_blocking(handle, request, blocking).await? {
        ApiResponse::Kv { entries, meta } => {
            let raw = query.flag("raw") && !recurse;
            let answer = entries_answer(&entries, raw, query.pretty());
            Ok(with_meta(answer, &meta, consistency))
        }
        other => Err(HttpError::unexpected("a KV read", &other)),
    }
}

/// `?keys`: the key names under the prefix, up to the first `?separator=` after it. Consul
/// still honours its old misspelling `?seperator=`.
async fn read_keys(
    handle: &NodeHandle,
    prefix: String,
    query: &QueryParams,
    consistency: Consistency,
    blocking: Option<Blocking>,
) -> Result<Response, HttpError> {
    let separator = query
        .get("separator")
        .or_else(|| query.get("seperator"))
        .filter(|s| !s.is_empty())
        .map(String::from);
    let request = Request::KvKeys {
        prefix: prefix.clone(),
        separator,
        consistency,
    };
    match read_blocking(handle, request, blocking).await? {
        ApiResponse::Keys { keys, meta } => {
            // Consul answers an empty list for the root but 404 for an empty prefix.
            let answer = if keys.is_empty() && !prefix.is_empty() {
                StatusCode::NOT_FOUND.into_response()
            } else {
                json(&keys, query.pretty())
            };
            Ok(with_meta(answer, &meta, consistency))
        }
        other => Err(HttpError::unexpected("a KV keys read", &other)),
    }
}

/// 404 with an empty body when nothing matched; the raw value for `?raw`; else the entries.
fn entries_answer(entries: &[KvEntry], raw: bool, pretty: bool) -> Response {
    match entries.first() {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(entry) if raw => raw_value(&entry.value),
        Some(_) => json(&entries_json(entries), pretty),
    }
}

/// A stored value as the body. The headers are Consul's guard against a browser running
/// a malicious value as a page: no content sniffing, and a sandbox if it is shown anyway.
fn raw_value(value: &[u8]) -> Response {
    let mut response = value.to_vec().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &[u8]) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.to_vec(),
            flags: 0,
            create_index: 3,
            modify_index: 3,
            lock_index: 0,
            session: None,
        }
    }

    #[test]
    fn nothing_found_is_404_with_an_empty_body() {
        let response = entries_answer(&[], false, false);
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn raw_answers_are_plain_text_and_sandboxed() {
        let response = entries_answer(&[entry("a", b"<script>")], true, false);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    }

    #[test]
    fn entries_are_json() {
        let response = entries_answer(&[entry("a", b"1"), entry("b", b"2")], false, false);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
