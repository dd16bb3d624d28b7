//! `/v1/agent/*`: this agent and its gossip pool (self, members, join, leave, force-leave);
//! reload is `reload.rs`, monitor `monitor.rs`.

use super::agent_stats::{stats, RuntimeFigures, StatsInput};
use super::errors::HttpError;
use super::headers::json;
use super::members::member_json;
use super::query::QueryParams;
use crate::api_types::{AgentMember, AgentSelf, AgentSelfConfig, Stats};
use crate::handle::{NodeHandle, NodeInfo};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use concord_core::agent::{
    LocalAnswer, LocalRequest, MemberInfo, RaftServer, Request, Response as ApiResponse,
};
use concord_core::membership::{Member, MemberStatus, Role};
use concord_core::ports::{with_default_port, SERF_LAN_PORT_DEFAULT};
use std::collections::BTreeMap;

pub fn routes() -> Router<NodeHandle> {
    Router::new()
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/join/{address}", put(join))
        .route("/v1/agent/leave", put(leave))
        .route("/v1/agent/force-leave/{node}", put(force_leave))
}

async fn agent_self(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    let members = match member_list(&handle).await {
        Ok(members) => members,
        Err(e) => return e.into_response(),
    };
    let info = handle.info();
    let member = match members.iter().find(|m| m.member.name == info.node_name) {
        Some(m) => member_json(&m.member, m.status, Some(&info.node_id)),
        // Not yet in its own table (starting up): describe itself from its configuration.
        None => member_json(
            &member_from_info(info),
            MemberStatus::Alive,
            Some(&info.node_id),
        ),
    };
    let stats = gather_stats(&handle, &members).await;
    let body = AgentSelf {
        config: config_json(info),
        member,
        meta: BTreeMap::new(),
        stats,
    };
    json(&body, query.pretty())
}

/// The `Stats` sections; a figure the node cannot give right now (no leader to answer the
/// Raft configuration) is left out rather than failing the whole answer.
async fn gather_stats(handle: &NodeHandle, members: &[MemberInfo]) -> Stats {
    let local = |request| handle.request(Request::Local(request));
    let services = match local(LocalRequest::Services).await {
        Ok(ApiResponse::Local {
            answer: LocalAnswer::Services(services),
        }) => services.len(),
        _ => 0,
    };
    let checks = match local(LocalRequest::Checks).await {
        Ok(ApiResponse::Local {
            answer: LocalAnswer::Checks(checks),
        }) => checks,
        _ => Vec::new(),
    };
    let raft = handle.raft_status();
    let raft_servers = match (handle.info().role, &raft.leader_addr) {
        (Role::Server, Some(_)) => raft_configuration(handle).await,
        _ => None,
    };
    let health_score = match handle.request(Request::GossipHealth).await {
        Ok(ApiResponse::GossipHealth { health_score }) => Some(health_score),
        _ => None,
    };
    stats(&StatsInput {
        info: handle.info(),
        raft,
        members,
        health_score,
        services,
        checks: &checks,
        raft_servers,
        runtime: RuntimeFigures::current(),
    })
}

/// How long `/v1/agent/self` waits for the leader's Raft configuration: scripts poll this
/// endpoint for readiness, so it must answer at once even while the leader is slow.
const RAFT_CONFIGURATION_WAIT_MS: u64 = 500;

/// The Raft configuration (the leader answers it), or `None` when it does not answer soon.
async fn raft_configuration(handle: &NodeHandle) -> Option<Vec<RaftServer>> {
    let wait = std::time::Duration::from_millis(RAFT_CONFIGURATION_WAIT_MS);
    match tokio::time::timeout(wait, handle.request(Request::RaftConfiguration)).await {
        Ok(Ok(ApiResponse::RaftConfiguration { servers, .. })) => Some(servers),
        _ => None,
    }
}

fn config_json(info: &NodeInfo) -> AgentSelfConfig {
    AgentSelfConfig {
        datacenter: info.datacenter.clone(),
        primary_datacenter: info.datacenter.clone(),
        node_name: info.node_name.clone(),
        node_id: info.node_id.clone(),
        revision: String::new(),
        server: info.role == Role::Server,
        version: info.version.clone(),
    }
}

