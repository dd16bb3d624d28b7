//! The answer of `PUT /v1/txn`: written by the node's HTTP server (`http/txn_json.rs`) and
//! read back by the real-process runner's client.

use super::KvPair;
use serde::{Deserialize, Serialize};

/// `{"Results":..,"Errors":..}`: exactly one of them non-null, as Consul's (an empty list of
/// results, from a transaction of deletes, is `null` too, as Go's nil slice).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnAnswer {
    #[serde(rename = "Results")]
    pub results: Option<Vec<TxnResultJson>>,
    #[serde(rename = "Errors")]
    pub errors: Option<Vec<TxnErrorJson>>,
}

/// One result: the entry a `get` read or a write left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResultJson {
    #[serde(rename = "KV")]
    pub kv: KvPair,
}

/// One failed operation of a rolled-back transaction, with Consul's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnErrorJson {
    #[serde(rename = "OpIndex")]
    pub op_index: usize,
    #[serde(rename = "What")]
    pub what: String,
}
