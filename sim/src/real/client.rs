//! `Request` → HTTP → `ApiResult`: the simulator's typed requests sent to a real agent's HTTP
//! API, the inverse of `node/src/http` (which maps each route to a `Request`). Each request
//! kind the simulator's workloads and scenarios send has a route here; the others answer a
//! `BadRequest` naming the kind, so a scenario that needs one fails loudly, never silently.

use super::answers;
use super::catalog::{catalog_call, local_call};
use super::errors::api_error;
use super::net::Connector;
use super::wire::{exchange, Answer, WireError};
use concord_core::agent::{
    ApiError, ApiResult, Consistency, Request, SessionRead, SessionSpec, WatchRead,
};
use concord_core::kv::txn::TxnOp;
use concord_core::kv::KvCommand;
use std::net::SocketAddr;
use std::time::Duration;

/// How long one request may take before its outcome is unknown (`ApiError::Timeout`). A
/// blocking read gets its wait on top. Above the agent's own request timeout, so the agent
/// answers first when it can.
pub const CLIENT_TIMEOUT_MS: u64 = 8_000;

/// One HTTP call: method, path with query, body.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Vec<u8>,
}

impl Call {
    pub(super) fn new(method: &'static str, path: String) -> Call {
        Call {
            method,
            path,
            body: Vec::new(),
        }
    }

    pub(super) fn with_body(mut self, body: Vec<u8>) -> Call {
        self.body = body;
        self
    }
}

/// The HTTP API of one agent, `name` at `addr`.
#[derive(Clone)]
pub struct Client {
    name: String,
    addr: SocketAddr,
    /// Where the agent's namespace is entered to connect (`None`: this namespace).
    connector: Option<Connector>,
}

impl Client {
    pub fn new(name: &str, addr: SocketAddr) -> Client {
        Client {
            name: name.to_string(),
            addr,
            connector: None,
        }
    }

    /// A client of an agent in another network namespace, reached on its own addresses.
    pub fn with_connector(name: &str, addr: SocketAddr, connector: Connector) -> Client {
        Client {
            connector: Some(connector),
            ..Client::new(name, addr)
        }
    }

    /// Sends `request` and gives the answer the typed API would have given. A node that
    /// refuses the connection is down (as the simulator's missing handle); a connection lost
    /// after sending, or no answer in time, is an unknown outcome.
    pub async fn send(&self, request: Request) -> ApiResult {
        let call = call_of(&request)?;
        let timeout = Duration::from_millis(CLIENT_TIMEOUT_MS + extra_wait_ms(&request));
        let connector = self.connector.as_ref();
        let answer = exchange(
            self.addr,
            connector,
            call.method,
            &call.path,
            &call.body,
            timeout,
        );
        match answer.await {
            Ok(answer) => answer_of(&request, &answer),
            Err(WireError::NotSent(why)) => {
                tracing::debug!(node = %self.name, "real client: {why}");
                Err(ApiError::Unavailable(format!("{} is down", self.name)))
            }
            Err(WireError::Lost(why)) => {
                tracing::debug!(node = %self.name, "real client: {why}");
                Err(ApiError::Timeout)
            }
        }
    }
}

/// A blocking read waits up to its `wait_ms` (0: 5 minutes) plus 1/16 of jitter.
fn extra_wait_ms(request: &Request) -> u64 {
    match request {
        Request::Watch { wait_ms: 0, .. } => 5 * 60 * 1000 * 17 / 16,
        Request::Watch { wait_ms, .. } => wait_ms.saturating_mul(17) / 16,
        _ => 0,
    }
}

fn unsupported(request: &Request) -> ApiError {
    ApiError::BadRequest(format!(
        "the real-process client does not carry {} requests over HTTP yet",
        request.kind()
    ))
}

