//! Request bodies decoded as Consul decodes them: field names match in any case (`"name"`,
//! `"Name"`, `"NAME"`) and in snake_case (`"enable_tag_override"` for `EnableTagOverride`),
//! because Consul's clients and users send all of these. For the endpoints that take bodies
//! (services, checks, sessions, txn); KV takes raw values.

use super::errors::HttpError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The fields an endpoint's body may hold.
#[derive(Clone, Copy, Debug)]
pub struct BodyFields<'a> {
    /// Canonical (serde) names of the fields at any depth, e.g. `["Name", "Check", "TTL"]`.
    pub known: &'a [&'a str],
    /// Fields whose values are the user's own maps (`Meta`, `NodeMeta`, `Header`): their keys
    /// are data, so they are kept exactly as sent.
    pub opaque: &'a [&'a str],
}

/// Decodes `body` into `T` after renaming every known field to its canonical spelling; a
/// `null` member reads as absent (the Go api sends `"Check":null,"Checks":null`, and Go leaves
/// a field alone when it decodes a null). Failures are 400 with Consul's "Request decode
/// failed" prefix.
pub fn decode_json<T: DeserializeOwned>(
    body: &[u8],
    fields: BodyFields<'_>,
) -> Result<T, HttpError> {
    let fail = |e: serde_json::Error| HttpError::bad_request(format!("Request decode failed: {e}"));
    let mut value: Value = serde_json::from_slice(body).map_err(fail)?;
    canonicalize_keys(&mut value, fields);
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(fail)
}

/// Removes `null` members of objects, recursively.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Renames object keys that match a known field, ignoring case and `_`/`-`, recursively,
/// except inside opaque fields. Unknown keys are left alone, so `#[serde(deny_unknown_fields)]`
/// still reports them by the name the client used.
pub fn canonicalize_keys(value: &mut Value, fields: BodyFields<'_>) {
    match value {
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| canonicalize_keys(item, fields)),
        Value::Object(map) => {
            let renamed: Map<String, Value> = std::mem::take(map)
                .into_iter()
                .map(|(key, mut child)| {
                    let key = canonical_name(&key, fields.known).map_or(key, String::from);
                    if !fields.opaque.contains(&key.as_str()) {
                        canonicalize_keys(&mut child, fields);
                    }
                    (key, child)
                })
                .collect();
            *map = renamed;
        }
        _ => {}
    }
}

fn canonical_name<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let wanted = folded(key);
    known.iter().copied().find(|name| folded(name) == wanted)
}

/// The spelling-insensitive form of a field name.
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Check {
        #[serde(rename = "TTL")]
        ttl: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Service {
        name: String,
        #[serde(default)]
        enable_tag_override: bool,
        #[serde(default)]
        meta: BTreeMap<String, String>,
        #[serde(default)]
        checks: Vec<Check>,
    }

    const FIELDS: BodyFields<'static> = BodyFields {
        known: &["Name", "EnableTagOverride", "Meta", "Checks", "TTL"],
        opaque: &["Meta"],
    };

    #[test]
    fn keys_match_in_any_case_and_snake_case() {
        let body = br#"{"NAME":"web","enable_tag_override":true,"checks":[{"ttl":"10s"}],
                        "meta":{"Version":"1","name":"kept"}}"#;
        let service: Service = decode_json(body, FIELDS).unwrap();
        assert_eq!(service.name, "web");
        assert!(service.enable_tag_override);
        assert_eq!(service.checks, vec![Check { ttl: "10s".into() }]);
        // User map keys are data: neither renamed nor lower-cased.
        assert_eq!(service.meta["Version"], "1");
        assert_eq!(service.meta["name"], "kept");
    }

    #[test]
    fn bad_bodies_are_400() {
        let err = decode_json::<Service>(b"{not json", FIELDS).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert!(err.reason.starts_with("Request decode failed"));
        let err = decode_json::<Service>(br#"{"Name":"x","Bogus":1}"#, FIELDS).unwrap_err();
        assert!(err.reason.contains("Bogus"), "{}", err.reason);
    }
}
