//! Sessions as Consul's JSON: the body of `PUT /v1/session/create` (keys in any case, as
//! py-consul sends them lowercase; `LockDelay` as integer nanoseconds or a Go duration; `TTL`,
//! `Behavior` and the checks checked here with Consul's messages) and a stored session as the
//! info/list/renew answers show it.

use super::errors::HttpError;
use super::json_body::{decode_json, BodyFields};
use crate::api_types::session::{ServiceCheckJson, SessionJson};
use concord_core::duration::{format_go_ms, parse_go_duration};
use concord_core::session::{
    Behavior, ServiceCheck, Session, SessionSpec, LOCK_DELAY_DEFAULT_NS, SESSION_DEFAULT_CHECK,
    SESSION_TTL_MS_MAX, SESSION_TTL_MS_MIN,
};
use serde::Deserialize;
use serde_json::Value;

/// Consul's `lockDelayMinThreshold`: a lock-delay below 1000 (ns) was meant as seconds.
const LOCK_DELAY_SECONDS_BELOW_NS: u64 = 1000;
const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    node: String,
    lock_delay: Option<Value>,
    behavior: String,
    #[serde(rename = "TTL")]
    ttl: String,
    checks: Option<Vec<String>>,
    node_checks: Option<Vec<String>>,
    service_checks: Option<Vec<ServiceCheckBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ServiceCheckBody {
    #[serde(rename = "ID")]
    id: String,
    namespace: String,
}

const CREATE_FIELDS: BodyFields<'static> = BodyFields {
    known: &[
        "Name",
        "Node",
        "LockDelay",
        "Behavior",
        "TTL",
        "Checks",
        "NodeChecks",
        "ServiceChecks",
        "ID",
        "Namespace",
    ],
    opaque: &[],
};

/// The session a create body asks for, defaulted as Consul does. An empty body (py-consul's
/// `""` when every argument is left at its default) or `null` asks for the defaults.
pub fn create_spec(body: &[u8]) -> Result<SessionSpec, HttpError> {
    let text = body.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(SessionSpec::default());
    }
    let body: CreateBody = decode_json(text, CREATE_FIELDS)?;
    let (ttl, ttl_ms) = ttl(&body.ttl)?;
    let (node_checks, service_checks) = checks(body.checks, body.node_checks, body.service_checks);
    Ok(SessionSpec {
        name: body.name,
        node: Some(body.node).filter(|n| !n.is_empty()),
        lock_delay_ns: match body.lock_delay {
            None => LOCK_DELAY_DEFAULT_NS,
            Some(value) => lock_delay_ns(&value)?,
        },
        behavior: behavior(&body.behavior)?,
        ttl,
        ttl_ms,
        node_checks,
        service_checks,
    })
}

/// `LockDelay`: a number is nanoseconds, a string a Go duration; either below 1000 ns is taken
/// as seconds (Consul's FixupLockDelay). Stored as given; the core caps what it applies at 60 s.
fn lock_delay_ns(value: &Value) -> Result<u64, HttpError> {
    let fail =
        |why: String| HttpError::bad_request(format!("Request decode failed: LockDelay: {why}"));
    let ns = match value {
        // `as` saturates: a negative delay is none, a huge one the largest.
        Value::Number(n) => n
            .as_u64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as u64),
        Value::String(text) => {
            let d = parse_go_duration(text.trim()).map_err(fail)?;
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
        }
        other => {
            return Err(fail(format!(
                "expected a number of nanoseconds or a duration, got {other}"
            )))
        }
    };
    // Go's time.Duration is an i64: a larger delay would break every Go client that reads the
    // session back, so it is stored at most as i64::MAX (the core applies at most 60 s anyway).
    Ok(if ns < LOCK_DELAY_SECONDS_BELOW_NS {
        ns * NS_PER_SEC
    } else {
        ns.min(GO_DURATION_NS_MAX)
    })
}

/// The longest duration Go's `time.Duration` (an i64 of nanoseconds) holds.
const GO_DURATION_NS_MAX: u64 = i64::MAX as u64;

fn behavior(text: &str) -> Result<Behavior, HttpError> {
    match text {
        "" | "release" => Ok(Behavior::Release),
        "delete" => Ok(Behavior::Delete),
        other => Err(HttpError::bad_request(format!(
            "Invalid Behavior setting '{other}'"
        ))),
    }
}

