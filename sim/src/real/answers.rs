//! A successful HTTP answer back into the typed `Response`, per request kind: the JSON shapes
//! `node/src/http` writes (`api_types` where they read back; the rest by Consul's field
//! names). What HTTP does not carry is filled as documented on each decoder.

use super::catalog::{catalog_answer, local_checks, local_services};
use super::wire::Answer;
use concord_core::agent::{
    ApiError, ApiResult, CatalogRead, LocalAnswer, LocalRequest, MemberInfo, QueryMeta, RaftServer,
    Request, Response, Session, SessionRead, WatchRead,
};
use concord_core::kv::txn::{TxnError, TxnOutcome};
use concord_core::kv::KvEntry;
use concord_core::membership::{Member, MemberStatus, Role};
use concord_core::session::{Behavior, ServiceCheck};
use concord_node::api_types::session::SessionJson;
use concord_node::api_types::txn::TxnAnswer;
use concord_node::api_types::{AgentMember, KvPair, RaftConfiguration};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The answer of `request`, or `None` when `answer` is an error for `errors::api_error`.
pub fn decode(request: &Request, answer: &Answer) -> Option<ApiResult> {
    let ok = answer.status == 200;
    match request {
        Request::KvGet { .. } | Request::KvList { .. } => kv_entries(answer),
        Request::KvKeys { .. } => kv_keys(answer),
        Request::Watch { read, .. } => match read {
            WatchRead::KvGet { .. } | WatchRead::KvList { .. } => kv_entries(answer),
            WatchRead::KvKeys { .. } => kv_keys(answer),
            WatchRead::Session { .. } => ok.then(|| sessions(answer, meta(answer))),
            WatchRead::Catalog { read, .. } => ok.then(|| catalog(read, answer)),
        },
        Request::Txn { .. } => txn(answer),
        _ if !ok => None,
        other => Some(success(other, answer)),
    }
}

fn success(request: &Request, answer: &Answer) -> ApiResult {
    match request {
        Request::KvWrite { .. } => Ok(Response::KvWritten {
            applied: json::<bool>(answer)?,
            index: write_index(answer),
        }),
        Request::StatusLeader => {
            let addr = json::<String>(answer)?;
            Ok(Response::Leader {
                addr: Some(addr).filter(|a| !a.is_empty()),
            })
        }
        Request::StatusPeers => Ok(Response::Peers {
            addrs: json(answer)?,
        }),
        Request::RaftConfiguration => raft_configuration(answer),
        Request::Members => members(answer),
        // HTTP answers an empty 200: how many it contacted is not carried (at least one).
        Request::Join { .. } => Ok(Response::Joined { contacted: 1 }),
        Request::Leave | Request::ForceLeave { .. } | Request::RaftTransferLeader { .. } => {
            Ok(Response::Done)
        }
        Request::SessionCreate { .. } => {
            let created = json::<Created>(answer)?;
            Ok(Response::SessionCreated { id: created.id })
        }
        // Consul answers `true` for any destroy, an unknown id included.
        Request::SessionDestroy { .. } => Ok(Response::KvWritten {
            applied: true,
            index: write_index(answer),
        }),
        Request::SessionRenew { .. } => sessions(answer, QueryMeta::default()),
        Request::Catalog { read, .. } => catalog(read, answer),
        Request::Local(request) => local(request, answer),
        Request::Session { read, .. } => {
            let meta = meta(answer);
            match read {
                SessionRead::Info(_) | SessionRead::Node(_) | SessionRead::List => {
                    sessions(answer, meta)
                }
            }
        }
        other => Err(ApiError::BadRequest(format!(
            "the real-process client cannot read an answer to {}",
            other.kind()
        ))),
    }
}

/// A body that is not the JSON the route writes: the node answered something else (a bug on
/// one side or the other), reported with the body.
fn json<T: DeserializeOwned>(answer: &Answer) -> Result<T, ApiError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        ApiError::Unavailable(format!(
            "unreadable answer (HTTP {}): {e}: {}",
            answer.status,
            answer.text()
        ))
    })
}

