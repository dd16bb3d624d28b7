//! KV writes: `PUT /v1/kv/{key}` (`?flags`, `?cas`, `?acquire`, `?release`) and `DELETE`
//! (`?recurse`, `?cas`), each answering `true` or `false` as Consul does. A `true` acquire also
//! carries `X-Concord-Fencing-Token`: the index the lock was granted at, which only grows from
//! one grant of a key to the next, so a resource that refuses smaller tokens than it has seen is
//! never written by a holder that lost the lock. Every answer also carries `X-Concord-Index`:
//! the Raft index of the write (for an acquire refused before the log, under lock-delay, the
//! index applied so far), so a client can order its writes as the log did.

use super::errors::HttpError;
use super::headers::json;
use super::metrics;
use super::query::QueryParams;
use super::BODY_BYTES_MAX;
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use concord_core::agent::{ApiError, Request, Response as ApiResponse};
use concord_core::kv::{KvCommand, KvError, VALUE_SIZE_BYTES_MAX};

type Body = Result<Bytes, BytesRejection>;

/// On a `true` `?acquire`: the log index the lock was granted at (Concord's fencing token).
pub const X_CONCORD_FENCING_TOKEN: HeaderName = HeaderName::from_static("x-concord-fencing-token");

/// On a write's answer (KV and `/v1/txn`): the Raft index of the write. Absent when the write
/// never reached the log with an index (0), so a client reads a missing header as 0.
pub const X_CONCORD_INDEX: HeaderName = HeaderName::from_static("x-concord-index");

/// Adds `X-Concord-Index: index` to a write's answer, unless the index is 0 (none).
pub fn with_write_index(mut response: Response, index: u64) -> Response {
    if index > 0 {
        response
            .headers_mut()
            .insert(X_CONCORD_INDEX, HeaderValue::from(index));
    }
    response
}

