//! `/v1/health/*`: service instances with their checks (`?passing`, `?tag`), and checks by
//! service, node or state. All block like the catalog's reads (`catalog::read_catalog`).

use super::catalog::{read_catalog, wrong_answer};
use super::catalog_json::{checks_json, entry_json};
use super::errors::HttpError;
use super::headers::json;
use super::query::QueryParams;
use crate::handle::NodeHandle;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::{CatalogAnswer, CatalogRead};
use concord_core::catalog::CheckStatus;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/health/service/{name}", get(service))
        .route("/v1/health/checks/{service}", get(service_checks))
        .route("/v1/health/node/{node}", get(node_checks))
        .route("/v1/health/state/", get(missing_state))
        .route("/v1/health/state/{state}", get(state_checks))
}

/// `?passing` as Consul reads it: present and empty is on, else Go's `ParseBool`.
fn passing(query: &QueryParams) -> Result<bool, HttpError> {
    match query.get("passing") {
        None => Ok(false),
        Some("" | "1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(_) => Err(HttpError::bad_request("Invalid value for ?passing")),
    }
}

/// `any` or one check status; anything else is the client's error.
fn state(text: &str) -> Result<Option<CheckStatus>, HttpError> {
    match text {
        "any" => Ok(None),
        other => CheckStatus::parse(other).map(Some).ok_or_else(|| {
            HttpError::bad_request(format!(
                "Invalid check state {other:?}: any, passing, warning or critical"
            ))
        }),
    }
}

/// A read answered with a list of checks.
async fn checks(handle: &NodeHandle, query: &QueryParams, read: CatalogRead) -> Response {
    let pretty = query.pretty();
    let answer = read_catalog(handle, query, read, |answer| match answer {
        CatalogAnswer::Checks(checks) => Ok(json(&checks_json(&checks), pretty)),
        other => Err(wrong_answer(&other)),
    });
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

async fn service(
    State(handle): State<NodeHandle>,
    Path(name): Path<String>,
    query: QueryParams,
) -> Response {
    let passing = match passing(&query) {
        Ok(passing) => passing,
        Err(e) => return e.into_response(),
    };
    let pretty = query.pretty();
    let tags = query.all("tag");
    let read = CatalogRead::HealthService {
        name,
        tags,
        passing,
    };
    let answer = read_catalog(&handle, &query, read, |answer| match answer {
        CatalogAnswer::Entries(entries) => {
            let rows: Vec<_> = entries.iter().map(entry_json).collect();
            Ok(json(&rows, pretty))
        }
        other => Err(wrong_answer(&other)),
    });
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

async fn service_checks(
    State(handle): State<NodeHandle>,
    Path(service): Path<String>,
    query: QueryParams,
) -> Response {
    checks(&handle, &query, CatalogRead::HealthChecks { service }).await
}

async fn node_checks(
    State(handle): State<NodeHandle>,
    Path(node): Path<String>,
    query: QueryParams,
) -> Response {
    checks(&handle, &query, CatalogRead::HealthNode { node }).await
}

async fn missing_state() -> Response {
    HttpError::bad_request("Missing check state").into_response()
}

async fn state_checks(
    State(handle): State<NodeHandle>,
    Path(text): Path<String>,
    query: QueryParams,
) -> Response {
    match state(&text) {
        Ok(state) => checks(&handle, &query, CatalogRead::HealthState { state }).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_is_present_or_go_parse_bool() {
        let p = |q: &str| passing(&QueryParams::parse(q)).map_err(|e| e.reason);
        assert_eq!(
            (p(""), p("passing"), p("passing=1")),
            (Ok(false), Ok(true), Ok(true))
        );
        assert_eq!((p("passing=True"), p("passing=F")), (Ok(true), Ok(false)));
        let bad = p("passing=yes").unwrap_err();
        assert_eq!(bad, "Invalid value for ?passing");
    }

    #[test]
    fn states_are_any_or_a_check_status() {
        assert_eq!(state("any"), Ok(None));
        assert_eq!(state("warning"), Ok(Some(CheckStatus::Warning)));
        assert_eq!(state("maintenance").unwrap_err().status.as_u16(), 400);
    }
}
