//! `/v1/snapshot`: `GET` saves the whole state as an archive (`snapshot_archive`), with
//! X-Consul-Index; `PUT` restores one through the log (every server applies it), answering 200
//! with an empty body as Consul does. The archive is checked here before anything is sent.

use super::errors::HttpError;
use super::headers::X_CONSUL_INDEX;
use super::query::QueryParams;
use super::snapshot_archive::{
    read_archive, write_archive, ArchiveMeta, SNAPSHOT_ARCHIVE_BYTES_MAX,
};
use crate::handle::NodeHandle;
use crate::transport::frame::FRAME_SIZE_BYTES_MAX;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::{Request, Response as ApiResponse};
use concord_core::membership::Role;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a client agent can pass to a server in one frame: the state, with room for the
/// envelope. A larger snapshot is saved or restored through a server's HTTP address.
const FORWARDED_STATE_BYTES_MAX: usize = FRAME_SIZE_BYTES_MAX - 64 * 1024;

pub fn routes() -> Router<NodeHandle> {
    Router::new().route(
        "/v1/snapshot",
        get(save)
            .put(restore)
            // Archives are larger than any other body: their own limit, on this route only.
            .layer(DefaultBodyLimit::max(SNAPSHOT_ARCHIVE_BYTES_MAX)),
    )
}

fn answered(result: Result<Response, HttpError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn save(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let result = async {
        query.check_datacenter(&handle.info().datacenter)?;
        let consistency = query.consistency()?;
        let (state, index, term, servers) = match handle
            .request(Request::SnapshotSave { consistency })
            .await?
        {
            ApiResponse::Snapshot {
                state,
                index,
                term,
                servers,
            } => (state, index, term, servers),
            other => return Err(HttpError::unexpected("a snapshot save", &other)),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let meta = ArchiveMeta::new(&state, index, term, &servers, now.as_millis() as u64);
        let archive = write_archive(&meta, &state, now.as_secs())
            .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        let mut response = archive.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-gzip"),
        );
        headers.insert(X_CONSUL_INDEX, HeaderValue::from(index.max(1)));
        Ok(response)
    };
    answered(result.await)
}

async fn restore(
    State(handle): State<NodeHandle>,
    query: QueryParams,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        query.check_datacenter(&handle.info().datacenter)?;
        let archive = read_archive(&archive_body(body)?).map_err(HttpError::bad_request)?;
        if handle.info().role == Role::Client && archive.state.len() > FORWARDED_STATE_BYTES_MAX {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "snapshot state is {} bytes, over the {FORWARDED_STATE_BYTES_MAX} bytes a \
                     client agent can forward: ask a server's HTTP address",
                    archive.state.len()
                ),
            ));
        }
        let state = archive.state;
        match handle.request(Request::SnapshotRestore { state }).await? {
            ApiResponse::Done => Ok(StatusCode::OK.into_response()),
            other => Err(HttpError::unexpected("a snapshot restore", &other)),
        }
    };
    answered(result.await)
}

fn archive_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, HttpError> {
    match body {
        Ok(bytes) => Ok(bytes),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "snapshot archive too large: the maximum is {SNAPSHOT_ARCHIVE_BYTES_MAX} bytes"
                ),
            ))
        }
        Err(other) => Err(HttpError::bad_request(format!(
            "Failed to read the request body: {}",
            other.body_text()
        ))),
    }
}
