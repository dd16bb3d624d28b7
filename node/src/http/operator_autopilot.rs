//! `/v1/operator/autopilot/*`: autopilot's configuration (read, and write with `?cas=`), and
//! the servers' health in Consul's two shapes: `health` (`OperatorHealthReply`, 429 while
//! unhealthy) and `state` (`AutopilotState`). All are answered by the leader.

use super::errors::HttpError;
use super::headers::json;
use super::json_body::{decode_json, BodyFields};
use super::query::QueryParams;
use crate::handle::NodeHandle;
use crate::time_fmt::civil_from_days;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::{
    AutopilotConfig, AutopilotHealth, AutopilotOptions, Request, Response as ApiResponse,
    ServerHealth,
};
use concord_core::duration::{format_go_ms, parse_setting_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route(
            "/v1/operator/autopilot/configuration",
            get(get_configuration).put(put_configuration),
        )
        .route("/v1/operator/autopilot/health", get(health))
        .route("/v1/operator/autopilot/state", get(state))
}

/// Consul's `api.AutopilotConfiguration`. The enterprise-only fields are always empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutopilotConfiguration {
    pub cleanup_dead_servers: bool,
    pub last_contact_threshold: String,
    pub max_trailing_logs: u64,
    pub min_quorum: u32,
    pub server_stabilization_time: String,
    pub redundancy_zone_tag: String,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: String,
    pub create_index: u64,
    pub modify_index: u64,
}

pub fn configuration_json(config: &AutopilotConfig) -> AutopilotConfiguration {
    let options = &config.options;
    AutopilotConfiguration {
        cleanup_dead_servers: options.cleanup_dead_servers,
        last_contact_threshold: format_go_ms(options.last_contact_threshold_ms),
        max_trailing_logs: options.max_trailing_logs,
        min_quorum: options.min_quorum,
        server_stabilization_time: format_go_ms(options.server_stabilization_time_ms),
        redundancy_zone_tag: String::new(),
        disable_upgrade_migration: false,
        upgrade_version_tag: String::new(),
        create_index: config.create_index,
        modify_index: config.modify_index,
    }
}

async fn get_configuration(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match handle.request(Request::AutopilotGetConfig).await {
        Ok(ApiResponse::AutopilotConfig { config }) => {
            json(&configuration_json(&config), query.pretty())
        }
        Ok(other) => HttpError::unexpected("an autopilot config read", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// The PUT body as Consul decodes it: absent fields are zero; durations are Go duration
/// strings or numbers of nanoseconds.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConfigurationBody {
    cleanup_dead_servers: bool,
    last_contact_threshold: Option<Value>,
    max_trailing_logs: u64,
    min_quorum: u32,
    server_stabilization_time: Option<Value>,
}

const KNOWN: &[&str] = &[
    "CleanupDeadServers",
    "LastContactThreshold",
    "MaxTrailingLogs",
    "MinQuorum",
    "ServerStabilizationTime",
];

fn options_from_body(body: &[u8]) -> Result<AutopilotOptions, HttpError> {
    let fields = BodyFields {
        known: KNOWN,
        opaque: &[],
    };
    let body: ConfigurationBody = decode_json(body, fields)?;
    Ok(AutopilotOptions {
        cleanup_dead_servers: body.cleanup_dead_servers,
        last_contact_threshold_ms: duration_ms(
            "LastContactThreshold",
            body.last_contact_threshold,
        )?,
        max_trailing_logs: body.max_trailing_logs,
        min_quorum: body.min_quorum,
        server_stabilization_time_ms: duration_ms(
            "ServerStabilizationTime",
            body.server_stabilization_time,
        )?,
    })
}

fn duration_ms(field: &str, value: Option<Value>) -> Result<u64, HttpError> {
    let bad =
        |why: String| HttpError::bad_request(format!("Request decode failed: {field}: {why}"));
    match value {
        None => Ok(0),
        Some(Value::String(text)) => parse_setting_ms(&text).map_err(bad),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|nanos| nanos / 1_000_000)
            .ok_or_else(|| bad(format!("{n} is not a duration in nanoseconds"))),
        Some(other) => Err(bad(format!("{other} is not a duration"))),
    }
}

/// Answers `true` once stored, `false` when `?cas=` did not match (as Consul does).
async fn put_configuration(
    State(handle): State<NodeHandle>,
    query: QueryParams,
    body: Bytes,
) -> Response {
    let request = async {
        let cas = query.u64("cas")?;
        let options = options_from_body(&body)?;
        let request = Request::AutopilotSetConfig { options, cas };
        match handle.request(request).await? {
            ApiResponse::KvWritten { applied, .. } => Ok(json(&applied, false)),
            other => Err(HttpError::unexpected("an autopilot config write", &other)),
        }
    };
    request.await.unwrap_or_else(IntoResponse::into_response)
}

async fn read_health(handle: &NodeHandle) -> Result<AutopilotHealth, HttpError> {
    match handle.request(Request::AutopilotHealth).await? {
        ApiResponse::AutopilotHealth { health } => Ok(health),
        other => Err(HttpError::unexpected("an autopilot health read", &other)),
    }
}

/// Consul's `api.OperatorHealthReply`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperatorHealthReply {
    pub healthy: bool,
    pub failure_tolerance: u32,
    pub servers: Vec<ServerHealthJson>,
}

