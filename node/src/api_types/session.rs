//! A session as Consul shows it (`/v1/session/info`, `/list`, `/node`, `/renew`): written by
//! the node's HTTP server (`http/session_json.rs` builds it from a stored session) and read
//! back by the real-process runner's client.

use serde::{Deserialize, Serialize};

/// One session, in Consul's field order. `LockDelay` is integer nanoseconds (the Go api
/// decodes it into a time.Duration); empty check lists are `null`, as Go's nil slices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionJson {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub node: String,
    pub lock_delay: u64,
    /// `release` or `delete`.
    pub behavior: String,
    #[serde(rename = "TTL")]
    pub ttl: String,
    pub node_checks: Option<Vec<String>>,
    pub service_checks: Option<Vec<ServiceCheckJson>>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A service check a session watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceCheckJson {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
}
