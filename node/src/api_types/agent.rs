//! The agent's own services and checks as Consul's clients send them (`AgentServiceRegistration`,
//! `AgentServiceCheck`, `AgentCheckRegistration`) and as `/v1/agent/*` answers them; turned
//! into the core's requests here, so the HTTP API, config files and the CLI register a
//! service the same way. Serde only (builds under madsim): key spellings are made canonical
//! by the caller (`SERVICE_FIELDS`).

use super::catalog::{AgentService, HealthCheck, ServiceAddress, Weights};
use concord_core::agent::local::check::{
    CHECK_TIMEOUT_MS_DEFAULT, DEREGISTER_CRITICAL_AFTER_MS_MIN, SCRIPT_ARGS_MAX,
    SCRIPT_ARG_BYTES_MAX,
};
use concord_core::agent::local::{CheckInput, CheckKind, LocalRequest};
use concord_core::catalog as core;
use concord_core::duration::{format_go_ms, parse_go_duration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every field of a service or check definition, canonical spelling (keys are matched in any
/// case and in snake_case against these).
#[rustfmt::skip]
pub const SERVICE_FIELDS: &[&str] = &[
    "ID", "Name", "Tags", "Port", "Address", "TaggedAddresses", "Meta", "Weights", "Passing",
    "Warning", "EnableTagOverride", "Kind", "Check", "Checks", "CheckID", "Notes", "ServiceID",
    "Status", "Output", "ScriptArgs", "Args", "HTTP", "Header", "Method", "Body", "TLSSkipVerify",
    "TLSServerName", "TCP", "GRPC", "GRPCUseTLS", "TTL", "Interval", "Timeout",
    "DeregisterCriticalServiceAfter", "SuccessBeforePassing", "FailuresBeforeCritical",
    "FailuresBeforeWarning", "DockerContainerID", "Shell", "UDP", "H2PING", "AliasNode",
    "AliasService", "OSService", "Service",
];
/// User maps: their keys are data.
pub const SERVICE_OPAQUE_FIELDS: &[&str] = &["Meta", "Header", "TaggedAddresses"];

/// A Go duration string ("10s") or integer nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Text(String),
    Nanos(u64),
}

impl DurationValue {
    fn ms(&self, field: &str) -> Result<u64, String> {
        match self {
            DurationValue::Nanos(n) => Ok(n / 1_000_000),
            DurationValue::Text(t) if t.is_empty() => Ok(0),
            DurationValue::Text(t) => parse_go_duration(t)
                .map(|d| d.as_millis() as u64)
                .map_err(|e| format!("Request decode failed: {field}: {e}")),
        }
    }
}

/// `AgentServiceRegistration` (also a config file's `service {}`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceDefinition {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub port: u16,
    pub address: String,
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    pub meta: BTreeMap<String, String>,
    pub weights: Option<Weights>,
    pub enable_tag_override: bool,
    pub kind: String,
    pub check: Option<CheckDefinition>,
    pub checks: Vec<CheckDefinition>,
}

/// `AgentServiceCheck`, and `AgentCheckRegistration` (`ID`, `ServiceID` set).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckDefinition {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub name: String,
    pub notes: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub status: String,
    pub script_args: Vec<String>,
    pub args: Vec<String>,
    #[serde(rename = "HTTP")]
    pub http: String,
    pub header: BTreeMap<String, Vec<String>>,
    pub method: String,
    pub body: String,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    #[serde(rename = "TCP")]
    pub tcp: String,
    #[serde(rename = "GRPC")]
    pub grpc: String,
    #[serde(rename = "DockerContainerID")]
    pub docker_container_id: String,
    #[serde(rename = "UDP")]
    pub udp: String,
    #[serde(rename = "H2PING")]
    pub h2ping: String,
    pub alias_service: String,
    #[serde(rename = "OSService")]
    pub os_service: String,
    #[serde(rename = "TTL")]
    pub ttl: Option<DurationValue>,
    pub interval: Option<DurationValue>,
    pub timeout: Option<DurationValue>,
    pub deregister_critical_service_after: Option<DurationValue>,
    pub success_before_passing: u32,
    pub failures_before_critical: u32,
}

