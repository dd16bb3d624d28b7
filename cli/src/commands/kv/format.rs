//! How `kv get` and `kv export` print entries, byte for byte as Consul does (values are raw
//! bytes, not necessarily UTF-8).

use super::{pair_bytes, KvPair};
use base64::Engine;
use serde::Serialize;

/// Consul's tabwriter settings: column width is the widest label plus 6 spaces.
const DETAIL_PADDING: usize = 6;
const WIDEST_LABEL: usize = "CreateIndex".len();

fn value_bytes(pair: &KvPair, base64: bool) -> Vec<u8> {
    let bytes = pair_bytes(pair);
    if base64 {
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    } else {
        bytes
    }
}

/// `kv get KEY`: the value and a newline.
pub fn plain(pair: &KvPair, base64: bool) -> Vec<u8> {
    let mut out = value_bytes(pair, base64);
    out.push(b'\n');
    out
}

/// `kv get -recurse`: `key:value` lines.
pub fn recurse_line(pair: &KvPair, base64: bool) -> Vec<u8> {
    let mut out = format!("{}:", pair.key).into_bytes();
    out.extend(value_bytes(pair, base64));
    out.push(b'\n');
    out
}

/// `kv get -detailed`: every field, aligned.
pub fn detailed(pair: &KvPair, base64: bool) -> Vec<u8> {
    let session = pair
        .session
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("-");
    let fields = [
        ("CreateIndex", pair.create_index.to_string()),
        ("Flags", pair.flags.to_string()),
        ("Key", pair.key.clone()),
        ("LockIndex", pair.lock_index.to_string()),
        ("ModifyIndex", pair.modify_index.to_string()),
        ("Session", session.to_string()),
    ];
    let width = WIDEST_LABEL + DETAIL_PADDING;
    let mut out = Vec::new();
    for (label, value) in fields {
        out.extend(format!("{label:<width$}{value}\n").into_bytes());
    }
    out.extend(format!("{:<width$}", "Value").into_bytes());
    out.extend(value_bytes(pair, base64));
    out.push(b'\n');
    out
}

/// `kv get -recurse -detailed`: blocks separated by a blank line.
pub fn detailed_list(pairs: &[KvPair], base64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend(detailed(pair, base64));
    }
    out
}

/// `kv export` entries (Consul's field names and order).
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ExportEntry {
    pub key: String,
    pub flags: u64,
    /// Base64.
    pub value: String,
}

/// `kv export`: a tab-indented JSON list, as Go's `json.MarshalIndent(_, "", "\t")`.
pub fn export(pairs: &[KvPair]) -> String {
    let entries: Vec<ExportEntry> = pairs
        .iter()
        .map(|p| ExportEntry {
            key: p.key.clone(),
            flags: p.flags,
            value: p.value.clone().unwrap_or_default(),
        })
        .collect();
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing plain strings and numbers into memory cannot fail.
    entries
        .serialize(&mut serializer)
        .expect("export entries serialize");
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, value: &str) -> KvPair {
        KvPair {
            key: key.into(),
            flags: 42,
            value: Some(base64::engine::general_purpose::STANDARD.encode(value)),
            create_index: 5,
            modify_index: 7,
            ..Default::default()
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn plain_and_recurse() {
        assert_eq!(text(plain(&pair("key", "value"), false)), "value\n");
        assert_eq!(text(plain(&pair("key", "value"), true)), "dmFsdWU=\n");
        assert_eq!(text(recurse_line(&pair("a/b", "v"), false)), "a/b:v\n");
        let empty = KvPair {
            key: "e".into(),
            ..Default::default()
        };
        assert_eq!(text(plain(&empty, false)), "\n");
    }

    #[test]
    fn detailed_matches_consuls_tabwriter() {
        let expected = "\
CreateIndex      5
Flags            42
Key              key
LockIndex        0
ModifyIndex      7
Session          -
Value            value
";
        assert_eq!(text(detailed(&pair("key", "value"), false)), expected);
        let two = text(detailed_list(&[pair("a", "1"), pair("b", "2")], false));
        assert!(two.contains("Value            1\n\nCreateIndex"), "{two}");
    }

    #[test]
    fn export_is_tab_indented_json() {
        let expected =
            "[\n\t{\n\t\t\"key\": \"a\",\n\t\t\"flags\": 42,\n\t\t\"value\": \"MQ==\"\n\t}\n]";
        assert_eq!(export(&[pair("a", "1")]), expected);
        assert_eq!(export(&[]), "[]");
    }
}
