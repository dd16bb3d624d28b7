//! The KV calls Go's `api.Lock` and `api.Semaphore` make, over the CLI's HTTP client.

use crate::commands::blocking::{blocking_get, is_retryable};
use crate::http_client::{Client, HttpError, Reply};
use concord_node::api_types::KvPair;
use std::time::Duration;

/// The header a `true` acquire carries: the ModifyIndex the acquire applied at.
pub const FENCING_TOKEN_HEADER: &str = "x-concord-fencing-token";

/// A read: the entries (none for a missing key) and the index to block on next.
#[derive(Debug)]
pub struct Read {
    pub pairs: Vec<KvPair>,
    pub index: u64,
}

impl Read {
    /// The entry of exactly `key`.
    pub fn find(&self, key: &str) -> Option<&KvPair> {
        self.pairs.iter().find(|p| p.key == key)
    }
}

/// How a read is made.
#[derive(Clone, Copy, Debug)]
pub struct ReadMode {
    /// `?recurse`: every key under the prefix.
    pub recurse: bool,
    /// `?consistent`: confirmed by the leader (the monitors use it).
    pub consistent: bool,
    /// Block until the index passes this (0: answer at once).
    pub index: u64,
    pub wait: Duration,
}

pub fn read(client: &Client, key: &str, mode: ReadMode) -> Result<Read, HttpError> {
    let mut extra = Vec::new();
    if mode.recurse {
        extra.push(("recurse", ""));
    }
    if mode.consistent {
        extra.push(("consistent", ""));
    }
    let reply = blocking_get(client, &kv_path(key), &extra, mode.index, mode.wait)?;
    let index = reply.consul_index();
    if reply.status == 404 {
        return Ok(Read {
            pairs: Vec::new(),
            index,
        });
    }
    let pairs = reply.success()?.json()?;
    Ok(Read { pairs, index })
}

/// The answer of a conditional write: whether it applied, and the fencing token if the agent
/// sent one.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub applied: bool,
    pub fencing_token: Option<u64>,
}

/// `PUT /v1/kv/KEY?<query>` with `body`.
pub fn write(
    client: &Client,
    key: &str,
    query: &[(&str, &str)],
    body: &[u8],
) -> Result<Written, HttpError> {
    let reply = client.put(&kv_path(key), query, body)?.success()?;
    Ok(written(&reply))
}

/// `DELETE /v1/kv/KEY?<query>`: whether it applied.
pub fn delete(client: &Client, key: &str, query: &[(&str, &str)]) -> Result<bool, HttpError> {
    let reply = client.delete(&kv_path(key), query)?.success()?;
    Ok(written(&reply).applied)
}

/// Deletes a lock key nobody holds if it is still at `modify_index` (Go's Destroy: a
/// delete-cas); `what` names it in the error.
pub fn delete_unchanged(
    client: &Client,
    key: &str,
    modify_index: u64,
    what: &str,
) -> Result<super::Cleanup, String> {
    let cas = modify_index.to_string();
    match delete(client, key, &[("cas", cas.as_str())]) {
        Ok(true) => Ok(super::Cleanup::Done),
        Ok(false) => Ok(super::Cleanup::InUse),
        Err(e) => Err(format!("failed to remove {what}: {e}")),
    }
}

fn written(reply: &Reply) -> Written {
    Written {
        applied: reply.text().trim() == "true",
        fencing_token: reply
            .header(FENCING_TOKEN_HEADER)
            .and_then(|v| v.trim().parse().ok()),
    }
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{key}")
}

/// A failed read, and whether a monitor may retry it.
#[derive(Debug)]
pub struct ReadError {
    pub retryable: bool,
    pub text: String,
}

impl ReadError {
    /// Go's `failed to read <what>: <error>`.
    pub fn new(what: &str, error: HttpError) -> ReadError {
        ReadError {
            retryable: is_retryable(&error),
            text: format!("failed to read {what}: {error}"),
        }
    }
}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.text
    }
}
