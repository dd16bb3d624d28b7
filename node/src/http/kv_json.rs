//! The JSON shape of a KV entry, field for field as Consul's `DirEntry`.

use base64::Engine;
use concord_core::kv::KvEntry;
use serde::Serialize;

/// Consul's field order; `Session` only when a lock is held (Go's `omitempty`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KvEntryJson<'a> {
    pub lock_index: u64,
    pub key: &'a str,
    pub flags: u64,
    /// Base64. An empty value is `null`: Consul stores an empty PUT body as a nil slice, which
    /// Go encodes as null, and clients (py-consul, the Go api) expect exactly that.
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<&'a str>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl<'a> From<&'a KvEntry> for KvEntryJson<'a> {
    fn from(entry: &'a KvEntry) -> KvEntryJson<'a> {
        let value = (!entry.value.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&entry.value));
        KvEntryJson {
            lock_index: entry.lock_index,
            key: &entry.key,
            flags: entry.flags,
            value,
            session: entry.session.as_deref().filter(|s| !s.is_empty()),
            create_index: entry.create_index,
            modify_index: entry.modify_index,
        }
    }
}

pub fn entries_json(entries: &[KvEntry]) -> Vec<KvEntryJson<'_>> {
    entries.iter().map(KvEntryJson::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &[u8], session: Option<&str>) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.to_vec(),
            flags: 42,
            create_index: 5,
            modify_index: 7,
            lock_index: 0,
            session: session.map(String::from),
        }
    }

    #[test]
    fn entry_json_matches_consul() {
        let e = entry("web/config", b"hello", None);
        let text = serde_json::to_string(&KvEntryJson::from(&e)).unwrap();
        assert_eq!(
            text,
            r#"{"LockIndex":0,"Key":"web/config","Flags":42,"Value":"aGVsbG8=","CreateIndex":5,"ModifyIndex":7}"#
        );
    }

    #[test]
    fn empty_value_is_null_and_session_shows_when_held() {
        let e = entry("lock", b"", Some("adf4238a-882b-9ddc-4a9d-5b6758e4159e"));
        let v = serde_json::to_value(KvEntryJson::from(&e)).unwrap();
        assert!(v["Value"].is_null());
        assert_eq!(v["Session"], "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
    }

    #[test]
    fn binary_values_round_trip_through_base64() {
        let bytes: Vec<u8> = (0..=255).collect();
        let e = entry("bin", &bytes, None);
        let v = serde_json::to_value(KvEntryJson::from(&e)).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v["Value"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, bytes);
    }
}