/// `TTL`: "" (or a zero duration) is none; otherwise 10 s to 24 h. Returned as written, with
/// its length in ms. Consul answers these 500; a client's mistake is 400 here.
fn ttl(text: &str) -> Result<(String, Option<u64>), HttpError> {
    if text.is_empty() {
        return Ok((String::new(), None));
    }
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let duration = parse_go_duration(magnitude)
        .map_err(|e| HttpError::bad_request(format!("Session TTL '{text}' invalid: {e}")))?;
    let ns = i128::try_from(duration.as_nanos()).unwrap_or(i128::MAX);
    if ns == 0 {
        return Ok((text.to_string(), None));
    }
    let ms = duration.as_millis();
    if negative || ms < u128::from(SESSION_TTL_MS_MIN) || ms > u128::from(SESSION_TTL_MS_MAX) {
        let ns = if negative { -ns } else { ns };
        return Err(HttpError::bad_request(format!(
            "Invalid Session TTL '{ns}', must be between [{}={}]",
            format_go_ms(SESSION_TTL_MS_MIN),
            format_go_ms(SESSION_TTL_MS_MAX)
        )));
    }
    Ok((text.to_string(), Some(ms as u64)))
}

/// The session's checks as Consul's create endpoint settles them: `Checks` and `NodeChecks`
/// both start as `["serfHealth"]`; a `Checks` given empty (the Go api's CreateNoChecks)
/// means no node checks at all (a `null` member reads as absent, `json_body`'s rule); a `Checks` that is just the default defers to `NodeChecks`; a `NodeChecks` given empty
/// drops `Checks`; what is left of `Checks` is merged into `NodeChecks` (Consul's
/// `fixupEmptySessionChecks`, kept for clients older than 1.7). `ServiceChecks` never changes
/// the node checks.
fn checks(
    checks: Option<Vec<String>>,
    node_checks: Option<Vec<String>>,
    service_checks: Option<Vec<ServiceCheckBody>>,
) -> (Vec<String>, Vec<ServiceCheck>) {
    let default = || vec![SESSION_DEFAULT_CHECK.to_string()];
    let mut checks = checks.unwrap_or_else(default);
    let node_checks = node_checks.unwrap_or_else(default);
    let service = service_checks.into_iter().flatten().map(|c| ServiceCheck {
        id: c.id,
        namespace: c.namespace,
    });
    if checks.is_empty() {
        return (Vec::new(), service.collect());
    }
    if checks == default() || node_checks.is_empty() {
        checks.clear();
    }
    let mut merged: Vec<String> = Vec::new();
    for id in node_checks.into_iter().chain(checks) {
        if !merged.contains(&id) {
            merged.push(id);
        }
    }
    (merged, service.collect())
}

