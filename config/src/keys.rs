//! What each config-file key means. JSON and HCL files are both read into a JSON value first,
//! so the two formats accept exactly the same keys and types.

use crate::layer::ConfigLayer;
use crate::level::Level;
use crate::ports;
use concord_core::duration::parse_setting_ms;
use serde_json::{Map, Value};

/// Keys Consul has that Concord reads but does not act on yet: a quiet note, not a warning
/// about a typo.
const ACCEPTED_IGNORED: [&str; 6] = [
    "leave_on_terminate",
    "skip_leave_on_interrupt",
    "rejoin_after_leave",
    "disable_update_check",
    "server_name",
    "log_file",
];

/// Reads the top-level object of one config file. Errors name the key and the reason;
/// unknown keys come back as warnings.
pub fn layer_from_value(value: &Value) -> Result<(ConfigLayer, Vec<String>), String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("expected an object of settings, got {}", kind(value)))?;
    let mut layer = ConfigLayer::default();
    let mut warnings = Vec::new();
    for (key, value) in object {
        if !apply_key(&mut layer, key, value, &mut warnings)? {
            warnings.push(unknown_key_warning(key));
        }
    }
    Ok((layer, warnings))
}

fn unknown_key_warning(key: &str) -> String {
    if ACCEPTED_IGNORED.contains(&key) {
        format!("config key {key:?} is not supported by Concord yet; ignored")
    } else {
        format!("unknown config key {key:?}; ignored")
    }
}

