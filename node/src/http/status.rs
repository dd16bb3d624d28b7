//! `/v1/status/*`: the Raft leader and peers, answered by any server.

use super::errors::HttpError;
use super::headers::json;
use super::query::QueryParams;
use crate::handle::NodeHandle;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use concord_core::agent::{Request, Response as ApiResponse};

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
}

/// `"ip:port"` of the leader's server RPC address, or `""` when none is known (not an error:
/// Consul answers 200 so that scripts can poll for a leader).
async fn leader(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match handle.request(Request::StatusLeader).await {
        Ok(ApiResponse::Leader { addr }) => json(&addr.unwrap_or_default(), query.pretty()),
        Ok(other) => HttpError::unexpected("a leader request", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// The voters' server RPC addresses.
async fn peers(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match handle.request(Request::StatusPeers).await {
        Ok(ApiResponse::Peers { addrs }) => json(&addrs, query.pretty()),
        Ok(other) => HttpError::unexpected("a peers request", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}