/// Consul's `api.ServerHealth`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerHealthJson {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub address: String,
    pub serf_status: String,
    pub version: String,
    pub leader: bool,
    /// A Go duration; `null` when the leader never heard from the server.
    pub last_contact: Option<String>,
    pub last_term: u64,
    pub last_index: u64,
    pub healthy: bool,
    pub voter: bool,
    pub stable_since: String,
}

pub fn health_json(health: &AutopilotHealth) -> OperatorHealthReply {
    let servers = health
        .servers
        .iter()
        .map(|s| ServerHealthJson {
            id: s.id.clone(),
            name: s.name.clone(),
            address: s.address.clone(),
            serf_status: s.serf_status.clone(),
            version: s.version.clone(),
            leader: s.leader,
            last_contact: s.last_contact_ms.map(format_go_ms),
            last_term: s.last_term,
            last_index: s.last_index,
            healthy: s.healthy,
            voter: s.voter,
            stable_since: rfc3339_ms(s.stable_since_ms),
        })
        .collect();
    OperatorHealthReply {
        healthy: health.healthy,
        failure_tolerance: health.failure_tolerance,
        servers,
    }
}

/// 200 while healthy, 429 (with the same body) while not: Consul's answer, which load
/// balancers and scripts check.
async fn health(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match read_health(&handle).await {
        Ok(health) => health_response(&health, query.pretty()),
        Err(e) => e.into_response(),
    }
}

fn health_response(health: &AutopilotHealth, pretty: bool) -> Response {
    let mut response = json(&health_json(health), pretty);
    if !health.healthy {
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    }
    response
}

/// Consul's `api.AutopilotState` (without the enterprise-only zones and upgrade fields).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutopilotState {
    pub healthy: bool,
    pub failure_tolerance: u32,
    pub optimistic_failure_tolerance: u32,
    pub servers: BTreeMap<String, AutopilotServer>,
    pub leader: String,
    pub voters: Vec<String>,
}

/// Consul's `api.AutopilotServer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutopilotServer {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub address: String,
    pub node_status: String,
    pub version: String,
    pub last_contact: Option<String>,
    pub last_term: u64,
    pub last_index: u64,
    pub healthy: bool,
    pub stable_since: String,
    /// `leader`, `voter`, `non-voter` (or `staging`, which Concord never reports: a
    /// non-voter is promoted in one step).
    pub status: String,
    pub meta: BTreeMap<String, String>,
    pub node_type: String,
}

pub fn state_json(health: &AutopilotHealth) -> AutopilotState {
    let server = |s: &ServerHealth| AutopilotServer {
        id: s.id.clone(),
        name: s.name.clone(),
        address: s.address.clone(),
        node_status: s.serf_status.clone(),
        version: s.version.clone(),
        last_contact: s.last_contact_ms.map(format_go_ms),
        last_term: s.last_term,
        last_index: s.last_index,
        healthy: s.healthy,
        stable_since: rfc3339_ms(s.stable_since_ms),
        status: match (s.leader, s.voter) {
            (true, _) => "leader",
            (false, true) => "voter",
            (false, false) => "non-voter",
        }
        .to_string(),
        meta: BTreeMap::new(),
        // Every Concord server may vote (Consul's read replicas are enterprise-only).
        node_type: "voter".to_string(),
    };
    AutopilotState {
        healthy: health.healthy,
        failure_tolerance: health.failure_tolerance,
        // Without redundancy zones (enterprise) Consul's optimistic tolerance is the same.
        optimistic_failure_tolerance: health.failure_tolerance,
        servers: health
            .servers
            .iter()
            .map(|s| (s.id.clone(), server(s)))
            .collect(),
        leader: health.leader.clone(),
        voters: health
            .servers
            .iter()
            .filter(|s| s.voter)
            .map(|s| s.id.clone())
            .collect(),
    }
}

async fn state(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match read_health(&handle).await {
        Ok(health) => json(&state_json(&health), query.pretty()),
        Err(e) => e.into_response(),
    }
}

