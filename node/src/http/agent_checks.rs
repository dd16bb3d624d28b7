//! `/v1/agent/checks` and `/v1/agent/check/*`: the checks registered on THIS agent, TTL
//! updates (`pass`, `warn`, `fail`, `update`), as Consul answers them.

use super::agent_services::{decode_definition, done, local};
use super::catalog_json::check_json;
use super::errors::HttpError;
use super::headers::json;
use super::query::QueryParams;
use crate::api_types::agent::CheckDefinition;
use crate::api_types::catalog::HealthCheck;
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use concord_core::agent::{LocalAnswer, LocalRequest};
use concord_core::catalog::{parse_check_status, CheckStatus};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/agent/checks", get(checks))
        .route("/v1/agent/check/register", put(register))
        .route("/v1/agent/check/deregister/{id}", put(deregister))
        .route("/v1/agent/check/pass/{id}", put(pass))
        .route("/v1/agent/check/warn/{id}", put(warn))
        .route("/v1/agent/check/fail/{id}", put(fail))
        .route("/v1/agent/check/update/{id}", put(update))
}

async fn checks(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let result = async {
        let LocalAnswer::Checks(checks) = local(&handle, LocalRequest::Checks).await? else {
            return Err(HttpError::bad_request("unexpected answer"));
        };
        let by_id: BTreeMap<String, HealthCheck> = checks
            .iter()
            .map(|c| (c.check_id.clone(), check_json(c)))
            .collect();
        Ok(json(&by_id, query.pretty()))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn register(State(handle): State<NodeHandle>, body: Bytes) -> Response {
    let result = async {
        let definition: CheckDefinition = decode_definition(&body)?;
        let input = definition.into_input().map_err(HttpError::bad_request)?;
        let request = LocalRequest::RegisterCheck {
            check: Box::new(input),
        };
        local(&handle, request).await
    };
    done(result.await)
}

async fn deregister(State(handle): State<NodeHandle>, Path(id): Path<String>) -> Response {
    done(local(&handle, LocalRequest::DeregisterCheck { id }).await)
}

async fn ttl(handle: &NodeHandle, id: String, status: CheckStatus, output: String) -> Response {
    done(local(handle, LocalRequest::TtlUpdate { id, status, output }).await)
}

/// `?note=` becomes the output (the Go api's PassTTL/WarnTTL/FailTTL).
fn note(query: &QueryParams) -> String {
    query.get("note").unwrap_or_default().to_string()
}

async fn pass(State(h): State<NodeHandle>, Path(id): Path<String>, q: QueryParams) -> Response {
    ttl(&h, id, CheckStatus::Passing, note(&q)).await
}

async fn warn(State(h): State<NodeHandle>, Path(id): Path<String>, q: QueryParams) -> Response {
    ttl(&h, id, CheckStatus::Warning, note(&q)).await
}

async fn fail(State(h): State<NodeHandle>, Path(id): Path<String>, q: QueryParams) -> Response {
    ttl(&h, id, CheckStatus::Critical, note(&q)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    status: String,
    output: String,
}

async fn update(State(handle): State<NodeHandle>, Path(id): Path<String>, body: Bytes) -> Response {
    let result = async {
        let body: UpdateBody = decode_definition(&body)?;
        let status =
            parse_check_status(&body.status).map_err(|e| HttpError::bad_request(e.to_string()))?;
        let request = LocalRequest::TtlUpdate {
            id,
            status,
            output: body.output,
        };
        local(&handle, request).await
    };
    done(result.await)
}