/// The HTTP call that asks for `request`, as `node/src/http` routes it.
pub fn call_of(request: &Request) -> Result<Call, ApiError> {
    Ok(match request {
        Request::KvGet { key, consistency } => kv_read(key, "", *consistency),
        Request::KvList {
            prefix,
            consistency,
        } => kv_read(prefix, "recurse", *consistency),
        Request::KvKeys {
            prefix,
            separator,
            consistency,
        } => kv_read(prefix, &keys_flags(separator), *consistency),
        Request::KvWrite { command } => kv_write(command),
        Request::StatusLeader => Call::new("GET", "/v1/status/leader".into()),
        Request::StatusPeers => Call::new("GET", "/v1/status/peers".into()),
        Request::RaftConfiguration => Call::new("GET", "/v1/operator/raft/configuration".into()),
        Request::RaftTransferLeader { target } => {
            let id = target
                .as_deref()
                .map(|t| format!("?id={}", escape(t)))
                .unwrap_or_default();
            Call::new("POST", format!("/v1/operator/raft/transfer-leader{id}"))
        }
        Request::Members => Call::new("GET", "/v1/agent/members".into()),
        Request::Join { addr } => Call::new("PUT", format!("/v1/agent/join/{}", escape(addr))),
        Request::Leave => Call::new("PUT", "/v1/agent/leave".into()),
        Request::ForceLeave { node, prune } => {
            let prune = if *prune { "?prune" } else { "" };
            Call::new(
                "PUT",
                format!("/v1/agent/force-leave/{}{prune}", escape(node)),
            )
        }
        Request::SessionCreate { spec } => {
            Call::new("PUT", "/v1/session/create".into()).with_body(session_body(spec))
        }
        Request::SessionDestroy { id } => {
            Call::new("PUT", format!("/v1/session/destroy/{}", escape(id)))
        }
        Request::SessionRenew { id } => {
            Call::new("PUT", format!("/v1/session/renew/{}", escape(id)))
        }
        Request::Session { read, consistency } => session_read(read, "", *consistency),
        Request::Txn { ops, consistency } => {
            let path = format!("/v1/txn{}", query(&[consistency_flag(*consistency)]));
            Call::new("PUT", path).with_body(txn_body(ops))
        }
        Request::Watch {
            index,
            wait_ms,
            read,
        } => watch(*index, *wait_ms, read),
        Request::Local(local) => local_call(local).ok_or_else(|| unsupported(request))?,
        Request::Catalog { read, consistency } => {
            catalog_call(read, &[consistency_flag(*consistency)])
        }
        _ => return Err(unsupported(request)),
    })
}

fn consistency_flag(consistency: Consistency) -> &'static str {
    match consistency {
        Consistency::Default => "",
        Consistency::Consistent => "consistent",
        Consistency::Stale => "stale",
    }
}

