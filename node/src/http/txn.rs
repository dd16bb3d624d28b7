//! `PUT /v1/txn`: up to `TXN_OPS_MAX` KV operations applied all or nothing (`txn_json` for
//! the shapes). A transaction of only reads (get*, check*) writes nothing to the log: it is
//! served as a read of `?stale`/`?consistent`, with X-Consul-KnownLeader and
//! X-Consul-LastContact (and, as Consul's, no X-Consul-Index; it never blocks). A write's
//! answer carries `X-Concord-Index`, the Raft index it was applied at.

use super::errors::HttpError;
use super::headers::{X_CONSUL_KNOWN_LEADER, X_CONSUL_LAST_CONTACT};
use super::kv_write::{declared_length, with_write_index};
use super::query::QueryParams;
use super::txn_json::{parse_txn, ParsedTxn, TxnAnswer};
use crate::bounds::TXN_BODY_BYTES_MAX;
use crate::handle::NodeHandle;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use concord_core::agent::{QueryMeta, Request, Response as ApiResponse};

pub fn routes() -> Router<NodeHandle> {
    Router::new().route("/v1/txn", put(txn))
}

async fn txn(
    State(handle): State<NodeHandle>,
    query: QueryParams,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(&handle, &query, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    handle: &NodeHandle,
    query: &QueryParams,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    query.check_datacenter(&handle.info().datacenter)?;
    let consistency = query.consistency()?;
    let body = read_body(headers, body)?;
    let ops = match parse_txn(&body)? {
        ParsedTxn::Ops(ops) => ops,
        ParsedTxn::Refused(errors) => {
            return Ok(answer(
                StatusCode::CONFLICT,
                &TxnAnswer::failed(&errors),
                None,
            ))
        }
    };
    let applied = handle.request(Request::Txn { ops, consistency });
    let timer = &handle.metrics().writes.txn_apply;
    match super::metrics::timed(timer, applied).await? {
        ApiResponse::Txn {
            outcome,
            index,
            meta,
        } => {
            let (status, body) = TxnAnswer::of(&outcome);
            Ok(with_write_index(
                answer(status, &body, meta.as_ref()),
                index,
            ))
        }
        other => Err(HttpError::unexpected("a transaction", &other)),
    }
}

/// The body, within Consul's `txn_max_req_len` (512 KiB): a declared length over it is refused
/// before the body is looked at, as Consul does, and so is a body found longer while read.
fn read_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, HttpError> {
    let too_large = |reason: String| HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, reason);
    if let Some(length) = declared_length(headers).filter(|l| *l > TXN_BODY_BYTES_MAX) {
        return Err(too_large(format!(
            "Request body({length} bytes) too large, max size: {TXN_BODY_BYTES_MAX} bytes"
        )));
    }
    match body {
        Ok(bytes) if bytes.len() <= TXN_BODY_BYTES_MAX => Ok(bytes),
        Ok(_)
        | Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            Err(too_large(format!(
                "Request body too large, max size: {TXN_BODY_BYTES_MAX} bytes"
            )))
        }
        Err(other) => Err(HttpError::bad_request(format!(
            "Failed to read the request body: {}",
            other.body_text()
        ))),
    }
}

/// The JSON answer; a read-only transaction's also carries KnownLeader and LastContact.
fn answer(status: StatusCode, body: &TxnAnswer, meta: Option<&QueryMeta>) -> Response {
    let mut response = super::headers::json(body, false);
    *response.status_mut() = status;
    if let Some(meta) = meta {
        let headers = response.headers_mut();
        let known = if meta.known_leader { "true" } else { "false" };
        headers.insert(X_CONSUL_KNOWN_LEADER, HeaderValue::from_static(known));
        headers.insert(
            X_CONSUL_LAST_CONTACT,
            HeaderValue::from(meta.last_contact_ms),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use concord_core::kv::txn::TxnOutcome;

    #[test]
    fn a_declared_length_over_the_limit_is_413_before_reading() {
        let mut headers = HeaderMap::new();
        let over = (TXN_BODY_BYTES_MAX + 1).to_string();
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from_str(&over).unwrap(),
        );
        let err = read_body(&headers, Ok(Bytes::from_static(b"[]"))).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            err.reason,
            "Request body(524289 bytes) too large, max size: 524288 bytes"
        );
        let read = Bytes::from(vec![b' '; TXN_BODY_BYTES_MAX + 1]);
        let err = read_body(&HeaderMap::new(), Ok(read)).unwrap_err();
        assert_eq!(err.reason, "Request body too large, max size: 524288 bytes");
        let at_limit = Bytes::from(vec![b' '; TXN_BODY_BYTES_MAX]);
        assert!(read_body(&HeaderMap::new(), Ok(at_limit)).is_ok());
    }

    #[test]
    fn read_only_answers_carry_leader_headers_but_no_index() {
        let meta = QueryMeta {
            index: 9,
            known_leader: true,
            last_contact_ms: 3,
        };
        let outcome = TxnOutcome::Committed { entries: vec![] };
        let (status, body) = TxnAnswer::of(&outcome);
        let response = answer(status, &body, Some(&meta));
        let h = response.headers();
        assert_eq!(
            (
                h[X_CONSUL_KNOWN_LEADER].to_str().unwrap(),
                h[X_CONSUL_LAST_CONTACT].to_str().unwrap()
            ),
            ("true", "3")
        );
        assert!(h.get("x-consul-index").is_none());
        let written = answer(status, &body, None);
        assert!(written.headers().get(X_CONSUL_KNOWN_LEADER).is_none());
        let failed = TxnOutcome::Failed { errors: vec![] };
        assert_eq!(TxnAnswer::of(&failed).0, StatusCode::CONFLICT);
    }
}