fn header_u64(answer: &Answer, name: &str) -> Option<u64> {
    answer.header(name).and_then(|v| v.parse().ok())
}

/// `X-Consul-*` of a read. X-Consul-Index is at least 1 over HTTP (0 typed before any write).
pub fn meta(answer: &Answer) -> QueryMeta {
    QueryMeta {
        index: header_u64(answer, "X-Consul-Index").unwrap_or(0),
        known_leader: answer.header("X-Consul-KnownLeader") == Some("true"),
        last_contact_ms: header_u64(answer, "X-Consul-LastContact").unwrap_or(0),
    }
}

/// A write's log index: `X-Concord-Index` where the agent sends it, else the fencing token
/// of an acquire, else 0 (unknown; checkers then accept either order).
fn write_index(answer: &Answer) -> u64 {
    header_u64(answer, "X-Concord-Index")
        .or_else(|| header_u64(answer, "X-Concord-Fencing-Token"))
        .unwrap_or(0)
}

/// 404 with an empty body is "no such key", not an error.
fn kv_entries(answer: &Answer) -> Option<ApiResult> {
    let meta = meta(answer);
    match answer.status {
        404 if answer.body.is_empty() => Some(Ok(Response::Kv {
            entries: Vec::new(),
            meta,
        })),
        200 => Some(json::<Vec<KvPair>>(answer).and_then(|pairs| {
            let entries = pairs.into_iter().map(kv_entry).collect::<Result<_, _>>()?;
            Ok(Response::Kv { entries, meta })
        })),
        _ => None,
    }
}

fn kv_keys(answer: &Answer) -> Option<ApiResult> {
    let meta = meta(answer);
    match answer.status {
        404 if answer.body.is_empty() => Some(Ok(Response::Keys {
            keys: Vec::new(),
            meta,
        })),
        200 => Some(json(answer).map(|keys| Response::Keys { keys, meta })),
        _ => None,
    }
}

fn kv_entry(pair: KvPair) -> Result<KvEntry, ApiError> {
    use base64::Engine;
    let value = match &pair.value {
        None => Vec::new(),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| {
                ApiError::Unavailable(format!("value of {:?} is not base64: {e}", pair.key))
            })?,
    };
    Ok(KvEntry {
        key: pair.key,
        value,
        flags: pair.flags,
        create_index: pair.create_index,
        modify_index: pair.modify_index,
        lock_index: pair.lock_index,
        session: pair.session,
    })
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

/// 200 committed, 409 rolled back (`txn_json::TxnAnswer`). A read-only transaction carries
/// X-Consul-KnownLeader (its `meta`); a write carries no meta.
fn txn(answer: &Answer) -> Option<ApiResult> {
    if answer.status != 200 && answer.status != 409 {
        return None;
    }
    let meta = answer.header("X-Consul-KnownLeader").map(|_| meta(answer));
    let decoded = json::<TxnAnswer>(answer).and_then(|body| {
        let outcome = match (body.results, body.errors) {
            (_, Some(errors)) => TxnOutcome::Failed {
                errors: errors
                    .into_iter()
                    .map(|e| TxnError {
                        op_index: e.op_index,
                        what: e.what,
                    })
                    .collect(),
            },
            (results, None) => TxnOutcome::Committed {
                entries: results
                    .into_iter()
                    .flatten()
                    .map(|r| kv_entry(r.kv))
                    .collect::<Result<_, _>>()?,
            },
        };
        let index = if meta.is_some() {
            0
        } else {
            write_index(answer)
        };
        Ok(Response::Txn {
            outcome,
            index,
            meta,
        })
    });
    Some(decoded)
}

