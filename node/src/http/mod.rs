//! Concord's HTTP API: Consul's v1 HTTP API over a `NodeHandle`, so Consul's clients (curl
//! scripts, py-consul, the Go api package) work unchanged.
//!
//! One concern per file: `kv`/`kv_write`/`kv_json` (the KV store), `status`, `agent` and
//! `members`, `operator`; `query` (query-string flags, consistency, blocking parameters),
//! `blocking` (the blocking-query loop; durations are `concord_core::duration`), `headers` (JSON answers
//! and `X-Consul-*`), `errors` (status codes), `json_body` (case-insensitive request bodies),
//! `conns` (connection limits per client and in total); `catalog`/`health` (the catalog and
//! health endpoints) with `catalog_body` (register/deregister bodies) and `catalog_json`;
//! `agent_services`/`agent_checks` (the agent's own services and checks); `session` with
//! `session_json`, `txn` with `txn_json`, `snapshot` with `snapshot_archive` (the archive
//! format, also the CLI's).

mod agent;
mod agent_checks;
mod agent_services;
mod agent_stats;
mod blocking;
mod catalog;
mod catalog_body;
mod catalog_json;
pub mod conns;
mod errors;
pub mod extras;
mod headers;
mod health;
pub mod json_body;
mod kv;
mod kv_json;
mod kv_write;
mod members;
pub mod metrics;
mod monitor;
mod operator;
pub mod operator_autopilot;
mod query;
pub mod reload;
mod session;
mod session_json;
mod snapshot;
pub mod snapshot_archive;
mod status;
mod txn;
mod txn_json;
pub mod ui;

#[cfg(test)]
mod e2e_tests;

pub use conns::HttpConns;
pub use errors::HttpError;
pub use extras::HttpExtras;

use crate::config::HttpLimits;
use crate::handle::NodeHandle;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Instant;

/// Bodies are read up to this size. It is above the 512 KiB KV value limit on purpose: a
/// value somewhat over the limit is read whole, so the KV handler answers 413 naming its exact
/// size (and the client, done sending, reads that answer) instead of axum cutting it off.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// Every route of the API, over `handle`, with no extras (tests).
pub fn router(handle: NodeHandle) -> Router {
    router_with(handle, HttpExtras::default())
}

/// Every route of the API, over `handle`, with the optional pieces in `extras`.
pub fn router_with(handle: NodeHandle, extras: HttpExtras) -> Router {
    // Each optional piece merges its routes below (none yet).
    let _ = &extras;
    Router::new()
        .merge(ui::routes(extras.ui.clone()))
        .merge(kv::routes())
        .merge(catalog::routes())
        .merge(health::routes())
        .merge(status::routes())
        .merge(agent::routes())
        .merge(monitor::routes())
        .merge(reload::routes(extras.reload.clone()))
        .merge(agent_services::routes())
        .merge(agent_checks::routes())
        .merge(operator::routes())
        .merge(operator_autopilot::routes())
        .merge(session::routes())
        .merge(txn::routes())
        .merge(snapshot::routes())
        .merge(metrics::routes())
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn_with_state(
            handle.clone(),
            metrics::record_request,
        ))
        .with_state(handle)
}

/// Serves the API on `listener` with the default limits (tests; the agent uses `serve_with`).
pub async fn serve(listener: tokio::net::TcpListener, handle: NodeHandle) -> std::io::Result<()> {
    let conns = HttpConns::for_process(HttpLimits::default()).map_err(std::io::Error::other)?;
    serve_with(listener, handle, conns, HttpExtras::default()).await
}

/// Serves the API on `listener` until the node stops (after a graceful leave, or a fatal
/// error); requests in flight are finished first, and blocking queries end promptly because
/// the node's stop wakes them. Connections are admitted by `conns` (shared by every listener
/// of the agent), and a connection with no request for `idle_timeout_ms` is closed: hyper's
/// header-read timer runs whenever a connection waits for a request, idle keep-alive included.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    handle: NodeHandle,
    conns: Arc<HttpConns>,
    extras: HttpExtras,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "agent: started HTTP server");
    }
    let service = TowerToHyperService::new(router_with(handle.clone(), extras));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(conns.idle_timeout());
    let graceful = GracefulShutdown::new();
    let stopped = handle.stopped();
    tokio::pin!(stopped);
    loop {
        let (stream, from) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: let connections finish.
                    tracing::warn!("agent: HTTP accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let admitted = match conns.admit(from.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                tracing::debug!(%from, ?refusal, "agent.http: connection refused: limit reached");
                tokio::spawn(conns::refuse(stream, refusal));
                continue;
            }
        };
        let connection =
            graceful.watch(http1.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(%from, "agent.http: connection ended: {e}");
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn unknown_path(uri: Uri) -> Response {
    HttpError::not_found(format!("Unknown API path: {}", uri.path())).into_response()
}

/// Consul's wording; axum adds the `Allow` header listing the methods the path takes.
async fn method_not_allowed(method: Method) -> Response {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed"),
    )
    .into_response()
}

/// One debug line per request, like Consul's "Request finished" log.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        url = %uri,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "agent.http: request finished"
    );
    response
}
