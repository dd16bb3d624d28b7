//! `/v1/agent/metrics`: this node's metrics in Consul's JSON shape, or with
//! `?format=prometheus` in the Prometheus text format (Consul answers that only when
//! `telemetry.prometheus_retention_time` is set; Concord always does). Also the request
//! middleware that times every HTTP request by route template, method and status.
//!
//! Figures read from the node (Raft status, members, checks, the process) are gathered when
//! scraped; the rest were counted as they happened (`crate::metrics`).

use super::headers::json;
use super::query::QueryParams;
use crate::handle::NodeHandle;
use crate::metrics::{consul_json, prometheus};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::local::{LocalAnswer, LocalRequest};
use concord_core::agent::{Request as ApiRequest, Response as ApiResponse};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `path` label of requests that matched no route (bounded: never the raw path).
pub const UNMATCHED_PATH: &str = "unmatched";

pub fn routes() -> Router<NodeHandle> {
    Router::new().route("/v1/agent/metrics", get(agent_metrics))
}

async fn agent_metrics(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    gather(&handle).await;
    let metrics = handle.metrics();
    if query.get("format") == Some("prometheus") {
        let mut response = prometheus::render(&metrics.entries()).into_response();
        let content_type = HeaderValue::from_static(prometheus::CONTENT_TYPE);
        response.headers_mut().insert(CONTENT_TYPE, content_type);
        return response;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let summary = consul_json::summary(&metrics.entries(), metrics.uptime_secs(), now);
    json(&summary, query.pretty())
}

/// Reads what is figured at scrape time. A node that does not answer (shutting down) leaves
/// its last figures in place.
async fn gather(handle: &NodeHandle) {
    let metrics = handle.metrics();
    metrics.record_raft_status(&handle.raft_status());
    if let Ok(ApiResponse::Members { members }) = handle.request(ApiRequest::Members).await {
        metrics.record_members(members.iter().map(|m| m.status));
    }
    let checks = handle
        .request(ApiRequest::Local(LocalRequest::Checks))
        .await;
    if let Ok(ApiResponse::Local {
        answer: LocalAnswer::Checks(checks),
    }) = checks
    {
        metrics.record_checks(checks.iter().map(|c| c.status));
    }
    metrics.record_process();
    metrics.record_overflow();
}

/// Times each request into `consul.api.http` by method, route template and status.
pub async fn record_request(
    State(handle): State<NodeHandle>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method().as_str());
    let path = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let path = path.as_ref().map_or(UNMATCHED_PATH, MatchedPath::as_str);
    let code = status_label(response.status().as_u16());
    let series = handle
        .metrics()
        .http
        .requests
        .with(&[method, path, code.as_str()]);
    series.observe_since(started);
    response
}

/// HTTP's methods by name; any other token a client sends is `other` (bounded).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// The status code as three digits, on the stack.
fn status_label(code: u16) -> StatusLabel {
    let code = code.min(999);
    let digits = [
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ];
    StatusLabel(digits)
}

struct StatusLabel([u8; 3]);

impl StatusLabel {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("000")
    }
}

/// Times a write into `timer` (`consul.kvs.apply` and its kin), however it ends.
pub async fn timed<T>(
    timer: &crate::metrics::Histogram,
    write: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let result = write.await;
    timer.observe_since(started);
    result
}

/// The KV operation's label in `consul.kvs.apply` (Consul's txn verbs).
pub fn kv_op(command: &concord_core::kv::KvCommand) -> &'static str {
    use concord_core::kv::KvCommand;
    match command {
        KvCommand::Set { .. } => "set",
        KvCommand::Cas { .. } => "cas",
        KvCommand::Delete { .. } => "delete",
        KvCommand::DeleteCas { .. } => "delete-cas",
        KvCommand::DeleteTree { .. } => "delete-tree",
        KvCommand::Lock { .. } => "lock",
        KvCommand::Unlock { .. } => "unlock",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_and_made_without_allocating() {
        assert_eq!(status_label(404).as_str(), "404");
        assert_eq!(status_label(200).as_str(), "200");
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
    }
}
