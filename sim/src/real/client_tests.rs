//! The client against a real node: every request of a corpus is sent both ways, typed
//! (`NodeHandle::request`) and over HTTP (`Client::send`), and the answers must agree.
//! The two runs use their own key prefix and session, so their log indexes legitimately
//! differ; everything else must be equal.

use super::client::Client;
use super::errors::api_error;
use concord_core::agent::{
    AgentConfig, ApiError, ApiResult, Consistency, Request, SessionRead, SessionSpec, WatchRead,
};
use concord_core::kv::txn::{TxnOp, TxnVerb};
use concord_core::kv::{KvCommand, KvError};
use concord_core::membership::Role;
use concord_node::{NodeConfig, NodeHandle};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A single server with `bootstrap_expect = 1` and fast timings, its HTTP API on a free
/// port, once it has a leader.
async fn start_node() -> (NodeHandle, Client) {
    let (rpc_port, gossip_port) = (free_port(), free_port());
    let mut agent = AgentConfig::new("real1", "127.0.0.1", Role::Server).fast();
    agent.bootstrap_expect = 1;
    agent.rpc_addr = format!("127.0.0.1:{rpc_port}");
    agent.gossip_addr = format!("127.0.0.1:{gossip_port}");
    let rpc: SocketAddr = agent.rpc_addr.parse().expect("rpc address");
    let gossip: SocketAddr = agent.gossip_addr.parse().expect("gossip address");
    let handle = concord_node::start(NodeConfig::new(agent, rpc, gossip))
        .await
        .expect("node starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new("real1", listener.local_addr().unwrap());
    tokio::spawn(concord_node::http::serve(listener, handle.clone()));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !matches!(
        client.send(Request::StatusLeader).await,
        Ok(concord_core::agent::Response::Leader { addr: Some(_) })
    ) {
        assert!(Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (handle, client)
}

fn set(key: String, value: &str) -> Request {
    let value = value.as_bytes().to_vec();
    Request::KvWrite {
        command: KvCommand::Set {
            key,
            value,
            flags: 7,
        },
    }
}

fn write(command: KvCommand) -> Request {
    Request::KvWrite { command }
}

fn get(key: String, consistency: Consistency) -> Request {
    Request::KvGet { key, consistency }
}

fn txn_op(verb: TxnVerb, key: String, value: &str, index: u64) -> TxnOp {
    let value = value.as_bytes().to_vec();
    TxnOp {
        verb,
        key,
        value,
        flags: 0,
        index,
        session: String::new(),
    }
}

/// The KV part of the corpus over prefix `p`, with session `id` for the lock.
fn kv_corpus(p: &str, id: &str) -> Vec<Request> {
    let k = |name: &str| format!("{p}/{name}");
    let lock = |session: &str, unlock: bool| {
        let (key, value, flags, session) = (k("lock"), b"held".to_vec(), 0, session.to_string());
        match unlock {
            false => KvCommand::Lock {
                key,
                value,
                flags,
                session,
            },
            true => KvCommand::Unlock {
                key,
                value,
                flags,
                session,
            },
        }
    };
    let mut corpus = vec![
        set(k("a"), "one"),
        set(k("dir/x y"), "spaced?&#"),
        write(KvCommand::Cas {
            key: k("b"),
            value: b"2".to_vec(),
            flags: 0,
            modify_index: 0,
        }),
        write(KvCommand::Cas {
            key: k("b"),
            value: b"3".to_vec(),
            flags: 0,
            modify_index: 0,
        }),
        get(k("a"), Consistency::Default),
        get(k("a"), Consistency::Consistent),
        get(k("a"), Consistency::Stale),
        get(k("dir/x y"), Consistency::Consistent),
        get(k("missing"), Consistency::Consistent),
        Request::KvList {
            prefix: k(""),
            consistency: Consistency::Consistent,
        },
        Request::KvKeys {
            prefix: k(""),
            separator: Some("/".into()),
            consistency: Consistency::Default,
        },
        Request::KvKeys {
            prefix: k("none/"),
            separator: None,
            consistency: Consistency::Default,
        },
        write(lock(id, false)),
        get(k("lock"), Consistency::Consistent),
        write(lock("00000000-0000-0000-0000-000000000000", false)),
        write(lock(id, true)),
        Request::Watch {
            index: 0,
            wait_ms: 1000,
            read: WatchRead::KvGet {
                key: k("a"),
                consistency: Consistency::Default,
            },
        },
    ];
    // The transactions run before the deletes: they read and check what is there.
    corpus.extend(txn_corpus(p));
    corpus.extend([
        write(KvCommand::DeleteCas {
            key: k("b"),
            modify_index: 1,
        }),
        write(KvCommand::Delete { key: k("a") }),
        get(k("a"), Consistency::Consistent),
        write(KvCommand::DeleteTree { prefix: k("") }),
        Request::KvList {
            prefix: k(""),
            consistency: Consistency::Stale,
        },
    ]);
    corpus
}

/// Transactions over prefix `p`: a write with a read, a read-only one, a rolled-back one.
fn txn_corpus(p: &str) -> Vec<Request> {
    let k = |name: &str| format!("{p}/{name}");
    vec![
        Request::Txn {
            ops: vec![
                txn_op(TxnVerb::Set, k("t"), "tv", 0),
                txn_op(TxnVerb::Get, k("t"), "", 0),
            ],
            consistency: Consistency::Default,
        },
        Request::Txn {
            ops: vec![txn_op(TxnVerb::GetTree, k(""), "", 0)],
            consistency: Consistency::Stale,
        },
        Request::Txn {
            ops: vec![
                txn_op(TxnVerb::CheckNotExists, k("a"), "", 0),
                txn_op(TxnVerb::Set, k("u"), "x", 0),
            ],
            consistency: Consistency::Default,
        },
    ]
}

/// Requests whose answers do not depend on the prefix: the cluster, and the errors.
fn shared_corpus(id: &str) -> Vec<Request> {
    vec![
        Request::StatusLeader,
        Request::StatusPeers,
        Request::RaftConfiguration,
        Request::Members,
        Request::RaftTransferLeader { target: None },
        Request::RaftTransferLeader {
            target: Some("no-such-server".into()),
        },
        Request::ForceLeave {
            node: "no-such-node".into(),
            prune: true,
        },
        Request::Session {
            read: SessionRead::Info(id.into()),
            consistency: Consistency::Consistent,
        },
        Request::Session {
            read: SessionRead::Info("no-such-session".into()),
            consistency: Consistency::Stale,
        },
        Request::SessionRenew {
            id: "no-such-session".into(),
        },
        set(String::new(), "x"),
        set("k".repeat(9000), "x"),
        Request::KvWrite {
            command: KvCommand::Set {
                key: "big".into(),
                value: vec![b'v'; 600_000],
                flags: 0,
            },
        },
        Request::ForceLeave {
            node: "no-such-node".into(),
            prune: false,
        },
        Request::Join {
            addr: "127.0.0.1:1".into(),
        },
    ]
}

/// The answer with what legitimately differs between the runs made equal: the prefix and
/// the session id named alike, log indexes and contact times zeroed.
fn normalized(result: &ApiResult, prefix: &str, id: &str) -> Value {
    let text = serde_json::to_string(result).expect("answers serialize");
    let named = |text: String, from: &str, to: &str| match from {
        "" => text,
        from => text.replace(from, to),
    };
    let text = named(named(text, prefix, "P"), id, "ID");
    let mut value: Value = serde_json::from_str(&text).expect("answers parse");
    zero_indexes(&mut value);
    value
}

/// Member fields `/v1/agent/members` does not show (`answers::member_info`).
const NOT_CARRIED: [&str; 2] = ["in_raft", "incarnation"];

fn zero_indexes(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                let varies = name == "index" || name.ends_with("_index") && name != "lock_index";
                if varies || name == "last_contact_ms" {
                    *field = Value::from(0);
                } else if NOT_CARRIED.contains(&name.as_str()) {
                    *field = Value::Null;
                } else {
                    zero_indexes(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(zero_indexes),
        _ => {}
    }
}

async fn session(send: impl std::future::Future<Output = ApiResult>) -> String {
    match send.await {
        Ok(concord_core::agent::Response::SessionCreated { id }) => id,
        other => panic!("session create: {other:?}"),
    }
}

fn session_spec(name: &str) -> SessionSpec {
    SessionSpec {
        name: name.into(),
        ttl: "30s".into(),
        ttl_ms: Some(30_000),
        ..Default::default()
    }
}

#[tokio::test]
async fn typed_and_http_answers_agree() {
    let (handle, client) = start_node().await;
    let typed_id = session(handle.request(Request::SessionCreate {
        spec: session_spec("s"),
    }))
    .await;
    let http_id = session(client.send(Request::SessionCreate {
        spec: session_spec("s"),
    }))
    .await;
    let runs = [
        ("typed-run", typed_id.as_str(), true),
        ("http-run", http_id.as_str(), false),
    ];
    let mut answers: Vec<Vec<Value>> = Vec::new();
    for (prefix, id, typed) in runs {
        let mut requests = kv_corpus(prefix, id);
        requests.extend(shared_corpus(id));
        requests.push(Request::SessionRenew { id: id.into() });
        requests.push(Request::SessionDestroy { id: id.into() });
        let mut run = Vec::new();
        for request in requests {
            let result = match typed {
                true => handle.request(request.clone()).await,
                false => client.send(request.clone()).await,
            };
            run.push(normalized(&result, prefix, id));
        }
        answers.push(run);
    }
    let corpus = kv_corpus("P", "ID").into_iter().chain(shared_corpus("ID"));
    for (i, request) in corpus.enumerate() {
        assert_eq!(answers[0][i], answers[1][i], "request {i}: {request:?}");
    }
    assert_eq!(answers[0].len(), answers[1].len());
    assert!(
        answers[0].iter().any(|a| a.get("Err").is_some()),
        "the corpus has errors too"
    );
}

/// Every `ApiError` through the node's HTTP mapping (`HttpError::from`) and back.
#[test]
fn every_api_error_round_trips_through_http() {
    let errors = [
        ApiError::NoLeader,
        ApiError::NoServers,
        ApiError::LeadershipLost,
        ApiError::Timeout,
        ApiError::JoinFailed("connection refused".into()),
        ApiError::Unavailable("agent is shutting down".into()),
        ApiError::RateLimited("queue full".into()),
        ApiError::TooLarge("snapshot of 9 bytes is over 8".into()),
        ApiError::BadRequest("Missing service name".into()),
        ApiError::NotFound("No failed node".into()),
        ApiError::Kv(KvError::EmptyKey),
        ApiError::Kv(KvError::ValueTooLarge {
            size_bytes: 600_000,
            size_bytes_max: 524_288,
        }),
        ApiError::Kv(KvError::KeyTooLarge {
            size_bytes: 9000,
            size_bytes_max: 8192,
        }),
        ApiError::Kv(KvError::SessionTooLong {
            size_bytes: 80,
            size_bytes_max: 64,
        }),
    ];
    for error in errors {
        let http = concord_node::http::HttpError::from(error.clone());
        assert_eq!(
            api_error(http.status.as_u16(), &http.reason),
            error,
            "{http:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_down_node() {
    let port = free_port(); // bound and released: nothing listens there now
    let client = Client::new("gone", SocketAddr::from(([127, 0, 0, 1], port)));
    let answer = client.send(Request::StatusLeader).await;
    assert_eq!(answer, Err(ApiError::Unavailable("gone is down".into())));
}

/// A connection closed after the request was read: the write may have happened.
#[tokio::test]
async fn a_connection_reset_after_sending_is_an_unknown_outcome() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new("flaky", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer).await;
        drop(stream);
    });
    let answer = client.send(set("k".into(), "v")).await;
    assert_eq!(answer, Err(ApiError::Timeout));
}

#[tokio::test]
async fn kinds_without_a_route_are_named_not_faked() {
    let client = Client::new("any", SocketAddr::from(([127, 0, 0, 1], 9)));
    match client.send(Request::AutopilotHealth).await {
        Err(ApiError::BadRequest(why)) => assert!(why.contains("autopilot-health"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// Over HTTP a write's index comes from `X-Concord-Index`: the same index the entry then
/// carries, which the linearizability checker orders writes by.
#[tokio::test]
async fn http_writes_carry_their_log_index_and_watches_wake() {
    let (_handle, client) = start_node().await;
    let written = client.send(set("w/k".into(), "1")).await;
    let Ok(concord_core::agent::Response::KvWritten {
        applied: true,
        index,
    }) = written
    else {
        panic!("write: {written:?}");
    };
    let read = client
        .send(get("w/k".into(), Consistency::Consistent))
        .await;
    let Ok(concord_core::agent::Response::Kv { entries, meta }) = read else {
        panic!("read: {read:?}");
    };
    assert!(
        index > 0 && entries[0].modify_index == index,
        "{index} vs {entries:?}"
    );
    let watch = Request::Watch {
        index: meta.index,
        wait_ms: 5_000,
        read: WatchRead::KvGet {
            key: "w/k".into(),
            consistency: Consistency::Default,
        },
    };
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.send(watch).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "a watch on the current index blocks"
    );
    client
        .send(set("w/k".into(), "2"))
        .await
        .expect("second write");
    let woke = tokio::time::timeout(Duration::from_secs(3), waiting).await;
    match woke
        .expect("the watch wakes on the write")
        .expect("watch task")
    {
        Ok(concord_core::agent::Response::Kv { entries, .. }) => assert_eq!(entries[0].value, b"2"),
        other => panic!("watch: {other:?}"),
    }
}

fn register(id: &str, ttl_ms: Option<u64>) -> Request {
    use concord_core::agent::local::LocalRequest;
    use concord_core::catalog::ServiceRegistration;
    let service = ServiceRegistration {
        id: id.into(),
        name: if id.is_empty() {
            String::new()
        } else {
            "web".into()
        },
        port: 8080,
        tags: vec!["v1".into()],
        ..Default::default()
    };
    Request::Local(LocalRequest::RegisterService {
        service: Box::new(service),
        checks: ttl_ms.map(crate::services::ttl_check).into_iter().collect(),
        replace_existing_checks: false,
    })
}

fn local(request: concord_core::agent::local::LocalRequest) -> Request {
    Request::Local(request)
}

fn catalog(read: concord_core::agent::CatalogRead) -> Request {
    Request::Catalog {
        read,
        consistency: Consistency::Default,
    }
}

/// Sent typed, then over HTTP at once, until two answers in a row agree (the agent's
/// anti-entropy may change the catalog between them); both kept for the assertion.
async fn both_ways(handle: &NodeHandle, client: &Client, request: &Request) -> (Value, Value) {
    let mut last = (Value::Null, Value::Null);
    for _ in 0..5 {
        let typed = normalized(&handle.request(request.clone()).await, "", "");
        let http = normalized(&client.send(request.clone()).await, "", "");
        if typed == http {
            return (typed, http);
        }
        last = (typed, http);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// The agent's own services and checks, and the catalog and health reads, both ways over
/// one node's state: writes on their own service ids, reads back to back.
#[tokio::test]
async fn local_and_catalog_answers_agree() {
    use concord_core::agent::local::LocalRequest;
    use concord_core::agent::CatalogRead;
    use concord_core::catalog::CheckStatus;
    let (handle, client) = start_node().await;
    let update = |id: &str, status| {
        let output = "set by the test".to_string();
        local(LocalRequest::TtlUpdate {
            id: id.into(),
            status,
            output,
        })
    };
    let writes = |p: &str| {
        vec![
            register(&format!("web-{p}"), Some(60_000)),
            update(&format!("service:web-{p}"), CheckStatus::Passing),
            register(&format!("db-{p}"), None),
            local(LocalRequest::DeregisterService {
                id: format!("db-{p}"),
            }),
            update("no-such-check", CheckStatus::Warning),
            register("", None),
        ]
    };
    for (typed, http) in writes("typed").into_iter().zip(writes("http")) {
        let typed_answer = normalized(&handle.request(typed.clone()).await, "typed", "");
        let http_answer = normalized(&client.send(http).await, "http", "");
        assert_eq!(typed_answer, http_answer, "{typed:?}");
    }
    let health = CatalogRead::HealthService {
        name: "web".into(),
        tags: vec![],
        passing: true,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(
        handle.request(catalog(health.clone())).await,
        Ok(concord_core::agent::Response::Catalog {
            answer: concord_core::agent::CatalogAnswer::Entries(ref e), ..
        }) if e.len() == 2
    ) {
        assert!(
            Instant::now() < deadline,
            "both instances reach the catalog"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reads = [
        local(LocalRequest::Services),
        local(LocalRequest::Checks),
        catalog(health.clone()),
        catalog(CatalogRead::HealthService {
            name: "web".into(),
            tags: vec!["v2".into()],
            passing: false,
        }),
        catalog(CatalogRead::CatalogServices),
        catalog(CatalogRead::CatalogService {
            name: "web".into(),
            tags: vec![],
        }),
        catalog(CatalogRead::CatalogNodes),
        catalog(CatalogRead::CatalogNode {
            name: "real1".into(),
        }),
        catalog(CatalogRead::CatalogNode {
            name: "nowhere".into(),
        }),
        catalog(CatalogRead::HealthNode {
            node: "real1".into(),
        }),
        catalog(CatalogRead::HealthChecks {
            service: "web".into(),
        }),
        catalog(CatalogRead::HealthState { state: None }),
        catalog(CatalogRead::HealthState {
            state: Some(CheckStatus::Passing),
        }),
        Request::Watch {
            index: 0,
            wait_ms: 1000,
            read: WatchRead::Catalog {
                read: health,
                consistency: Consistency::Default,
            },
        },
    ];
    for request in reads {
        let (typed, http) = both_ways(&handle, &client, &request).await;
        assert_eq!(typed, http, "{request:?}");
        let text = typed.to_string();
        assert!(text.contains("Ok"), "{request:?}: {text}");
        if request == local(LocalRequest::Services) {
            assert!(
                text.contains("web-typed") && text.contains("web-http"),
                "{text}"
            );
        }
    }
}