/// `?` and the non-empty parts joined by `&` (nothing when all are empty).
pub(super) fn query(parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// `flags` are query parts joined by `&` (or empty).
fn kv_read(key: &str, flags: &str, consistency: Consistency) -> Call {
    let query = query(&[consistency_flag(consistency), flags]);
    Call::new("GET", format!("/v1/kv/{}{query}", escape_key(key)))
}

fn keys_flags(separator: &Option<String>) -> String {
    match separator {
        Some(separator) => format!("keys&separator={}", escape(separator)),
        None => "keys".into(),
    }
}

fn kv_write(command: &KvCommand) -> Call {
    let put = |key: &str, more: String, value: &[u8], flags: u64| {
        let path = format!("/v1/kv/{}?flags={flags}{more}", escape_key(key));
        Call::new("PUT", path).with_body(value.to_vec())
    };
    let delete =
        |key: &str, query: &str| Call::new("DELETE", format!("/v1/kv/{}{query}", escape_key(key)));
    match command {
        KvCommand::Set { key, value, flags } => put(key, String::new(), value, *flags),
        KvCommand::Cas {
            key,
            value,
            flags,
            modify_index,
        } => put(key, format!("&cas={modify_index}"), value, *flags),
        KvCommand::Lock {
            key,
            value,
            flags,
            session,
        } => put(key, format!("&acquire={}", escape(session)), value, *flags),
        KvCommand::Unlock {
            key,
            value,
            flags,
            session,
        } => put(key, format!("&release={}", escape(session)), value, *flags),
        KvCommand::Delete { key } => delete(key, ""),
        KvCommand::DeleteCas { key, modify_index } => delete(key, &format!("?cas={modify_index}")),
        KvCommand::DeleteTree { prefix } => delete(prefix, "?recurse"),
    }
}

fn session_read(read: &SessionRead, flags: &str, consistency: Consistency) -> Call {
    let route = match read {
        SessionRead::Info(id) => format!("info/{}", escape(id)),
        SessionRead::Node(node) => format!("node/{}", escape(node)),
        SessionRead::List => "list".into(),
    };
    let path = format!(
        "/v1/session/{route}{}",
        query(&[consistency_flag(consistency), flags])
    );
    Call::new("GET", path)
}

/// `?index=&wait=` on the read's own route (Consul's blocking query).
fn watch(index: u64, wait_ms: u64, read: &WatchRead) -> Call {
    let flags = format!("index={index}&wait={wait_ms}ms");
    match read {
        WatchRead::KvGet { key, consistency } => kv_read(key, &flags, *consistency),
        WatchRead::KvList {
            prefix,
            consistency,
        } => kv_read(prefix, &format!("recurse&{flags}"), *consistency),
        WatchRead::KvKeys {
            prefix,
            separator,
            consistency,
        } => kv_read(
            prefix,
            &format!("{}&{flags}", keys_flags(separator)),
            *consistency,
        ),
        WatchRead::Session { read, consistency } => session_read(read, &flags, *consistency),
        WatchRead::Catalog { read, consistency } => {
            catalog_call(read, &[consistency_flag(*consistency), &flags])
        }
    }
}

/// The create body `session_json::create_spec` reads back into the same spec.
fn session_body(spec: &SessionSpec) -> Vec<u8> {
    let service_checks: Vec<serde_json::Value> = spec
        .service_checks
        .iter()
        .map(|c| serde_json::json!({"ID": c.id, "Namespace": c.namespace}))
        .collect();
    let ttl = match (&spec.ttl, spec.ttl_ms) {
        (text, Some(ms)) if text.is_empty() => format!("{ms}ms"),
        (text, _) => text.clone(),
    };
    let body = serde_json::json!({
        "Name": spec.name,
        "Node": spec.node.clone().unwrap_or_default(),
        "LockDelay": format!("{}ns", spec.lock_delay_ns),
        "Behavior": spec.behavior.as_str(),
        "TTL": ttl,
        "NodeChecks": spec.node_checks,
        "ServiceChecks": service_checks,
    });
    body.to_string().into_bytes()
}

/// Consul's `[{"KV":{...}}]`, values in base64 (`txn_json::parse_txn` reads it).
fn txn_body(ops: &[TxnOp]) -> Vec<u8> {
    use base64::Engine;
    let ops: Vec<serde_json::Value> = ops
        .iter()
        .map(|op| {
            let value = base64::engine::general_purpose::STANDARD.encode(&op.value);
            serde_json::json!({"KV": {
                "Verb": op.verb.name(),
                "Key": op.key,
                "Value": value,
                "Flags": op.flags,
                "Index": op.index,
                "Session": op.session,
            }})
        })
        .collect();
    serde_json::Value::Array(ops).to_string().into_bytes()
}

/// Percent-encodes all but the unreserved characters.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A key keeps its slashes: the KV route takes everything after `/v1/kv/`.
fn escape_key(key: &str) -> String {
    key.split('/').map(escape).collect::<Vec<_>>().join("/")
}

/// The typed answer of `request` from its HTTP answer.
fn answer_of(request: &Request, answer: &Answer) -> ApiResult {
    let decoded = answers::decode(request, answer);
    match decoded {
        Some(result) => result,
        None => Err(api_error(answer.status, &answer.text())),
    }
}