pub async fn put_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put(&handle, key, &query, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn put_root(
    State(handle): State<NodeHandle>,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put(&handle, String::new(), &query, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn delete_key(
    State(handle): State<NodeHandle>,
    Path(key): Path<String>,
    query: QueryParams,
) -> Response {
    delete(&handle, key, &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn delete_root(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    delete(&handle, String::new(), &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn put(
    handle: &NodeHandle,
    key: String,
    query: &QueryParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    if key.is_empty() {
        return Err(HttpError::bad_request("Missing key name"));
    }
    let flags = query.u64("flags")?.unwrap_or(0);
    let cas = query.u64("cas")?;
    let value = read_value(headers, body)?;
    let command = put_command(query, key, value, flags, cas)?;
    let acquire = matches!(command, KvCommand::Lock { .. });
    match timed_write(handle, command).await? {
        ApiResponse::KvWritten { applied, index } => {
            let mut response = json(&applied, false);
            if acquire && applied {
                response
                    .headers_mut()
                    .insert(X_CONCORD_FENCING_TOKEN, HeaderValue::from(index));
            }
            Ok(with_write_index(response, index))
        }
        other => Err(HttpError::unexpected("a KV write", &other)),
    }
}

/// The write a PUT asks for. Several of `?release`, `?acquire`, `?cas` take the first in that
/// order, as Consul does; an empty session is the client's mistake.
fn put_command(
    query: &QueryParams,
    key: String,
    value: Vec<u8>,
    flags: u64,
    cas: Option<u64>,
) -> Result<KvCommand, HttpError> {
    let session = |flag: &str| match query.get(flag) {
        Some("") => Err(HttpError::bad_request(format!(
            "Missing session for ?{flag}"
        ))),
        other => Ok(other.map(String::from)),
    };
    if let Some(session) = session("release")? {
        return Ok(KvCommand::Unlock {
            key,
            value,
            flags,
            session,
        });
    }
    if let Some(session) = session("acquire")? {
        return Ok(KvCommand::Lock {
            key,
            value,
            flags,
            session,
        });
    }
    Ok(match cas {
        Some(modify_index) => KvCommand::Cas {
            key,
            value,
            flags,
            modify_index,
        },
        None => KvCommand::Set { key, value, flags },
    })
}

async fn delete(
    handle: &NodeHandle,
    key: String,
    query: &QueryParams,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    let recurse = query.flag("recurse");
    let cas = query.u64("cas")?;
    let command = match (recurse, cas) {
        (true, Some(_)) => {
            return Err(HttpError::bad_request(
                "Conflicting flags: ?recurse and ?cas cannot be used together",
            ))
        }
        // An empty prefix deletes every key, as `DELETE /v1/kv/?recurse` does in Consul.
        (true, None) => KvCommand::DeleteTree { prefix: key },
        (false, _) if key.is_empty() => return Err(HttpError::bad_request("Missing key name")),
        (false, Some(modify_index)) => KvCommand::DeleteCas { key, modify_index },
        (false, None) => KvCommand::Delete { key },
    };
    write(handle, command).await
}

async fn write(handle: &NodeHandle, command: KvCommand) -> Result<Response, HttpError> {
    match timed_write(handle, command).await? {
        ApiResponse::KvWritten { applied, index } => {
            Ok(with_write_index(json(&applied, false), index))
        }
        other => Err(HttpError::unexpected("a KV write", &other)),
    }
}

/// Sends a KV write, timed into `consul.kvs.apply` by operation.
async fn timed_write(handle: &NodeHandle, command: KvCommand) -> concord_core::agent::ApiResult {
    let timer = handle
        .metrics()
        .writes
        .kvs_apply
        .with(&[metrics::kv_op(&command)]);
    metrics::timed(&timer, handle.request(Request::KvWrite { command })).await
}

/// The PUT body is the value. It is checked here, before anything is sent to the cluster, so
/// the client learns the size it sent and the limit. Bodies up to `BODY_BYTES_MAX` are read in
/// full (so the 413 reaches clients that send the whole body before reading the answer); past
/// that only the declared Content-Length is known.
pub fn read_value(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, HttpError> {
    match body {
        Ok(bytes) if bytes.len() <= VALUE_SIZE_BYTES_MAX => Ok(bytes.to_vec()),
        Ok(bytes) => Err(too_large(bytes.len())),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            match declared_length(headers) {
                Some(length) => Err(too_large(length)),
                None => Err(HttpError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Request body too large: value is more than {BODY_BYTES_MAX} bytes, \
                         the maximum is {VALUE_SIZE_BYTES_MAX} bytes"
                    ),
                )),
            }
        }
        Err(other) => Err(HttpError::bad_request(format!(
            "Failed to read the request body: {}",
            other.body_text()
        ))),
    }
}

fn too_large(size_bytes: usize) -> HttpError {
    HttpError::from(ApiError::Kv(KvError::ValueTooLarge {
        size_bytes,
        size_bytes_max: VALUE_SIZE_BYTES_MAX,
    }))
}

pub fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_up_to_the_limit_are_accepted() {
        let body = Bytes::from(vec![7u8; VALUE_SIZE_BYTES_MAX]);
        let value = read_value(&HeaderMap::new(), Ok(body)).unwrap();
        assert_eq!(value.len(), VALUE_SIZE_BYTES_MAX);
        assert_eq!(read_value(&HeaderMap::new(), Ok(Bytes::new())), Ok(vec![]));
    }

    #[test]
    fn one_byte_over_is_413_naming_size_and_limit() {
        let body = Bytes::from(vec![7u8; VALUE_SIZE_BYTES_MAX + 1]);
        let err = read_value(&HeaderMap::new(), Ok(body)).unwrap_err();
        assert_eq!(err.status.as_u16(), 413);
        assert!(err.reason.contains("524289 bytes"), "{}", err.reason);
        assert!(err.reason.contains("524288 bytes"), "{}", err.reason);
    }

    #[test]
    fn declared_length_names_the_size_of_unread_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000000"));
        assert_eq!(declared_length(&headers), Some(5_000_000));
        assert_eq!(declared_length(&HeaderMap::new()), None);
    }

    fn command(query: &str) -> Result<KvCommand, HttpError> {
        let query = QueryParams::parse(query);
        let cas = query.u64("cas")?;
        put_command(&query, "k".into(), b"v".to_vec(), 7, cas)
    }

    #[test]
    fn acquire_and_release_become_lock_commands_release_first() {
        let lock = KvCommand::Lock {
            key: "k".into(),
            value: b"v".to_vec(),
            flags: 7,
            session: "s1".into(),
        };
        assert_eq!(command("acquire=s1"), Ok(lock.clone()));
        assert_eq!(command("acquire=s1&cas=3"), Ok(lock));
        let unlock = KvCommand::Unlock {
            key: "k".into(),
            value: b"v".to_vec(),
            flags: 7,
            session: "s2".into(),
        };
        assert_eq!(command("acquire=s1&release=s2&cas=3"), Ok(unlock));
        assert!(matches!(
            command("cas=3"),
            Ok(KvCommand::Cas {
                modify_index: 3,
                ..
            })
        ));
        assert!(matches!(command(""), Ok(KvCommand::Set { flags: 7, .. })));
        let err = command("acquire").unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.reason.as_str()),
            (400, "Missing session for ?acquire")
        );
    }
}
