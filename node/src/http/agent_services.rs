//! `/v1/agent/service/*`, `/v1/agent/services`, maintenance and `/v1/agent/health/service/*`:
//! the services registered on THIS agent (the core's local state), as Consul answers them.
//! A change answers once the agent holds it; anti-entropy copies it into the catalog.

use super::blocking::{WAIT_DEFAULT, WAIT_MAX};
use super::catalog_json::{checks_json, service_json};
use super::errors::HttpError;
use super::headers::json;
use super::json_body::{decode_json, BodyFields};
use super::query::QueryParams;
use crate::api_types::agent::{
    aggregated_status, AgentServiceChecksInfo, LocalAgentService, ServiceDefinition,
    SERVICE_FIELDS, SERVICE_OPAQUE_FIELDS,
};
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use concord_core::agent::{LocalAnswer, LocalRequest, Request, Response as ApiResponse};
use concord_core::catalog as core;
use concord_core::duration::parse_go_duration;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::time::Duration;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/agent/service/register", put(register))
        .route("/v1/agent/service/deregister/{id}", put(deregister))
        .route("/v1/agent/services", get(services))
        .route("/v1/agent/service/{id}", get(service))
        .route(
            "/v1/agent/service/maintenance/{id}",
            put(service_maintenance),
        )
        .route("/v1/agent/maintenance", put(node_maintenance))
        .route("/v1/agent/health/service/id/{id}", get(health_by_id))
        .route("/v1/agent/health/service/name/{name}", get(health_by_name))
}

/// Sends a local request; errors as Consul words them.
pub async fn local(handle: &NodeHandle, request: LocalRequest) -> Result<LocalAnswer, HttpError> {
    match handle.request(Request::Local(request)).await {
        Ok(ApiResponse::Local { answer }) => Ok(answer),
        Ok(other) => Err(HttpError::unexpected("a local request", &other)),
        Err(e) => Err(HttpError::from(e)),
    }
}

/// A definition body: keys in any case or snake_case, `null` as absent.
pub fn decode_definition<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    let fields = BodyFields {
        known: SERVICE_FIELDS,
        opaque: SERVICE_OPAQUE_FIELDS,
    };
    decode_json(body, fields)
}

/// Consul answers agent writes with 200 and an empty body.
pub fn done(result: Result<LocalAnswer, HttpError>) -> Response {
    match result {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn register(State(handle): State<NodeHandle>, query: QueryParams, body: Bytes) -> Response {
    let result = async {
        let definition: ServiceDefinition = decode_definition(&body)?;
        let replace = query.flag("replace-existing-checks");
        let request = definition
            .into_request(replace)
            .map_err(HttpError::bad_request)?;
        local(&handle, request).await
    };
    done(result.await)
}

async fn deregister(State(handle): State<NodeHandle>, Path(id): Path<String>) -> Response {
    done(local(&handle, LocalRequest::DeregisterService { id }).await)
}

/// The agent's services as JSON, by id, with their checks (for the health endpoints).
async fn services_and_checks(
    handle: &NodeHandle,
) -> Result<(Vec<core::Service>, Vec<core::HealthCheck>), HttpError> {
    let LocalAnswer::Services(services) = local(handle, LocalRequest::Services).await? else {
        return Err(HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected answer",
        ));
    };
    let LocalAnswer::Checks(checks) = local(handle, LocalRequest::Checks).await? else {
        return Err(HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected answer",
        ));
    };
    Ok((services, checks))
}

fn local_service_json(service: &core::Service, datacenter: &str) -> LocalAgentService {
    LocalAgentService {
        service: service_json(service),
        content_hash: String::new(),
        datacenter: datacenter.to_string(),
    }
}

