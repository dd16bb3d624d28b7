//! `GET /v1/agent/monitor?loglevel=<level>&logjson`: the agent's log lines as they occur, in
//! one chunked answer, at the asked level even when the agent logs at a less verbose one
//! (Consul's monitor). The lines come from the process's `LogStream`; the answer ends when
//! the node stops, and the monitor detaches when the client goes (hyper drops the body at
//! its next write).

use super::errors::HttpError;
use super::query::QueryParams;
use crate::handle::NodeHandle;
use crate::log_stream::{dropped_notice, LogLevel, LogStream, Monitor, MonitorItem};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use std::convert::Infallible;

pub fn routes() -> Router<NodeHandle> {
    Router::new().route("/v1/agent/monitor", get(monitor))
}

async fn monitor(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    // Consul's default, and its error for a name it does not know.
    let asked = query
        .get("loglevel")
        .filter(|l| !l.is_empty())
        .unwrap_or("INFO");
    let Ok(level) = LogLevel::parse(asked) else {
        return HttpError::bad_request(format!("Unknown log level: {asked}")).into_response();
    };
    let json = query.flag("logjson");
    let monitor = match LogStream::global().attach(level) {
        Ok(monitor) => monitor,
        Err(full) => {
            return HttpError::new(StatusCode::TOO_MANY_REQUESTS, full.to_string()).into_response()
        }
    };
    let lines =
        futures_util::stream::unfold((monitor, handle), move |(mut monitor, handle)| async move {
            let chunk = next_chunk(&mut monitor, &handle, json).await?;
            Some((Ok::<_, Infallible>(chunk), (monitor, handle)))
        });
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(lines),
    )
        .into_response()
}

/// The next piece of the answer; `None` (the end) once the node has stopped.
async fn next_chunk(monitor: &mut Monitor, handle: &NodeHandle, json: bool) -> Option<Bytes> {
    let item = tokio::select! {
        item = monitor.next() => item,
        _ = handle.stopped() => return None,
    };
    let text = match item {
        MonitorItem::Line(line) if json => line.json.clone(),
        MonitorItem::Line(line) => line.text.clone(),
        MonitorItem::Dropped(count) => dropped_notice(count),
    };
    Some(Bytes::from(text))
}