/// Sets one key; `false` when the key is unknown.
fn apply_key(
    layer: &mut ConfigLayer,
    key: &str,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<bool, String> {
    match key {
        "node_name" => layer.node_name = Some(string(key, value)?),
        "datacenter" => layer.datacenter = Some(string(key, value)?),
        "data_dir" => layer.data_dir = Some(string(key, value)?),
        "server" => layer.server = Some(boolean(key, value)?),
        "bootstrap" => layer.bootstrap = Some(boolean(key, value)?),
        "bootstrap_expect" => {
            layer.bootstrap_expect = Some(number(key, value, u32::MAX.into())? as u32)
        }
        "bind_addr" => layer.bind_addr = Some(string(key, value)?),
        "advertise_addr" => layer.advertise_addr = Some(string(key, value)?),
        "client_addr" => layer.client_addr = Some(string(key, value)?),
        "start_join" => layer.start_join = strings(key, value)?,
        "retry_join" => layer.retry_join = strings(key, value)?,
        "retry_interval" => layer.retry_interval_ms = Some(duration(key, value)?),
        "ports" => apply_ports(layer, value, warnings)?,
        "limits" => apply_limits(layer, value, warnings)?,
        "dns_config" => apply_dns(layer, value, warnings)?,
        "gossip_lan" => crate::gossip::read_gossip_lan(&mut layer.gossip, value, warnings)?,
        "autopilot" => crate::autopilot::read_autopilot(&mut layer.autopilot, value, warnings)?,
        "gossip_wan" => warnings.push(crate::gossip::GOSSIP_WAN_IGNORED.to_string()),
        "reconnect_timeout" => {
            layer.gossip.reconnect_timeout_ms = Some(crate::gossip::reconnect_timeout(key, value)?)
        }
        "domain" => layer.domain = Some(domain(key, value)?),
        "log_level" => layer.log_level = Some(level(key, value)?),
        "log_json" => layer.log_json = Some(boolean(key, value)?),
        "ui" => layer.ui = Some(boolean(key, value)?),
        "ui_config" => ui_config(layer, value, warnings)?,
        "ui_dir" => layer.ui_dir = Some(ui_dir(key, value)?),
        "encrypt" => return Err(encrypt_refused()),
        "enable_script_checks" => layer.enable_script_checks = Some(boolean(key, value)?),
        "enable_local_script_checks" => {
            layer.enable_local_script_checks = Some(boolean(key, value)?)
        }
        "check_update_interval" => layer.check_update_interval_ms = Some(duration(key, value)?),
        "service" | "services" | "check" | "checks" => {
            let definitions = crate::services::definitions(key, value)?;
            layer.services.extend(definitions);
        }
        "pid_file" => layer.pid_file = Some(string(key, value)?),
        "raft_snapshot_threshold" => layer.raft_snapshot_threshold = Some(positive(key, value)?),
        "raft_snapshot_interval" => layer.raft_snapshot_interval_ms = Some(duration(key, value)?),
        "raft_snapshot_chunk_bytes" => {
            layer.raft_snapshot_chunk_bytes = Some(positive(key, value)?)
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn apply_ports(
    layer: &mut ConfigLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, port) in block("ports", value)? {
        let key = format!("ports.{name}");
        match name.as_str() {
            "http" => layer.ports.http = Some(port_checked(&key, port, ports::or_off)?),
            "dns" => layer.ports.dns = Some(port_checked(&key, port, ports::or_off)?),
            "server" => layer.ports.server = Some(port_checked(&key, port, ports::required)?),
            "serf_lan" => layer.ports.serf_lan = Some(port_checked(&key, port, ports::required)?),
            // Ports of features Concord does not have (WAN, TLS, gRPC, Connect): checked as
            // Consul checks them, not used.
            "serf_wan" | "https" | "grpc" | "grpc_tls" => {
                port_checked(&key, port, ports::or_off)?;
            }
            "sidecar_min_port" | "sidecar_max_port" | "expose_min_port" | "expose_max_port" => {
                port_checked(&key, port, ports::range_bound)?;
            }
            _ => warnings.push(format!("unknown config key {key:?}; ignored")),
        }
    }
    Ok(())
}

/// `ui_config { enabled, dir }`; Consul's other UI keys (content_path, metrics) are noted and
/// ignored: Concord's UI lives at /ui/ and draws no metrics graphs.
fn ui_config(
    layer: &mut ConfigLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, inner) in block("ui_config", value)? {
        match name.as_str() {
            "enabled" => layer.ui = Some(boolean("ui_config.enabled", inner)?),
            "dir" => layer.ui_dir = Some(ui_dir("ui_config.dir", inner)?),
            _ => warnings.push(format!(
                "config key \"ui_config.{name}\" is not supported by Concord's UI; ignored"
            )),
        }
    }
    Ok(())
}

/// A UI directory: a non-empty path (that it holds an index.html is checked at start).
fn ui_dir(key: &str, value: &Value) -> Result<String, String> {
    let dir = string(key, value)?;
    if dir.trim().is_empty() {
        return Err(format!("key {key:?}: must name a directory"));
    }
    Ok(dir)
}

/// `limits { ... }`: the connection limits Concord enforces, under Consul's names (0 means no
/// per-client limit, as in Consul), plus Concord's `http_idle_timeout`; Consul's other limits
/// are read and ignored with a note.
fn apply_limits(
    layer: &mut ConfigLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, inner) in block("limits", value)? {
        let key = format!("limits.{name}");
        let limits = &mut layer.limits;
        let count = |inner| number(&key, inner, u32::MAX.into()).map(|n| n as usize);
        match name.as_str() {
            "http_max_conns_per_client" => limits.http_max_conns_per_client = Some(count(inner)?),
            "rpc_max_conns_per_client" => limits.rpc_max_conns_per_client = Some(count(inner)?),
            "http_idle_timeout" => match duration(&key, inner)? {
                0 => return Err(format!("key {key:?}: must be longer than 0s")),
                ms => limits.http_idle_timeout_ms = Some(ms),
            },
            "https_handshake_timeout"
            | "rpc_handshake_timeout"
            | "rpc_client_timeout"
            | "rpc_rate"
            | "rpc_max_burst"
            | "kv_max_value_size"
            | "txn_max_req_len"
            | "request_limits" => warnings.push(format!(
                "config key {key:?} is not supported by Concord yet; ignored"
            )),
            _ => warnings.push(format!("unknown config key {key:?}; ignored")),
        }
    }
    Ok(())
}

/// `dns_config { ... }`: the answer settings Concord's DNS interface honours; Consul's others
/// (recursion, caching, SOA timers...) are read and ignored with a note.
fn apply_dns(
    layer: &mut ConfigLayer,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, inner) in block("dns_config", value)? {
        let key = format!("dns_config.{name}");
        let dns = &mut layer.dns;
        let count = |inner| number(&key, inner, u32::MAX.into()).map(|n| n as usize);
        match name.as_str() {
            "only_passing" => dns.only_passing = Some(boolean(&key, inner)?),
            "enable_truncate" => dns.enable_truncate = Some(boolean(&key, inner)?),
            "allow_stale" => dns.allow_stale = Some(boolean(&key, inner)?),
            "a_record_limit" => dns.a_record_limit = Some(count(inner)?),
            "udp_answer_limit" => match count(inner)? {
                0 => return Err(format!("key {key:?}: must be greater than 0")),
                n => dns.udp_answer_limit = Some(n),
            },
            "node_ttl" => dns.node_ttl_ms = Some(duration(&key, inner)?),
            "service_ttl" => dns.service_ttl_ms = Some(service_ttls(&key, inner)?),
            _ => warnings.push(format!(
                "config key {key:?} is not supported by Concord yet; ignored"
            )),
        }
    }
    Ok(())
}

