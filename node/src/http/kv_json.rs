//! A KV entry as Consul's JSON (`api_types::KvPair`, shared with the CLI).

use crate::api_types::KvPair;
use base64::Engine;
use concord_core::kv::KvEntry;

impl From<&KvEntry> for KvPair {
    fn from(entry: &KvEntry) -> KvPair {
        // An empty value is `null`, as Consul's (see `KvPair::value`).
        let value = (!entry.value.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&entry.value));
        KvPair {
            lock_index: entry.lock_index,
            key: entry.key.clone(),
            flags: entry.flags,
            value,
            session: entry.session.clone().filter(|s| !s.is_empty()),
            create_index: entry.create_index,
            modify_index: entry.modify_index,
        }
    }
}

pub fn entries_json(entries: &[KvEntry]) -> Vec<KvPair> {
    entries.iter().map(KvPair::from).collect()
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
        let text = serde_json::to_string(&KvPair::from(&e)).unwrap();
        assert_eq!(
            text,
            r#"{"LockIndex":0,"Key":"web/config","Flags":42,"Value":"aGVsbG8=","CreateIndex":5,"ModifyIndex":7}"#
        );
    }

    #[test]
    fn empty_value_is_null_and_session_shows_when_held() {
        let e = entry("lock", b"", Some("adf4238a-882b-9ddc-4a9d-5b6758e4159e"));
        let v = serde_json::to_value(KvPair::from(&e)).unwrap();
        assert!(v["Value"].is_null());
        assert_eq!(v["Session"], "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
    }

    #[test]
    fn binary_values_round_trip_through_base64() {
        let bytes: Vec<u8> = (0..=255).collect();
        let e = entry("bin", &bytes, None);
        let v = serde_json::to_value(KvPair::from(&e)).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v["Value"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, bytes);
    }
}