fn member_from_info(info: &NodeInfo) -> Member {
    Member {
        name: info.node_name.clone(),
        gossip_addr: info.gossip_addr.clone(),
        rpc_addr: info.rpc_addr.clone(),
        role: info.role,
        datacenter: info.datacenter.clone(),
        bootstrap_expect: 0,
        in_raft: false,
        build: info.version.clone(),
        incarnation: 0,
        announced: MemberStatus::Alive,
    }
}

async fn member_list(handle: &NodeHandle) -> Result<Vec<MemberInfo>, HttpError> {
    match handle.request(Request::Members).await? {
        ApiResponse::Members { members } => Ok(members),
        other => Err(HttpError::unexpected("a members request", &other)),
    }
}

async fn members(State(handle): State<NodeHandle>, query: QueryParams) -> Response {
    if query.flag("wan") {
        return wan_unsupported().into_response();
    }
    match member_list(&handle).await {
        Ok(list) => {
            let own_id = |m: &MemberInfo| {
                let info = handle.info();
                (m.member.name == info.node_name).then_some(info.node_id.as_str())
            };
            let body: Vec<AgentMember> = list
                .iter()
                .map(|m| member_json(&m.member, m.status, own_id(m)))
                .collect();
            json(&body, query.pretty())
        }
        Err(e) => e.into_response(),
    }
}

fn wan_unsupported() -> HttpError {
    HttpError::bad_request("?wan is not supported: Concord has a single datacenter (LAN only)")
}

/// Answers 200 with an empty body when the request succeeded, as Consul's agent writes do.
async fn done(handle: &NodeHandle, request: Request) -> Response {
    let what = request.kind();
    match handle.request(request).await {
        Ok(ApiResponse::Done | ApiResponse::Joined { .. }) => ().into_response(),
        Ok(other) => HttpError::unexpected(what, &other).into_response(),
        Err(e) => HttpError::from(e).into_response(),
    }
}

async fn join(
    State(handle): State<NodeHandle>,
    Path(address): Path<String>,
    query: QueryParams,
) -> Response {
    if query.flag("wan") {
        return wan_unsupported().into_response();
    }
    let addr = with_default_port(address.trim(), SERF_LAN_PORT_DEFAULT);
    done(&handle, Request::Join { addr }).await
}

/// Answers once the leave is complete (the agent announced it and, for a server, left the
/// Raft configuration), so `concord leave` can say "Graceful leave complete" truthfully.
async fn leave(State(handle): State<NodeHandle>) -> Response {
    done(&handle, Request::Leave).await
}

/// `?prune` forgets the node at once everywhere instead of keeping it as `left`.
async fn force_leave(
    State(handle): State<NodeHandle>,
    Path(node): Path<String>,
    query: QueryParams,
) -> Response {
    if query.flag("wan") {
        return wan_unsupported().into_response();
    }
    let prune = query.flag("prune");
    done(&handle, Request::ForceLeave { node, prune }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_config_json_matches_consul() {
        let info = NodeInfo {
            node_name: "n1".into(),
            node_id: "0b4e7a0e-0000-0000-0000-000000000001".into(),
            datacenter: "dc1".into(),
            role: Role::Server,
            rpc_addr: "127.0.0.1:8300".into(),
            gossip_addr: "127.0.0.1:8301".into(),
            version: "0.1.0".into(),
        };
        let body = AgentSelf {
            config: config_json(&info),
            member: member_json(
                &member_from_info(&info),
                MemberStatus::Alive,
                Some(&info.node_id),
            ),
            meta: BTreeMap::new(),
            stats: Stats::new(),
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["Config"]["Datacenter"], "dc1");
        assert_eq!(v["Config"]["NodeName"], "n1");
        assert_eq!(v["Config"]["NodeID"], info.node_id);
        assert_eq!(v["Config"]["Server"], true);
        assert_eq!(v["Config"]["Revision"], "");
        assert_eq!(v["Config"]["Version"], "0.1.0");
        assert_eq!(v["Member"]["Name"], "n1");
        assert_eq!(v["Member"]["Addr"], "127.0.0.1");
        assert_eq!(v["Member"]["Tags"]["role"], "consul");
    }
}
