//! `/v1/session/*`: create, destroy and renew (PUT), and the blocking reads info, node and
//! list (GET), in Consul's shapes (`session_json`).

use super::blocking::read_blocking;
use super::errors::HttpError;
use super::headers::{json, with_meta};
use super::query::QueryParams;
use super::session_json::{create_spec, sessions_json};
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use concord_core::agent::{ApiError, Request, Response as ApiResponse, SessionRead};
use serde::Serialize;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/session/create", put(create))
        .route("/v1/session/destroy/{id}", put(destroy))
        .route("/v1/session/renew/{id}", put(renew))
        .route("/v1/session/info/{id}", get(info))
        .route("/v1/session/node/{node}", get(node))
        .route("/v1/session/list", get(list))
        // A wildcard never matches nothing: these say what is missing, as Consul does.
        .route("/v1/session/destroy/", put(missing_session))
        .route("/v1/session/renew/", put(missing_session))
        .route("/v1/session/info/", get(missing_session))
        .route("/v1/session/node/", get(missing_node))
}

fn answered(result: Result<Response, HttpError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn missing_session() -> Response {
    HttpError::bad_request("Missing session").into_response()
}

async fn missing_node() -> Response {
    HttpError::bad_request("Missing node name").into_response()
}

#[derive(Serialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

async fn create(State(handle): State<NodeHandle>, query: QueryParams, body: Bytes) -> Response {
    let result = async {
        query.check_datacenter(&handle.info().datacenter)?;
        let spec = create_spec(&body)?;
        match handle.request(Request::SessionCreate { spec }).await? {
            ApiResponse::SessionCreated { id } => Ok(json(&Created { id }, query.pretty())),
            other => Err(HttpError::unexpected("a session create", &other)),
        }
    };
    answered(result.await)
}

/// `true`, also for a session that does not exist (Consul's).
async fn destroy(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        query.check_datacenter(&handle.info().datacenter)?;
        match handle.request(Request::SessionDestroy { id }).await? {
            ApiResponse::KvWritten { .. } | ApiResponse::Done => Ok(json(&true, false)),
            other => Err(HttpError::unexpected("a session destroy", &other)),
        }
    };
    answered(result.await)
}

/// `[session]`, or 404 for a session that does not exist (any more): the Go api's
/// RenewPeriodic stops on it, py-consul raises NotFound.
async fn renew(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        query.check_datacenter(&handle.info().datacenter)?;
        let renewed = handle
            .request(Request::SessionRenew { id: id.clone() })
            .await;
        match renewed {
            Ok(ApiResponse::Sessions { sessions, .. }) if !sessions.is_empty() => {
                Ok(json(&sessions_json(&sessions), query.pretty()))
            }
            Ok(ApiResponse::Sessions { .. }) | Err(ApiError::NotFound(_)) => {
                Err(HttpError::not_found(format!("Session id '{id}' not found")))
            }
            Ok(other) => Err(HttpError::unexpected("a session renew", &other)),
            Err(e) => Err(e.into()),
        }
    };
    answered(result.await)
}

async fn info(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    answered(read(&handle, &query, SessionRead::Info(id)).await)
}

async fn node(
    State(handle): State<NodeHandle>,
    Path(node): Path<String>,
    query: QueryParams,
) -> Response {
    answered(read(&handle, &query, SessionRead::Node(node)).await)
}

async fn list(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    answered(read(&handle, &query, SessionRead::List).await)
}

/// Every session read: `?stale`/`?consistent` and `?index`/`?wait` as for KV; always a JSON
/// array (`[]` when nothing matches) with the `X-Consul-*` headers (py-consul requires
/// X-Consul-Index).
async fn read(
    handle: &NodeHandle,
    query: &QueryParams,
    read: SessionRead,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    let consistency = query.consistency()?;
    let blocking = query.blocking()?;
    let request = Request::Session { read, consistency };
    match read_blocking(handle, request, blocking).await? {
        ApiResponse::Sessions { sessions, meta } => {
            let answer = json(&sessions_json(&sessions), query.pretty());
            Ok(with_meta(answer, &meta, consistency))
        }
        other => Err(HttpError::unexpected("a session read", &other)),
    }
}
