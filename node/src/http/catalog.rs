//! `/v1/catalog/*`: register and deregister (answering Consul's `true`), and the blocking
//! reads of services, instances and nodes. `read_catalog` is the read path `health` shares.

use super::blocking::read_blocking;
use super::catalog_body::{decode, deregistration, registration, DeregisterBody, RegisterBody};
use super::catalog_json::{catalog_service_json, node_json, node_services_json};
use super::errors::HttpError;
use super::headers::{json, with_meta};
use super::query::{check_datacenter, QueryParams};
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use concord_core::agent::{CatalogAnswer, CatalogRead, Request, Response as ApiResponse};
use concord_core::catalog::CatalogCommand;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/catalog/register", put(register))
        .route("/v1/catalog/deregister", put(deregister))
        .route("/v1/catalog/datacenters", get(datacenters))
        .route("/v1/catalog/services", get(services))
        .route("/v1/catalog/service/", get(missing_service))
        .route("/v1/catalog/service/{name}", get(service))
        .route("/v1/catalog/nodes", get(nodes))
        .route("/v1/catalog/node/{node}", get(node))
}

/// Every catalog and health read: `?dc`, `?stale`/`?consistent` and `?index`/`?wait` as
/// for KV; the answer with the `X-Consul-*` headers, as `to_json` writes it.
pub async fn read_catalog(
    handle: &NodeHandle,
    query: &QueryParams,
    read: CatalogRead,
    to_json: impl FnOnce(CatalogAnswer) -> Result<Response, HttpError>,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    let consistency = query.consistency()?;
    let blocking = query.blocking()?;
    let kind = read.kind();
    match read_blocking(handle, Request::Catalog { read, consistency }, blocking).await? {
        ApiResponse::Catalog { answer, meta } => {
            Ok(with_meta(to_json(answer)?, &meta, consistency))
        }
        other => Err(HttpError::unexpected(kind, &other)),
    }
}

/// The read's answer was of another kind than asked: a bug, reported as such.
pub fn wrong_answer(answer: &CatalogAnswer) -> HttpError {
    HttpError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("internal error: unexpected catalog answer {answer:?}"),
    )
}

fn answered(result: Result<Response, HttpError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn register(State(handle): State<NodeHandle>, query: QueryParams, body: Bytes) -> Response {
    answered(register_body(&handle, &query, &body).await)
}

async fn register_body(
    handle: &NodeHandle,
    query: &QueryParams,
    body: &[u8],
) -> Result<Response, HttpError> {
    let ours = &handle.info().datacenter;
    query.check_datacenter(ours)?;
    let body: RegisterBody = decode(body)?;
    check_datacenter(&body.datacenter, ours)?;
    let reg = registration(body, ours)?;
    write(handle, CatalogCommand::Register(Box::new(reg))).await
}

async fn deregister(State(handle): State<NodeHandle>, query: QueryParams, body: Bytes) -> Response {
    let result = async {
        let ours = &handle.info().datacenter;
        query.check_datacenter(ours)?;
        let body: DeregisterBody = decode(&body)?;
        check_datacenter(&body.datacenter, ours)?;
        write(&handle, deregistration(body)).await
    };
    answered(result.await)
}

/// Consul answers `true`. A write the state refused when it applied (another write changed
/// the node between the leader's check and the apply) did not happen: an error, never `true`.
async fn write(handle: &NodeHandle, command: CatalogCommand) -> Result<Response, HttpError> {
    let writes = &handle.metrics().writes;
    let timer = match command {
        CatalogCommand::Register(_) => &writes.catalog_register,
        _ => &writes.catalog_deregister,
    };
    let written = handle.request(Request::CatalogWrite { command });
    match super::metrics::timed(timer, written).await? {
        ApiResponse::KvWritten { applied: true, .. } => Ok(json(&true, false)),
        ApiResponse::KvWritten { applied: false, .. } => Err(HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "catalog write not applied: the node changed while it was being written; retry",
        )),
        other => Err(HttpError::unexpected("a catalog write", &other)),
    }
}

/// Concord serves one datacenter: its own.
async fn datacenters(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    json(&[handle.info().datacenter.as_str()], query.pretty())
}

async fn services(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let pretty = query.pretty();
    let read = CatalogRead::CatalogServices;
    answered(
        read_catalog(&handle, &query, read, |answer| match answer {
            CatalogAnswer::Services(map) => Ok(json(&map, pretty)),
            other => Err(wrong_answer(&other)),
        })
        .await,
    )
}

async fn missing_service() -> Response {
    HttpError::bad_request("Missing service name").into_response()
}

async fn service(
    State(handle): State<NodeHandle>,
    Path(name): Path<String>,
    query: QueryParams,
) -> Response {
    let pretty = query.pretty();
    let tags = query.all("tag");
    let read = CatalogRead::CatalogService { name, tags };
    answered(
        read_catalog(&handle, &query, read, |answer| match answer {
            CatalogAnswer::Instances(instances) => {
                let rows: Vec<_> = instances
                    .iter()
                    .map(|(n, s)| catalog_service_json(n, s))
                    .collect();
                Ok(json(&rows, pretty))
            }
            other => Err(wrong_answer(&other)),
        })
        .await,
    )
}

async fn nodes(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let pretty = query.pretty();
    answered(
        read_catalog(
            &handle,
            &query,
            CatalogRead::CatalogNodes,
            |answer| match answer {
                CatalogAnswer::Nodes(nodes) => Ok(json(
                    &nodes.iter().map(node_json).collect::<Vec<_>>(),
                    pretty,
                )),
                other => Err(wrong_answer(&other)),
            },
        )
        .await,
    )
}

/// An unknown node is 200 with `null`, as Consul's.
async fn node(
    State(handle): State<NodeHandle>,
    Path(name): Path<String>,
    query: QueryParams,
) -> Response {
    let pretty = query.pretty();
    let read = CatalogRead::CatalogNode { name };
    answered(
        read_catalog(&handle, &query, read, |answer| match answer {
            CatalogAnswer::Node(found) => {
                let body = found.map(|(node, services)| node_services_json(&node, &services));
                Ok(json(&body, pretty))
            }
            other => Err(wrong_answer(&other)),
        })
        .await,
    )
}