impl ServiceDefinition {
    /// The core's registration request; errors carry Consul's messages.
    pub fn into_request(self, replace_existing_checks: bool) -> Result<LocalRequest, String> {
        // The Go api always sends Weights, zero when unset: Consul then uses its default.
        let weights = match self.weights {
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
        let tagged = self.tagged_addresses.into_iter().map(|(k, a)| {
            (
                k,
                core::ServiceAddress {
                    address: a.address,
                    port: a.port,
                },
            )
        });
        let service = core::ServiceRegistration {
            id: self.id,
            name: self.name,
            tags: self.tags,
            address: self.address,
            port: self.port,
            meta: self.meta,
            weights,
            enable_tag_override: self.enable_tag_override,
            kind: self.kind,
            tagged_addresses: tagged.collect(),
        };
        let checks = self.check.into_iter().chain(self.checks);
        let checks = checks
            .map(|c| c.into_input())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LocalRequest::RegisterService {
            service: Box::new(service),
            checks,
            replace_existing_checks,
        })
    }
}

impl CheckDefinition {
    /// The core's check; `ID` or `CheckID` names it (the core fills Consul's defaults).
    pub fn into_input(self) -> Result<CheckInput, String> {
        let Durations {
            ttl_ms,
            interval_ms,
            timeout_ms,
            deregister_ms,
        } = self.durations()?;
        let status = match self.status.as_str() {
            "" => core::CheckStatus::Critical,
            text => core::parse_check_status(text).map_err(|e| e.to_string())?,
        };
        let kind = self.kind(ttl_ms, interval_ms)?;
        let runs = kind.is_run();
        let text = |ms: u64| {
            if runs {
                format_go_ms(ms)
            } else {
                String::new()
            }
        };
        let definition = core::CheckDefinition {
            http: self.http,
            method: self.method,
            header: self.header,
            body: self.body,
            tls_server_name: self.tls_server_name,
            tls_skip_verify: self.tls_skip_verify,
            tcp: self.tcp,
            grpc: self.grpc,
            grpc_use_tls: false,
            interval: text(interval_ms),
            timeout: text(timeout_ms),
            deregister_critical_service_after: match deregister_ms {
                0 => String::new(),
                ms => format_go_ms(ms),
            },
        };
        let check = core::CheckRegistration {
            check_id: if self.check_id.is_empty() {
                self.id
            } else {
                self.check_id
            },
            name: self.name,
            status,
            notes: self.notes,
            output: String::new(),
            service_id: self.service_id,
            check_type: String::new(),
            interval: text(interval_ms),
            timeout: text(timeout_ms),
            definition,
        };
        Ok(CheckInput {
            check,
            kind,
            interval_ms,
            timeout_ms,
            success_before_passing: self.success_before_passing,
            failures_before_critical: self.failures_before_critical,
            deregister_critical_service_after_ms: deregister_ms,
        })
    }

    /// The definition's durations in milliseconds, with Consul's default timeout and its
    /// floor for `DeregisterCriticalServiceAfter`.
    fn durations(&self) -> Result<Durations, String> {
        let ms = |v: &Option<DurationValue>, field| v.as_ref().map_or(Ok(0), |d| d.ms(field));
        let deregister_ms = ms(
            &self.deregister_critical_service_after,
            "DeregisterCriticalServiceAfter",
        )?;
        Ok(Durations {
            ttl_ms: ms(&self.ttl, "TTL")?,
            interval_ms: ms(&self.interval, "Interval")?,
            timeout_ms: match ms(&self.timeout, "Timeout")? {
                0 => CHECK_TIMEOUT_MS_DEFAULT,
                t => t,
            },
            deregister_ms: match deregister_ms {
                0 => 0,
                t => t.max(DEREGISTER_CRITICAL_AFTER_MS_MIN),
            },
        })
    }