/// Unix milliseconds as Go's RFC 3339 (`2026-11-30T16:19:52.123Z`, no trailing zeros in the
/// fraction); 0 is Go's zero time, as Consul shows a server never stable.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    if unix_ms == 0 {
        return "0001-01-01T00:00:00Z".to_string();
    }
    let (days, ms_of_day) = ((unix_ms / 86_400_000) as i64, unix_ms % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
    );
    let fraction = match ms_of_day % 1000 {
        0 => String::new(),
        millis => format!(".{}", format!("{millis:03}").trim_end_matches('0')),
    };
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{fraction}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(rfc3339_ms(0), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_000), "1970-01-01T00:00:01Z");
        assert_eq!(rfc3339_ms(951_782_400_120), "2000-02-29T00:00:00.12Z");
        assert_eq!(rfc3339_ms(1_796_055_592_123), "2026-11-30T16:19:52.123Z");
    }

    #[test]
    fn a_body_takes_go_durations_or_nanoseconds_and_absent_fields_are_zero() {
        let body = br#"{"cleanupdeadservers":true,"LastContactThreshold":"1s","ServerStabilizationTime":2000000000}"#;
        let options = options_from_body(body).unwrap();
        assert!(options.cleanup_dead_servers);
        assert_eq!(options.last_contact_threshold_ms, 1000);
        assert_eq!(options.server_stabilization_time_ms, 2000);
        assert_eq!((options.max_trailing_logs, options.min_quorum), (0, 0));
        let error = options_from_body(br#"{"LastContactThreshold":"soon"}"#).unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert!(
            error.reason.contains("LastContactThreshold"),
            "{}",
            error.reason
        );
    }

    fn two_servers() -> AutopilotHealth {
        let leader = ServerHealth {
            id: "s1".into(),
            name: "s1".into(),
            address: "10.0.0.1:8300".into(),
            serf_status: "alive".into(),
            version: "0.1.0".into(),
            leader: true,
            voter: true,
            last_contact_ms: Some(0),
            last_term: 2,
            last_index: 9,
            healthy: true,
            stable_since_ms: 1_000,
        };
        let learner = ServerHealth {
            id: "s2".into(),
            name: "s2".into(),
            address: "10.0.0.2:8300".into(),
            serf_status: "failed".into(),
            leader: false,
            voter: false,
            last_contact_ms: None,
            last_index: 0,
            healthy: false,
            stable_since_ms: 0,
            ..leader.clone()
        };
        AutopilotHealth {
            healthy: false,
            failure_tolerance: 0,
            servers: vec![leader, learner],
            leader: "s1".into(),
        }
    }

    #[test]
    fn health_is_consuls_reply_and_429_while_unhealthy() {
        let mut health = two_servers();
        assert_eq!(
            health_response(&health, false).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let text = serde_json::to_string(&health_json(&health)).unwrap();
        assert_eq!(
            text,
            r#"{"Healthy":false,"FailureTolerance":0,"Servers":[{"ID":"s1","Name":"s1","Address":"10.0.0.1:8300","SerfStatus":"alive","Version":"0.1.0","Leader":true,"LastContact":"0s","LastTerm":2,"LastIndex":9,"Healthy":true,"Voter":true,"StableSince":"1970-01-01T00:00:01Z"},{"ID":"s2","Name":"s2","Address":"10.0.0.2:8300","SerfStatus":"failed","Version":"0.1.0","Leader":false,"LastContact":null,"LastTerm":2,"LastIndex":0,"Healthy":false,"Voter":false,"StableSince":"0001-01-01T00:00:00Z"}]}"#
        );
        health.healthy = true;
        assert_eq!(health_response(&health, false).status(), StatusCode::OK);
    }

    #[test]
    fn state_maps_servers_by_id_with_their_status() {
        let state = state_json(&two_servers());
        assert_eq!(state.voters, vec!["s1".to_string()]);
        assert_eq!(state.servers["s1"].status, "leader");
        assert_eq!(state.servers["s2"].status, "non-voter");
        assert_eq!(state.servers["s2"].node_status, "failed");
        let value = serde_json::to_value(&state).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "FailureTolerance",
                "Healthy",
                "Leader",
                "OptimisticFailureTolerance",
                "Servers",
                "Voters"
            ]
        );
        let server = value["Servers"]["s2"].as_object().unwrap();
        for field in [
            "ID",
            "Name",
            "Address",
            "NodeStatus",
            "Version",
            "LastContact",
            "LastTerm",
            "LastIndex",
            "Healthy",
            "StableSince",
            "Status",
            "Meta",
            "NodeType",
        ] {
            assert!(server.contains_key(field), "{field}");
        }
    }
}