impl From<&Session> for SessionJson {
    fn from(s: &Session) -> SessionJson {
        let service_checks = s.service_checks.iter().map(|c| ServiceCheckJson {
            id: c.id.clone(),
            namespace: c.namespace.clone(),
        });
        SessionJson {
            id: s.id.clone(),
            name: s.name.clone(),
            node: s.node.clone(),
            lock_delay: s.lock_delay_ns,
            behavior: s.behavior.as_str().to_string(),
            ttl: s.ttl.clone(),
            node_checks: (!s.node_checks.is_empty()).then(|| s.node_checks.clone()),
            service_checks: (!s.service_checks.is_empty()).then(|| service_checks.collect()),
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// Sessions as a JSON array: `[]` when none, never `null`.
pub fn sessions_json(sessions: &[Session]) -> Vec<SessionJson> {
    sessions.iter().map(SessionJson::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body: &str) -> SessionSpec {
        create_spec(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {}", e.reason))
    }

    fn refused(body: &str) -> String {
        let err = create_spec(body.as_bytes()).unwrap_err();
        assert_eq!(err.status.as_u16(), 400, "{body}");
        err.reason
    }

    #[test]
    fn empty_bodies_ask_for_consuls_defaults() {
        for body in ["", "  ", "null", "{}"] {
            let s = spec(body);
            assert_eq!(s, SessionSpec::default(), "{body:?}");
            assert_eq!(s.lock_delay_ns, 15_000_000_000);
            assert_eq!(s.node_checks, ["serfHealth"]);
            assert_eq!(
                (s.node, s.ttl_ms, s.behavior),
                (None, None, Behavior::Release)
            );
        }
    }

    #[test]
    fn py_consuls_lowercase_body() {
        let s = spec(
            r#"{"name": "web-lock", "node": "n1", "lockdelay": "2s", "behavior": "delete", "ttl": "30s"}"#,
        );
        assert_eq!(
            (s.name.as_str(), s.node.as_deref()),
            ("web-lock", Some("n1"))
        );
        assert_eq!(s.lock_delay_ns, 2_000_000_000);
        assert_eq!(s.behavior, Behavior::Delete);
        assert_eq!((s.ttl.as_str(), s.ttl_ms), ("30s", Some(30_000)));
    }

    #[test]
    fn lock_delay_numbers_are_ns_and_small_ones_seconds() {
        let ns = |body: &str| spec(body).lock_delay_ns;
        assert_eq!(ns(r#"{"LockDelay": 15000000000}"#), 15_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": 1.5e10}"#), 15_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": 5}"#), 5_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": 999}"#), 999_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": 1000}"#), 1000);
        assert_eq!(ns(r#"{"LockDelay": "15000ms"}"#), 15_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": "500ns"}"#), 500_000_000_000);
        assert_eq!(ns(r#"{"LockDelay": 0}"#), 0);
        assert_eq!(ns(r#"{"LockDelay": "0s"}"#), 0);
        assert_eq!(ns(r#"{"LockDelay": null}"#), 15_000_000_000);
        // Past Go's i64 Duration a Go client could not read the session back.
        assert_eq!(
            ns(r#"{"LockDelay": 10000000000000000000}"#),
            i64::MAX as u64
        );
        assert_eq!(ns(r#"{"LockDelay": "3000000h"}"#), i64::MAX as u64);
        let why = refused(r#"{"LockDelay": "soon"}"#);
        assert!(why.starts_with("Request decode failed: LockDelay"), "{why}");
        assert!(refused(r#"{"LockDelay": true}"#).contains("LockDelay"));
    }

    #[test]
    fn ttl_bounds_and_messages() {
        assert_eq!(spec(r#"{"TTL": "10s"}"#).ttl_ms, Some(10_000));
        assert_eq!(spec(r#"{"TTL": "24h"}"#).ttl_ms, Some(86_400_000));
        assert_eq!(spec(r#"{"TTL": "0s"}"#).ttl_ms, None);
        assert_eq!(spec(r#"{"TTL": ""}"#).ttl_ms, None);
        assert_eq!(
            refused(r#"{"TTL": "9s"}"#),
            "Invalid Session TTL '9000000000', must be between [10s=24h0m0s]"
        );
        assert_eq!(
            refused(r#"{"TTL": "86401s"}"#),
            "Invalid Session TTL '86401000000000', must be between [10s=24h0m0s]"
        );
        assert!(refused(r#"{"TTL": "-20s"}"#).contains("'-20000000000'"));
        assert_eq!(
            refused(r#"{"TTL": "abc"}"#),
            "Session TTL 'abc' invalid: invalid duration \"abc\""
        );
    }

    #[test]
    fn behavior_is_release_or_delete() {
        assert_eq!(spec(r#"{"Behavior": ""}"#).behavior, Behavior::Release);
        assert_eq!(
            spec(r#"{"Behavior": "release"}"#).behavior,
            Behavior::Release
        );
        assert_eq!(
            refused(r#"{"Behavior": "keep"}"#),
            "Invalid Behavior setting 'keep'"
        );
    }

    #[test]
    fn checks_settle_as_consuls_fixup_empty_session_checks() {
        let node_checks = |body: &str| spec(body).node_checks;
        let none: [&str; 0] = [];
        assert_eq!(node_checks(r#"{"Checks": []}"#), none);
        assert_eq!(
            node_checks(r#"{"Checks": null}"#),
            ["serfHealth"],
            "null is absent"
        );
        assert_eq!(node_checks(r#"{"Checks": [], "NodeChecks": ["x"]}"#), none);
        assert_eq!(node_checks(r#"{"NodeChecks": []}"#), none);
        assert_eq!(node_checks(r#"{"NodeChecks": ["x"]}"#), ["x"]);
        assert_eq!(node_checks(r#"{"Checks": ["b"]}"#), ["serfHealth", "b"]);
        assert_eq!(node_checks(r#"{"Checks": ["b"], "NodeChecks": []}"#), none);
        let both = r#"{"NodeChecks": ["a", "serfHealth"], "Checks": ["serfHealth", "b"]}"#;
        assert_eq!(node_checks(both), ["a", "serfHealth", "b"]);
        // Service checks come on top of the default node check, not instead of it.
        let s = spec(r#"{"ServiceChecks": [{"ID": "svc:web", "Namespace": ""}]}"#);
        assert_eq!(s.node_checks, ["serfHealth"]);
        assert_eq!(s.service_checks[0].id, "svc:web");
    }

    #[test]
    fn session_json_is_consuls_in_order() {
        let session = Session {
            id: "adf4238a-882b-9ddc-4a9d-5b6758e4159e".into(),
            name: "n".into(),
            node: "dev".into(),
            lock_delay_ns: 15_000_000_000,
            behavior: Behavior::Release,
            ttl: "30s".into(),
            ttl_ms: Some(30_000),
            node_checks: vec!["serfHealth".into()],
            service_checks: vec![],
            create_index: 7,
            modify_index: 7,
        };
        let text = serde_json::to_string(&SessionJson::from(&session)).unwrap();
        assert_eq!(
            text,
            r#"{"ID":"adf4238a-882b-9ddc-4a9d-5b6758e4159e","Name":"n","Node":"dev","LockDelay":15000000000,"Behavior":"release","TTL":"30s","NodeChecks":["serfHealth"],"ServiceChecks":null,"CreateIndex":7,"ModifyIndex":7}"#
        );
        let none = Session {
            node_checks: vec![],
            ..session
        };
        let v = serde_json::to_value(SessionJson::from(&none)).unwrap();
        assert!(v["NodeChecks"].is_null());
        assert_eq!(serde_json::to_string(&sessions_json(&[])).unwrap(), "[]");
    }
}