    /// Which kind of check the definition is; Consul's "Invalid check" otherwise.
    fn kind(&self, ttl_ms: u64, interval_ms: u64) -> Result<CheckKind, String> {
        let args = if self.script_args.is_empty() {
            &self.args
        } else {
            &self.script_args
        };
        let needs_interval = !args.is_empty() || !self.http.is_empty() || !self.tcp.is_empty();
        if ttl_ms > 0 {
            return Ok(CheckKind::Ttl { ttl_ms });
        }
        if needs_interval && interval_ms == 0 {
            return Err(
                "Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks".into(),
            );
        }
        if !args.is_empty() {
            if args.len() > SCRIPT_ARGS_MAX || args.iter().any(|a| a.len() > SCRIPT_ARG_BYTES_MAX) {
                return Err(format!("Invalid check: at most {SCRIPT_ARGS_MAX} script arguments of {SCRIPT_ARG_BYTES_MAX} bytes each"));
            }
            return Ok(CheckKind::Script { args: args.clone() });
        }
        if !self.http.is_empty() {
            let method = match self.method.as_str() {
                "" => "GET",
                m => m,
            };
            return Ok(CheckKind::Http {
                url: self.http.clone(),
                method: method.to_string(),
                header: self.header.clone(),
                body: self.body.clone(),
                tls_skip_verify: self.tls_skip_verify,
            });
        }
        if !self.tcp.is_empty() {
            return Ok(CheckKind::Tcp {
                addr: self.tcp.clone(),
            });
        }
        let unsupported = [
            &self.grpc,
            &self.docker_container_id,
            &self.udp,
            &self.h2ping,
            &self.alias_service,
            &self.os_service,
        ];
        if unsupported.iter().any(|f| !f.is_empty()) {
            return Err("Invalid check: Concord runs TTL, HTTP, TCP and script checks only".into());
        }
        Err("Invalid check: Must provide TTL or Script/HTTP/TCP and Interval".into())
    }
}

struct Durations {
    ttl_ms: u64,
    interval_ms: u64,
    timeout_ms: u64,
    deregister_ms: u64,
}

/// `GET /v1/agent/services` and `/v1/agent/service/:id`: `api.AgentService` with the
/// agent's datacenter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalAgentService {
    #[serde(flatten)]
    pub service: AgentService,
    /// Set on `agent/service/:id` only (Go's `omitempty`): what `?hash=` blocks on.
    #[serde(
        rename = "ContentHash",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub content_hash: String,
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
}

/// `GET /v1/agent/health/service/*`: `api.AgentServiceChecksInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentServiceChecksInfo {
    pub aggregated_status: String,
    pub service: LocalAgentService,
    pub checks: Vec<HealthCheck>,
}

/// Go's `HealthChecks.AggregatedStatus()`: maintenance first, then the worst status; no
/// checks is passing.
pub fn aggregated_status(checks: &[HealthCheck]) -> &'static str {
    let maintenance = |c: &HealthCheck| {
        c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:")
    };
    if checks.iter().any(maintenance) {
        return "maintenance";
    }
    let has = |s: &str| checks.iter().any(|c| c.status == s);
    match () {
        _ if has("critical") => "critical",
        _ if has("warning") => "warning",
        _ => "passing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_becomes_the_kind_consul_runs() {
        let http = CheckDefinition {
            http: "http://127.0.0.1:1/h".into(),
            interval: Some(DurationValue::Text("5s".into())),
            ..Default::default()
        };
        let input = http.into_input().unwrap();
        assert!(matches!(input.kind, CheckKind::Http { ref method, .. } if method == "GET"));
        assert_eq!(
            (input.timeout_ms, input.check.interval.as_str()),
            (10_000, "5s")
        );
        let no_interval = CheckDefinition {
            tcp: "x:1".into(),
            ..Default::default()
        };
        assert!(no_interval.into_input().unwrap_err().contains("Interval"));
        let ttl = CheckDefinition {
            ttl: Some(DurationValue::Nanos(30_000_000_000)),
            deregister_critical_service_after: Some(DurationValue::Text("10s".into())),
            ..Default::default()
        };
        let input = ttl.into_input().unwrap();
        assert_eq!(input.kind, CheckKind::Ttl { ttl_ms: 30_000 });
        assert_eq!(
            input.deregister_critical_service_after_ms, 60_000,
            "raised to 1m"
        );
    }
}
