//! The bodies of `PUT /v1/catalog/register` and `/deregister` as Consul's clients send them:
//! keys in any case or snake_case (`json_body`), `null` for anything absent (the Go api sends
//! `"Check":null,"Checks":null`), durations as Go strings or integer nanoseconds. Fields
//! Concord does not keep (mesh, namespaces, locality) are ignored, not refused.

use super::errors::HttpError;
use super::json_body::{decode_json, BodyFields};
use crate::api_types::catalog::{ServiceAddress, Weights};
use concord_core::catalog as core;
use concord_core::duration::{format_go_duration, parse_go_duration};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub node_meta: BTreeMap<String, String>,
    pub service: Option<ServiceBody>,
    pub check: Option<CheckBody>,
    pub checks: Vec<CheckBody>,
    pub skip_node_update: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceBody {
    #[serde(rename = "ID")]
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    pub meta: BTreeMap<String, String>,
    pub port: u16,
    pub weights: Option<Weights>,
    pub enable_tag_override: bool,
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckBody {
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub name: String,
    pub notes: String,
    pub status: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub output: String,
    #[serde(rename = "Type")]
    pub check_type: String,
    /// The Go api's `AgentCheck` carries these at the top too; `Definition`'s win.
    pub interval: Option<Value>,
    pub timeout: Option<Value>,
    pub definition: DefinitionBody,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DefinitionBody {
    #[serde(rename = "HTTP")]
    pub http: String,
    pub header: BTreeMap<String, Vec<String>>,
    pub method: String,
    pub body: String,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    pub tcp: String,
    #[serde(rename = "GRPC")]
    pub grpc: String,
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
    pub interval: Option<Value>,
    pub timeout: Option<Value>,
    pub deregister_critical_service_after: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeregisterBody {
    pub node: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub datacenter: String,
}

/// Every field name of both bodies, for case- and snake_case-insensitive matching.
#[rustfmt::skip]
const KNOWN: &[&str] = &[
    "ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta", "Service", "Check",
    "Checks", "SkipNodeUpdate", "Tags", "Meta", "Port", "Weights", "Passing", "Warning",
    "EnableTagOverride", "Kind", "CheckID", "Name", "Notes", "Status", "ServiceID", "Output",
    "Type", "Definition", "HTTP", "Header", "Method", "Body", "TLSServerName", "TLSSkipVerify",
    "TCP", "GRPC", "GRPCUseTLS", "Interval", "Timeout", "DeregisterCriticalServiceAfter",
];
/// User maps: their keys are data, kept as sent.
const OPAQUE: &[&str] = &["NodeMeta", "Meta", "Header", "TaggedAddresses"];

/// Decodes a body: keys matched as Go matches them, `null` read as absent.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    let fields = BodyFields {
        known: KNOWN,
        opaque: OPAQUE,
    };
    decode_json(body, fields)
}

/// The registration as the core takes it; the node's datacenter is ours.
pub fn registration(body: RegisterBody, datacenter: &str) -> Result<core::Registration, HttpError> {
    let checks = body.check.into_iter().chain(body.checks);
    let checks = checks.map(check).collect::<Result<Vec<_>, _>>()?;
    Ok(core::Registration {
        node: core::NodeRegistration {
            name: body.node,
            id: body.id,
            address: body.address,
            datacenter: datacenter.to_string(),
            tagged_addresses: body.tagged_addresses,
            meta: body.node_meta,
        },
        service: body.service.map(service),
        checks,
        skip_node_update: body.skip_node_update,
    })
}

fn service(body: ServiceBody) -> core::ServiceRegistration {
    // The Go api always sends Weights, zero when unset: Consul then uses its default.
    let weights = match body.weights {
        None
        | Some(Weights {
            passing: 0,
            warning: 0,
        }) => core::Weights::default(),
        Some(w) => core::Weights {
            passing: w.passing,
            warning: w.warning,
        },
    };
    let tagged = body.tagged_addresses.into_iter();
    core::ServiceRegistration {
        id: body.id,
        name: body.service,
        tags: body.tags,
        address: body.address,
        port: body.port,
        meta: body.meta,
        weights,
        enable_tag_override: body.enable_tag_override,
        kind: body.kind,
        tagged_addresses: tagged
            .map(|(k, a)| {
                (
                    k,
                    core::ServiceAddress {
                        address: a.address,
                        port: a.port,
                    },
                )
            })
            .collect(),
    }
}

fn check(body: CheckBody) -> Result<core::CheckRegistration, HttpError> {
    // Consul registers a check critical unless it says otherwise.
    let status = match body.status.as_str() {
        "" => core::CheckStatus::Critical,
        text => {
            core::parse_check_status(text).map_err(|e| HttpError::bad_request(e.to_string()))?
        }
    };
    let d = body.definition;
    let interval = duration(d.interval.or(body.interval), "Interval")?;
    let timeout = duration(d.timeout.or(body.timeout), "Timeout")?;
    let deregister_after = duration(
        d.deregister_critical_service_after,
        "DeregisterCriticalServiceAfter",
    )?;
    Ok(core::CheckRegistration {
        check_id: body.check_id,
        name: body.name,
        status,
        notes: body.notes,
        output: body.output,
        service_id: body.service_id,
        check_type: body.check_type,
        interval: interval.clone(),
        timeout: timeout.clone(),
        definition: core::CheckDefinition {
            http: d.http,
            method: d.method,
            header: d.header,
            body: d.body,
            tls_server_name: d.tls_server_name,
            tls_skip_verify: d.tls_skip_verify,
            tcp: d.tcp,
            grpc: d.grpc,
            grpc_use_tls: d.grpc_use_tls,
            interval,
            timeout,
            deregister_critical_service_after: deregister_after,
        },
    })
}

/// A duration as Go writes it ("10s", "1m30s"), from a Go string or integer nanoseconds;
/// "" when absent.
fn duration(value: Option<Value>, field: &str) -> Result<String, HttpError> {
    let bad =
        |why: String| HttpError::bad_request(format!("Request decode failed: {field}: {why}"));
    let parsed = match value {
        None => return Ok(String::new()),
        Some(Value::String(text)) if text.is_empty() => return Ok(String::new()),
        Some(Value::String(text)) => parse_go_duration(&text).map_err(bad)?,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(nanos) => Duration::from_nanos(nanos),
            None => return Err(bad(format!("{n} is not a duration in nanoseconds"))),
        },
        Some(other) => return Err(bad(format!("{other} is not a duration"))),
    };
    Ok(format_go_duration(parsed))
}

