//! `service {}`, `services []`, `check {}` and `checks []` of config files: Consul's
//! service and check definitions, registered by the agent at start as if sent to
//! `/v1/agent/service/register` or `/v1/agent/check/register`. JSON and HCL both arrive as
//! a JSON value; keys match in any case or snake_case, as Consul's decoder does.

use concord_core::agent::LocalRequest;
use concord_node::api_types::agent::{
    CheckDefinition, ServiceDefinition, SERVICE_FIELDS, SERVICE_OPAQUE_FIELDS,
};
use serde_json::{Map, Value};

/// Definitions one file may hold (the agent holds at most `LOCAL_SERVICES_MAX` anyway).
pub const DEFINITIONS_PER_FILE_MAX: usize = 512;

/// The definitions under `key` (one of `service`, `services`, `check`, `checks`); errors
/// name the key, the definition and the reason.
pub fn definitions(key: &str, value: &Value) -> Result<Vec<LocalRequest>, String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    if items.len() > DEFINITIONS_PER_FILE_MAX {
        let count = items.len();
        return Err(format!(
            "{key}: {count} definitions, at most {DEFINITIONS_PER_FILE_MAX} per file"
        ));
    }
    let is_service = matches!(key, "service" | "services");
    let one = |item: &Value| match is_service {
        true => service(item),
        false => check(item),
    };
    let named = |(n, item): (usize, &Value)| {
        one(item).map_err(|why| format!("{key}[{n}] {}: {why}", name_of(item)))
    };
    items.into_iter().enumerate().map(named).collect()
}

fn service(item: &Value) -> Result<LocalRequest, String> {
    let value = canonical(item)?;
    let definition: ServiceDefinition = serde_json::from_value(value).map_err(|e| e.to_string())?;
    definition.into_request(false)
}

fn check(item: &Value) -> Result<LocalRequest, String> {
    let value = canonical(item)?;
    let definition: CheckDefinition = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let check = Box::new(definition.into_input()?);
    Ok(LocalRequest::RegisterCheck { check })
}

/// The definition's name for error messages.
fn name_of(item: &Value) -> String {
    let name = item.as_object().and_then(|o| {
        let key = o.keys().find(|k| k.eq_ignore_ascii_case("name"))?;
        o[key].as_str().map(str::to_string)
    });
    name.map(|n| format!("{n:?}")).unwrap_or_default()
}

/// Keys renamed to their canonical spelling, `null`s dropped, and a `check` given as a list
/// (HCL's repeated blocks) moved to `Checks`.
fn canonical(item: &Value) -> Result<Value, String> {
    let Value::Object(map) = item else {
        return Err(format!("expected an object, got {item}"));
    };
    let mut out = Map::new();
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        let name = canonical_name(key).unwrap_or(key.as_str()).to_string();
        let value = match (name.as_str(), value) {
            (n, v) if SERVICE_OPAQUE_FIELDS.contains(&n) => v.clone(),
            (_, Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|v| {
                        if v.is_object() {
                            canonical(v)
                        } else {
                            Ok(v.clone())
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (_, v @ Value::Object(_)) => canonical(v)?,
            (_, v) => v.clone(),
        };
        match (name.as_str(), value) {
            ("Check", Value::Array(items)) => out.insert("Checks".into(), Value::Array(items)),
            (_, value) => out.insert(name, value),
        };
    }
    Ok(Value::Object(out))
}

fn canonical_name(key: &str) -> Option<&'static str> {
    let folded = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = folded(key);
    SERVICE_FIELDS.iter().copied().find(|f| folded(f) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::{parse_text, Format};
    use concord_core::agent::local::CheckKind;

    #[test]
    fn hcl_and_json_service_definitions_read_alike() {
        let hcl = r#"service {
            name = "web"
            port = 8080
            tags = ["a"]
            check {
              http = "http://127.0.0.1:8080/health"
              interval = "5s"
            }
        }"#;
        let json = r#"{"service": {"Name": "web", "Port": 8080, "tags": ["a"],
            "Check": {"HTTP": "http://127.0.0.1:8080/health", "interval": "5s"}}}"#;
        let from = |text, format| {
            let value = parse_text(text, format).unwrap();
            definitions("service", &value["service"]).unwrap()
        };
        let (a, b) = (from(hcl, Format::Hcl), from(json, Format::Json));
        assert_eq!(a, b);
        let LocalRequest::RegisterService {
            service, checks, ..
        } = &a[0]
        else {
            panic!("{a:?}")
        };
        assert_eq!((service.name.as_str(), service.port), ("web", 8080));
        assert!(matches!(checks[0].kind, CheckKind::Http { .. }));
    }

    #[test]
    fn check_update_interval_is_read_with_the_definitions() {
        let value = serde_json::json!({"check_update_interval": "0s",
            "check": {"name": "disk", "ttl": "1m"}});
        let (layer, warnings) = crate::keys::layer_from_value(&value).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(layer.check_update_interval_ms, Some(0));
        assert!(matches!(
            &layer.services[..],
            [LocalRequest::RegisterCheck { .. }]
        ));
    }

    #[test]
    fn a_bad_definition_names_the_key_the_service_and_the_reason() {
        let value = serde_json::json!([{"name": "web", "check": {"tcp": "x:1"}}]);
        let err = definitions("services", &value).unwrap_err();
        assert!(
            err.starts_with(r#"services[0] "web": Invalid check"#),
            "{err}"
        );
        let err = definitions("service", &serde_json::json!("web")).unwrap_err();
        assert!(err.contains("expected an object"), "{err}");
    }
}