/// `service_ttl { "*" = "5s", "web" = "30s" }`: service name (or `prefix*`) to a duration.
fn service_ttls(
    key: &str,
    value: &Value,
) -> Result<std::collections::BTreeMap<String, u64>, String> {
    block(key, value)?
        .iter()
        .map(|(name, ttl)| Ok((name.clone(), duration(&format!("{key}.{name}"), ttl)?)))
        .collect()
}

/// `domain`: a non-empty DNS name, kept lower case with its trailing dot.
fn domain(key: &str, value: &Value) -> Result<String, String> {
    let text = string(key, value)?;
    concord_node::dns::config::normalize_domain(&text)
        .ok_or_else(|| format!("key {key:?}: {text:?} is not a domain name"))
}

/// A nested object. HCL blocks (`ports { http = 8500 }`) may arrive as a one-element list.
pub(crate) fn block<'a>(key: &str, value: &'a Value) -> Result<&'a Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Array(items) if items.len() == 1 && items[0].is_object() => block(key, &items[0]),
        other => Err(type_error(key, "an object", other)),
    }
}

fn string(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        other => Err(type_error(key, "a string", other)),
    }
}

/// A list of strings; a single string counts as a list of one.
fn strings(key: &str, value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items.iter().map(|item| string(key, item)).collect(),
        other => Err(type_error(key, "a list of strings", other)),
    }
}

/// `true`/`false`; also the strings "true"/"false", which Consul's weak decoding allows.
pub(crate) fn boolean(key: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(text) if text == "true" => Ok(true),
        Value::String(text) if text == "false" => Ok(false),
        other => Err(type_error(key, "true or false", other)),
    }
}

/// A whole number in `0..=max`; a string of digits counts (Consul's weak decoding).
pub(crate) fn number(key: &str, value: &Value, max: u64) -> Result<u64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n <= max => Ok(n),
        Some(_) => Err(format!("key {key:?}: {value} is too large (at most {max})")),
        None => Err(type_error(key, "a number", value)),
    }
}

/// A whole number of at least 1.
fn positive(key: &str, value: &Value) -> Result<u64, String> {
    match number(key, value, u64::MAX)? {
        0 => Err(format!("key {key:?}: must be at least 1")),
        n => Ok(n),
    }
}

/// A port number checked by `rule` (one of [`ports`]); a string of digits counts.
fn port_checked<T>(
    key: &str,
    value: &Value,
    rule: impl FnOnce(i64) -> Result<T, String>,
) -> Result<T, String> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    let number = parsed.ok_or_else(|| type_error(key, "a port number", value))?;
    rule(number).map_err(|why| format!("key {key:?}: {why}"))
}

/// Refusing beats gossiping in clear text while the operator believes it encrypted.
fn encrypt_refused() -> String {
    "key \"encrypt\": gossip encryption is not built into Concord yet, and it will not start \
     with a key it would ignore (gossip would go out unencrypted); remove the key"
        .to_string()
}

pub(crate) fn duration(key: &str, value: &Value) -> Result<u64, String> {
    let text =
        string(key, value).map_err(|_| type_error(key, "a duration such as \"30s\"", value))?;
    parse_setting_ms(&text).map_err(|why| format!("key {key:?}: {why}"))
}

fn level(key: &str, value: &Value) -> Result<Level, String> {
    Level::parse(&string(key, value)?).map_err(|why| format!("key {key:?}: {why}"))
}