/// The deregistration as the core takes it: the node alone, or one service or check on it.
pub fn deregistration(body: DeregisterBody) -> core::CatalogCommand {
    let some = |s: String| (!s.is_empty()).then_some(s);
    core::CatalogCommand::Deregister {
        node: body.node,
        service_id: some(body.service_id),
        check_id: some(body.check_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_api_body_with_nulls_zero_weights_and_any_case_decodes() {
        let body = br#"{"Node":"n1","address":"10.0.0.1","NodeMeta":{"Rack":"r1"},
            "Service":{"ID":"web1","Service":"web","Tags":null,"Weights":{"Passing":0,"Warning":0},
                       "enable_tag_override":true,"Proxy":null},
            "Check":{"Name":"alive","Status":"passing","service_id":"web1",
                     "Interval":"5s","Definition":{"Interval":"1m30s","timeout":10000000000}},
            "Checks":null}"#;
        let reg = registration(decode(body).unwrap(), "dc1").unwrap();
        let service = reg.service.expect("a service");
        assert_eq!(
            (service.weights, service.enable_tag_override),
            (core::Weights::default(), true)
        );
        assert_eq!(reg.node.meta["Rack"], "r1", "user keys kept as sent");
        let check = &reg.checks[0];
        assert_eq!(
            (check.service_id.as_str(), check.status),
            ("web1", core::CheckStatus::Passing)
        );
        assert_eq!(
            (check.interval.as_str(), check.timeout.as_str()),
            ("1m30s", "10s")
        );
    }

    #[test]
    fn bad_statuses_and_durations_are_400() {
        let body = br#"{"Node":"n1","Check":{"Name":"c","Status":"ok"}}"#;
        let err = registration(decode(body).unwrap(), "dc1").unwrap_err();
        assert!(
            err.reason.contains("Invalid check status: 'ok'"),
            "{}",
            err.reason
        );
        let body = br#"{"Node":"n1","Check":{"Name":"c","Definition":{"Interval":"10"}}}"#;
        let err = registration(decode(body).unwrap(), "dc1").unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.reason.contains("Interval")),
            (400, true)
        );
    }

    #[test]
    fn a_top_level_interval_is_used_when_the_definition_has_none() {
        let body = br#"{"Node":"n1","Check":{"Name":"c","Interval":"5s","Timeout":null}}"#;
        let reg = registration(decode(body).unwrap(), "dc1").unwrap();
        let check = &reg.checks[0];
        assert_eq!(
            (check.interval.as_str(), check.timeout.as_str()),
            ("5s", "")
        );
        assert_eq!(check.definition.interval, "5s");
    }
}