fn raft_configuration(answer: &Answer) -> ApiResult {
    let body = json::<RaftConfiguration>(answer)?;
    let servers = body
        .servers
        .into_iter()
        .map(|s| RaftServer {
            id: s.id,
            node: s.node,
            address: s.address,
            leader: s.leader,
            voter: s.voter,
        })
        .collect();
    Ok(Response::RaftConfiguration {
        servers,
        index: body.index,
    })
}

/// A member as `members::member_json` shows it. Not carried: `in_raft` and `incarnation`
/// (false, 0); the announced status is taken to be the status shown.
fn members(answer: &Answer) -> ApiResult {
    let list = json::<Vec<AgentMember>>(answer)?;
    let members = list
        .into_iter()
        .map(member_info)
        .collect::<Result<_, _>>()?;
    Ok(Response::Members { members })
}

fn member_info(m: AgentMember) -> Result<MemberInfo, ApiError> {
    let status = match m.status {
        1 => MemberStatus::Alive,
        2 => MemberStatus::Leaving,
        3 => MemberStatus::Left,
        4 => MemberStatus::Failed,
        other => {
            let why = format!("member {} has unknown status code {other}", m.name);
            return Err(ApiError::Unavailable(why));
        }
    };
    let role = if m.tag("role") == "consul" {
        Role::Server
    } else {
        Role::Client
    };
    let rpc_port = m.tag("port");
    let member = Member {
        gossip_addr: format!("{}:{}", m.addr, m.port),
        rpc_addr: if rpc_port.is_empty() {
            String::new()
        } else {
            format!("{}:{rpc_port}", m.addr)
        },
        role,
        datacenter: m.tag("dc").to_string(),
        bootstrap_expect: m.tag("expect").parse().unwrap_or(0),
        in_raft: false,
        build: m.tag("build").to_string(),
        incarnation: 0,
        announced: if status == MemberStatus::Failed {
            MemberStatus::Alive
        } else {
            status
        },
        name: m.name,
    };
    Ok(MemberInfo { member, status })
}

fn sessions(answer: &Answer, meta: QueryMeta) -> ApiResult {
    let list = json::<Vec<SessionJson>>(answer)?;
    let sessions = list.into_iter().map(session).collect::<Result<_, _>>()?;
    Ok(Response::Sessions { sessions, meta })
}

fn session(s: SessionJson) -> Result<Session, ApiError> {
    let behavior = match s.behavior.as_str() {
        "release" => Behavior::Release,
        "delete" => Behavior::Delete,
        other => {
            return Err(ApiError::Unavailable(format!(
                "session {}: behavior {other:?}",
                s.id
            )))
        }
    };
    let ttl_ms = match s.ttl.as_str() {
        "" => None,
        text => Some(
            concord_core::duration::parse_go_duration(text)
                .map_err(|e| ApiError::Unavailable(format!("session {}: TTL {text:?}: {e}", s.id)))?
                .as_millis() as u64,
        ),
    };
    let service_checks = s.service_checks.into_iter().flatten();
    Ok(Session {
        id: s.id,
        name: s.name,
        node: s.node,
        lock_delay_ns: s.lock_delay,
        behavior,
        ttl: s.ttl,
        ttl_ms,
        node_checks: s.node_checks.unwrap_or_default(),
        service_checks: service_checks
            .map(|c| ServiceCheck {
                id: c.id,
                namespace: c.namespace,
            })
            .collect(),
        create_index: s.create_index,
        modify_index: s.modify_index,
    })
}

fn catalog(read: &CatalogRead, answer: &Answer) -> ApiResult {
    let meta = meta(answer);
    let answer = catalog_answer(read, &answer.body)?;
    Ok(Response::Catalog { answer, meta })
}

/// Agent writes answer an empty 200 (`agent_services::done`).
fn local(request: &LocalRequest, answer: &Answer) -> ApiResult {
    let answer = match request {
        LocalRequest::Services => LocalAnswer::Services(local_services(&answer.body)?),
        LocalRequest::Checks => LocalAnswer::Checks(local_checks(&answer.body)?),
        _ => LocalAnswer::Done,
    };
    Ok(Response::Local { answer })
}