async fn services(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let result = async {
        let (services, _) = services_and_checks(&handle).await?;
        let dc = &handle.info().datacenter;
        let by_id: BTreeMap<String, LocalAgentService> = services
            .iter()
            .map(|s| (s.id.clone(), local_service_json(s, dc)))
            .collect();
        Ok::<_, HttpError>(json(&by_id, query.pretty()))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// How often a `?hash=` blocking read looks at the service again.
const HASH_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One service with its `ContentHash` (FNV-1a of its JSON), or `None` if unknown.
async fn hashed_service(
    handle: &NodeHandle,
    id: &str,
) -> Result<Option<LocalAgentService>, HttpError> {
    let (services, _) = services_and_checks(handle).await?;
    let Some(found) = services.iter().find(|s| s.id == id) else {
        return Ok(None);
    };
    let mut answer = local_service_json(found, &handle.info().datacenter);
    let bytes = serde_json::to_vec(&answer).expect("JSON encodes");
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    answer.content_hash = format!("{hash:016x}");
    Ok(Some(answer))
}

/// `GET /v1/agent/service/:id`, blocking with `?hash=H&wait=` (Consul's hash-based
/// blocking: answered once the service's hash differs from H, or at the wait's end).
async fn service(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        let wait = match query.get("wait") {
            Some(text) => parse_go_duration(text)
                .map_err(|e| HttpError::bad_request(format!("Invalid wait time: {e}")))?
                .min(WAIT_MAX),
            None => WAIT_DEFAULT,
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found = hashed_service(&handle, &id).await?;
            let found =
                found.ok_or_else(|| HttpError::not_found(format!("unknown service ID: {id}")))?;
            let unchanged = query.get("hash") == Some(found.content_hash.as_str());
            if !unchanged || tokio::time::Instant::now() >= deadline || !handle.is_running() {
                let hash = found.content_hash.clone();
                let mut response = json(&found, query.pretty());
                let value = header::HeaderValue::from_str(&hash).expect("hex is a header value");
                response.headers_mut().insert("X-Consul-ContentHash", value);
                return Ok::<_, HttpError>(response);
            }
            tokio::time::sleep(HASH_POLL_INTERVAL).await;
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `?enable=` as Go's ParseBool reads it; required.
fn enable_flag(query: &QueryParams) -> Result<bool, HttpError> {
    match query.get("enable") {
        None | Some("") => Err(HttpError::bad_request("Missing value for enable")),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
        Some(other) => Err(HttpError::bad_request(format!(
            "Invalid value for enable: {other:?}"
        ))),
    }
}

async fn service_maintenance(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        let enable = enable_flag(&query)?;
        let reason = query.get("reason").unwrap_or_default().to_string();
        let request = LocalRequest::ServiceMaintenance { id, enable, reason };
        local(&handle, request).await
    };
    done(result.await)
}

async fn node_maintenance(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let result = async {
        let enable = enable_flag(&query)?;
        let reason = query.get("reason").unwrap_or_default().to_string();
        local(&handle, LocalRequest::NodeMaintenance { enable, reason }).await
    };
    done(result.await)
}

/// One service with the checks that decide its health: its own and the node's.
fn health_info(
    service: &core::Service,
    checks: &[core::HealthCheck],
    dc: &str,
) -> AgentServiceChecksInfo {
    let own: Vec<core::HealthCheck> = checks
        .iter()
        .filter(|c| c.service_id.is_empty() || c.service_id == service.id)
        .cloned()
        .collect();
    let checks = checks_json(&own);
    AgentServiceChecksInfo {
        aggregated_status: aggregated_status(&checks).to_string(),
        service: local_service_json(service, dc),
        checks,
    }
}

/// 200 passing, 429 warning, 503 critical or maintenance (Consul's codes); `?format=text`
/// answers the status alone.
fn health_response(status: &str, body: Response, query: &QueryParams) -> Response {
    let code = match status {
        "passing" => StatusCode::OK,
        "warning" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    if query.get("format") == Some("text") {
        let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        return (code, text, status.to_string()).into_response();
    }
    (code, body).into_response()
}

async fn health_by_id(
    State(handle): State<NodeHandle>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        let (services, checks) = services_and_checks(&handle).await?;
        let Some(service) = services.iter().find(|s| s.id == id) else {
            let why = format!("ServiceId {id} not found");
            return Ok(health_not_found(why, &query));
        };
        let info = health_info(service, &checks, &handle.info().datacenter);
        let status = info.aggregated_status.clone();
        Ok::<_, HttpError>(health_response(
            &status,
            json(&info, query.pretty()),
            &query,
        ))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn health_by_name(
    State(handle): State<NodeHandle>,
    Path(name): Path<String>,
    query: QueryParams,
) -> Response {
    let result = async {
        let (services, checks) = services_and_checks(&handle).await?;
        let dc = &handle.info().datacenter;
        let infos: Vec<AgentServiceChecksInfo> = services
            .iter()
            .filter(|s| s.name == name)
            .map(|s| health_info(s, &checks, dc))
            .collect();
        if infos.is_empty() {
            return Ok(health_not_found(
                format!("ServiceName {name} Not Found"),
                &query,
            ));
        }
        let statuses: Vec<_> = infos.iter().map(|i| i.aggregated_status.as_str()).collect();
        let worst = ["maintenance", "critical", "warning"]
            .into_iter()
            .find(|s| statuses.contains(s))
            .unwrap_or("passing");
        Ok::<_, HttpError>(health_response(worst, json(&infos, query.pretty()), &query))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

fn health_not_found(why: String, query: &QueryParams) -> Response {
    let _ = query;
    (StatusCode::NOT_FOUND, why).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::local::CheckKind;

    /// `api.AgentServiceRegistration` as the Go api encodes it: every field, nulls, empty
    /// strings for unset durations.
    const GO_API_BODY: &[u8] = br#"{"Kind":"","ID":"web1","Name":"web","Tags":["v1"],"Port":8080,
        "Address":"","SocketPath":"","TaggedAddresses":null,"EnableTagOverride":false,"Meta":null,
        "Weights":null,"Check":{"CheckID":"","Name":"","ScriptArgs":null,"DockerContainerID":"",
        "Shell":"","Interval":"","Timeout":"","TTL":"10s","HTTP":"","Header":null,"Method":"",
        "Body":"","TCP":"","TCPUseTLS":false,"UDP":"","Status":"passing","Notes":"",
        "TLSServerName":"","TLSSkipVerify":false,"GRPC":"","GRPCUseTLS":false,"H2PING":"",
        "H2PingUseTLS":false,"AliasNode":"","AliasService":"","SuccessBeforePassing":0,
        "FailuresBeforeWarning":0,"FailuresBeforeCritical":0,
        "DeregisterCriticalServiceAfter":""},"Checks":null,"Proxy":null,"Connect":null}"#;

    #[test]
    fn the_go_apis_registration_decodes() {
        let definition: ServiceDefinition = decode_definition(GO_API_BODY).unwrap();
        let request = definition.into_request(false).unwrap();
        let LocalRequest::RegisterService {
            service, checks, ..
        } = request
        else {
            panic!("a service registration")
        };
        assert_eq!((service.id.as_str(), service.port), ("web1", 8080));
        assert_eq!(
            service.weights,
            core::Weights::default(),
            "null Weights: Consul's"
        );
        assert_eq!(checks[0].kind, CheckKind::Ttl { ttl_ms: 10_000 });
        assert_eq!(checks[0].check.status, core::CheckStatus::Passing);
    }

    #[test]
    fn snake_case_and_bad_values_are_read_as_consul_reads_them() {
        let body = br#"{"name":"web","check":{"script_args":["/bin/true"],"interval":"5s"}}"#;
        let definition: ServiceDefinition = decode_definition(body).unwrap();
        let request = definition.into_request(false).unwrap();
        let LocalRequest::RegisterService { checks, .. } = request else {
            panic!("a service registration")
        };
        assert!(matches!(checks[0].kind, CheckKind::Script { .. }));
        let bad = br#"{"name":"web","check":{"ttl":"soon"}}"#;
        let definition: ServiceDefinition = decode_definition(bad).unwrap();
        let err = definition.into_request(false).unwrap_err();
        assert!(err.contains("TTL"), "{err}");
    }
}