fn type_error(key: &str, expected: &str, got: &Value) -> String {
    format!("key {key:?}: expected {expected}, got {got}")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_supported_key() {
        let value = json!({
            "node_name": "n1", "datacenter": "huanan", "data_dir": "/tmp/c", "server": true,
            "bootstrap_expect": 3, "bind_addr": "10.0.0.1", "advertise_addr": "10.0.0.2",
            "client_addr": "0.0.0.0", "retry_join": ["10.0.0.3"], "start_join": "10.0.0.4",
            "retry_interval": "5s", "ports": {"http": 8501, "dns": -1, "server": 8302, "serf_lan": 8303},
            "log_level": "warn", "log_json": true, "ui_config": {"enabled": true},
            "enable_script_checks": true
        });
        let (layer, warnings) = layer_from_value(&value).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(layer.node_name.as_deref(), Some("n1"));
        assert_eq!(layer.bootstrap_expect, Some(3));
        assert_eq!(layer.start_join, ["10.0.0.4"]);
        assert_eq!(layer.retry_interval_ms, Some(5_000));
        assert_eq!(layer.ports.http, Some(8501));
        assert_eq!(layer.ports.dns, Some(-1));
        assert_eq!(layer.ports.serf_lan, Some(8303));
        assert_eq!(layer.log_level, Some(Level::Warn));
        assert_eq!(layer.ui, Some(true));
    }

    #[test]
    fn ui_config_dir_turns_the_ui_on_from_that_directory() {
        let value =
            json!({"ui_config": {"dir": "/srv/ui", "content_path": "/x/"}, "data_dir": "/d"});
        let (layer, warnings) = layer_from_value(&value).unwrap();
        assert_eq!(layer.ui_dir.as_deref(), Some("/srv/ui"));
        assert!(
            warnings[0].contains("ui_config.content_path"),
            "{warnings:?}"
        );
        let plan = crate::plan::build(&layer, &crate::plan::tests::host()).unwrap();
        assert!(plan.ui);
        assert_eq!(plan.ui_dir, Some(std::path::PathBuf::from("/srv/ui")));
        let empty = json!({"ui_config": {"dir": " "}});
        assert!(layer_from_value(&empty)
            .unwrap_err()
            .contains("ui_config.dir"));
    }

    #[test]
    fn raft_snapshot_interval_is_a_duration_that_reaches_the_agent() {
        let value = json!({"raft_snapshot_interval": "5s", "raft_snapshot_threshold": 100,
            "data_dir": "/tmp/c"});
        let (layer, _) = layer_from_value(&value).unwrap();
        assert_eq!(layer.raft_snapshot_interval_ms, Some(5_000));
        let plan = crate::plan::build(&layer, &crate::plan::tests::host()).unwrap();
        assert_eq!(plan.node.agent.snapshot_interval_ms, 5_000);
        assert_eq!(plan.node.agent.snapshot_threshold_entries, 100);
        let err = layer_from_value(&json!({"raft_snapshot_interval": "soon"})).unwrap_err();
        assert!(
            err.starts_with(r#"key "raft_snapshot_interval": invalid duration"#),
            "{err}"
        );
    }

    #[test]
    fn type_errors_name_the_key_and_the_value() {
        let err = layer_from_value(&json!({"bootstrap_expect": "three"})).unwrap_err();
        assert_eq!(
            err,
            r#"key "bootstrap_expect": expected a number, got "three""#
        );
        let err = layer_from_value(&json!({"server": "yes"})).unwrap_err();
        assert_eq!(err, r#"key "server": expected true or false, got "yes""#);
        let err = layer_from_value(&json!({"ports": {"http": 70000}})).unwrap_err();
        assert_eq!(
            err,
            r#"key "ports.http": 70000 is not a port: use 1 to 65535, or -1 to turn the listener off"#
        );
        let err = layer_from_value(&json!({"retry_interval": "often"})).unwrap_err();
        assert!(
            err.starts_with(r#"key "retry_interval": invalid duration"#),
            "{err}"
        );
    }

    #[test]
    fn every_port_key_is_range_checked() {
        for (ports, want) in [
            (json!({"http": 0}), r#"key "ports.http": 0 is not a port"#),
            (json!({"dns": -5}), r#"key "ports.dns": -5 is not a port"#),
            (json!({"server": -1}), "cannot be turned off"),
            (
                json!({"serf_lan": "0"}),
                r#"key "ports.serf_lan": 0 is not a port"#,
            ),
            (json!({"grpc": 70000}), r#"key "ports.grpc": 70000"#),
            (json!({"https": 0}), r#"key "ports.https": 0"#),
            (
                json!({"sidecar_min_port": -1}),
                r#"key "ports.sidecar_min_port""#,
            ),
            (json!({"http": "web"}), "expected a port number"),
        ] {
            let err = layer_from_value(&json!({ "ports": ports })).unwrap_err();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        let off = json!({"ports": {"http": -1, "grpc": -1, "serf_wan": -1, "sidecar_min_port": 0}});
        let (layer, warnings) = layer_from_value(&off).unwrap();
        assert_eq!((layer.ports.http, warnings.len()), (Some(-1), 0));
    }

    #[test]
    fn encrypt_is_refused_not_ignored() {
        let err =
            layer_from_value(&json!({"encrypt": "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="}))
                .unwrap_err();
        assert!(
            err.starts_with(r#"key "encrypt": gossip encryption is not built"#),
            "{err}"
        );
    }

    #[test]
    fn weakly_typed_numbers_and_bools_are_accepted() {
        let (layer, _) =
            layer_from_value(&json!({"bootstrap_expect": "3", "server": "true"})).unwrap();
        assert_eq!(layer.bootstrap_expect, Some(3));
        assert_eq!(layer.server, Some(true));
    }

    #[test]
    fn limits_are_read_under_consul_names() {
        let value = json!({"limits": {"http_max_conns_per_client": 5, "rpc_max_conns_per_client": "7",
            "http_idle_timeout": "2s", "rpc_rate": 10, "http_max_conn": 1}});
        let (layer, warnings) = layer_from_value(&value).unwrap();
        assert_eq!(layer.limits.http_max_conns_per_client, Some(5));
        assert_eq!(layer.limits.rpc_max_conns_per_client, Some(7));
        assert_eq!(layer.limits.http_idle_timeout_ms, Some(2_000));
        assert_eq!(
            warnings,
            [
                r#"unknown config key "limits.http_max_conn"; ignored"#,
                r#"config key "limits.rpc_rate" is not supported by Concord yet; ignored"#,
            ]
        );
        let err = layer_from_value(&json!({"limits": {"http_idle_timeout": "0s"}})).unwrap_err();
        assert_eq!(
            err,
            r#"key "limits.http_idle_timeout": must be longer than 0s"#
        );
        let err = layer_from_value(&json!({"limits": {"http_max_conns_per_client": -1}}));
        assert!(err
            .unwrap_err()
            .contains("limits.http_max_conns_per_client"));
    }

    #[test]
    fn reads_dns_config_and_domain() {
        let value = json!({"domain": "Example.", "dns_config": {
            "only_passing": true, "udp_answer_limit": 5, "enable_truncate": "true",
            "a_record_limit": 2, "node_ttl": "10s", "allow_stale": false,
            "service_ttl": {"*": "5s", "web": "30s"}, "max_stale": "1h"}});
        let (layer, warnings) = layer_from_value(&value).unwrap();
        assert_eq!(layer.domain.as_deref(), Some("example."));
        let dns = &layer.dns;
        assert_eq!(
            (dns.only_passing, dns.enable_truncate, dns.allow_stale),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(
            (dns.udp_answer_limit, dns.a_record_limit, dns.node_ttl_ms),
            (Some(5), Some(2), Some(10_000))
        );
        let ttls = dns.service_ttl_ms.clone().unwrap();
        assert_eq!((ttls["*"], ttls["web"]), (5_000, 30_000));
        assert_eq!(
            warnings,
            [r#"config key "dns_config.max_stale" is not supported by Concord yet; ignored"#]
        );
    }

    #[test]
    fn bad_dns_config_values_name_the_key() {
        let cases = [
            (
                json!({"dns_config": {"udp_answer_limit": 0}}),
                r#"key "dns_config.udp_answer_limit": must be greater than 0"#,
            ),
            (
                json!({"dns_config": {"node_ttl": "soon"}}),
                r#"key "dns_config.node_ttl": "#,
            ),
            (
                json!({"dns_config": {"service_ttl": {"web": 5}}}),
                r#"key "dns_config.service_ttl.web": expected a duration"#,
            ),
            (
                json!({"dns_config": {"only_passing": 1}}),
                r#"key "dns_config.only_passing": expected true or false"#,
            ),
            (
                json!({"domain": "my domain"}),
                r#"key "domain": "my domain" is not a domain name"#,
            ),
        ];
        for (value, want) in cases {
            let err = layer_from_value(&value).unwrap_err();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
    }

    #[test]
    fn unknown_keys_warn() {
        let value = json!({"servr": true, "leave_on_terminate": true, "service": {"name": "web"}});
        let (layer, warnings) = layer_from_value(&value).unwrap();
        assert_eq!(
            warnings,
            [
                r#"config key "leave_on_terminate" is not supported by Concord yet; ignored"#,
                r#"unknown config key "servr"; ignored"#,
            ]
        );
        assert_eq!(
            layer.services.len(),
            1,
            "a service definition is read, not ignored"
        );
    }
}
