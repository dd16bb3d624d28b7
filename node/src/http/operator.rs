//! `/v1/operator/raft/*`: the Raft configuration, removing a peer, and leadership transfer.

use super::errors::HttpError;
use super::headers::json;
use super::query::QueryParams;
use crate::api_types::{RaftConfiguration, RaftServer, TransferLeaderReply, RAFT_PROTOCOL_VERSION};
use crate::handle::NodeHandle;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use concord_core::agent::{self, Request, Response as ApiResponse};

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route("/v1/operator/raft/transfer-leader", post(transfer_leader))
}

fn server_json(server: agent::RaftServer) -> RaftServer {
    RaftServer {
        id: server.id,
        node: server.node,
        address: server.address,
        leader: server.leader,
        protocol_version: RAFT_PROTOCOL_VERSION.to_string(),
        voter: server.voter,
    }
}

async fn configuration(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    match handle.request(Request::RaftConfiguration).await {
        Ok(ApiResponse::RaftConfiguration { servers, index }) => {
            let body = RaftConfiguration {
                servers: servers.into_iter().map(server_json).collect(),
                index,
            };
            json(&body, query.pretty())
        }
        Ok(other) => HttpError::unexpected("a Raft configuration request", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

/// Exactly one of `?id=` and `?address=` names the server to remove.
async fn remove_peer(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let id_or_address = match peer_to_remove(&query) {
        Ok(peer) => peer,
        Err(e) => return e.into_response(),
    };
    match handle
        .request(Request::RaftRemovePeer { id_or_address })
        .await
    {
        // The removal is a Raft configuration entry: it is answered like a write, once applied.
        Ok(ApiResponse::Done | ApiResponse::KvWritten { .. }) => ().into_response(),
        Ok(other) => HttpError::unexpected("a peer removal", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

fn peer_to_remove(query: &QueryParams) -> Result<String, HttpError> {
    let non_empty = |name| query.get(name).filter(|v: &&str| !v.is_empty());
    match (non_empty("id"), non_empty("address")) {
        (Some(peer), None) | (None, Some(peer)) => Ok(peer.to_string()),
        _ => Err(HttpError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        )),
    }
}

/// `?id=` picks the new leader; without it the leader picks the most up-to-date voter.
async fn transfer_leader(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let target = query
        .get("id")
        .filter(|id| !id.is_empty())
        .map(String::from);
    match handle.request(Request::RaftTransferLeader { target }).await {
        Ok(ApiResponse::Done) => json(&TransferLeaderReply { success: true }, query.pretty()),
        Ok(other) => HttpError::unexpected("a leadership transfer", &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_configuration_json_matches_consul() {
        let body = RaftConfiguration {
            servers: vec![server_json(agent::RaftServer {
                id: "s1".into(),
                node: "s1".into(),
                address: "10.0.0.1:8300".into(),
                leader: true,
                voter: true,
            })],
            index: 12,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"Servers":[{"ID":"s1","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true}],"Index":12}"#
        );
    }

    #[test]
    fn peer_removal_needs_exactly_one_of_id_and_address() {
        let peer = |q: &str| peer_to_remove(&QueryParams::parse(q));
        assert_eq!(peer("id=s2"), Ok("s2".into()));
        assert_eq!(peer("address=10.0.0.2%3A8300"), Ok("10.0.0.2:8300".into()));
        assert_eq!(peer("").unwrap_err().status.as_u16(), 400);
        assert_eq!(peer("id=").unwrap_err().status.as_u16(), 400);
        assert_eq!(peer("id=s2&address=x").unwrap_err().status.as_u16(), 400);
    }
}
