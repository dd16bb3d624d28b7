//! End to end: a `-dev`-like single server, the real router on a TCP port, and a tiny raw
//! HTTP/1.1 client (no client crate needed, and the bytes on the wire are what is checked).

use super::serve;
use crate::config::NodeConfig;
use crate::handle::NodeHandle;
use concord_core::agent::AgentConfig;
use concord_core::membership::Role;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    fn index(&self) -> u64 {
        self.header("X-Consul-Index")
            .expect("X-Consul-Index")
            .parse()
            .unwrap()
    }
}

/// One request on its own connection (`Connection: close`, so the body ends at EOF).
async fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: concord\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read answer");
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct DevNode {
    handle: NodeHandle,
    http: SocketAddr,
    rpc_addr: String,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A single server with `bootstrap_expect = 1` and fast timings, once it has a leader.
async fn start_dev_node() -> DevNode {
    let (rpc_port, gossip_port) = (free_port(), free_port());
    let mut agent = AgentConfig::new("dev", "127.0.0.1", Role::Server).fast();
    agent.bootstrap_expect = 1;
    agent.rpc_addr = format!("127.0.0.1:{rpc_port}");
    agent.gossip_addr = format!("127.0.0.1:{gossip_port}");
    let rpc_addr = agent.rpc_addr.clone();
    let config = NodeConfig::new(
        agent,
        rpc_addr.parse().unwrap(),
        format!("127.0.0.1:{gossip_port}").parse().unwrap(),
    );
    let handle = crate::start(config).await.expect("node starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, handle.clone()));
    let deadline = Instant::now() + Duration::from_secs(15);
    while call(http, "GET", "/v1/status/leader", b"").await.json() == "" {
        assert!(Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    DevNode {
        handle,
        http,
        rpc_addr,
        server,
    }
}

#[tokio::test]
async fn kv_put_get_delete_through_http() {
    let node = start_dev_node().await;
    let at = node.http;

    let missing = call(at, "GET", "/v1/kv/missing", b"").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
    assert!(missing.index() >= 1);
    assert_eq!(missing.header("X-Consul-KnownLeader"), Some("true"));
    assert!(missing.header("X-Consul-LastContact").is_some());

    let put = call(at, "PUT", "/v1/kv/web/config?flags=42", b"hello").await;
    assert_eq!((put.status, put.text().as_str()), (200, "true"));
    assert_eq!(put.header("Content-Type"), Some("application/json"));

    let got = call(at, "GET", "/v1/kv/web/config", b"").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("Content-Type"), Some("application/json"));
    let entry = &got.json()[0];
    assert_eq!(entry["Key"], "web/config");
    assert_eq!(entry["Flags"], 42);
    assert_eq!(entry["Value"], "aGVsbG8=");
    assert_eq!(entry["LockIndex"], 0);
    assert!(entry.get("Session").is_none());
    let modify_index = entry["ModifyIndex"].as_u64().unwrap();
    assert_eq!(entry["CreateIndex"].as_u64(), Some(modify_index));
    assert_eq!(got.index(), modify_index);

    let raw = call(at, "GET", "/v1/kv/web/config?raw", b"").await;
    assert_eq!((raw.status, raw.text().as_str()), (200, "hello"));
    assert_eq!(raw.header("Content-Type"), Some("text/plain"));

    let empty = call(at, "PUT", "/v1/kv/empty", b"").await;
    assert_eq!(empty.text(), "true");
    assert!(call(at, "GET", "/v1/kv/empty", b"").await.json()[0]["Value"].is_null());

    let deleted = call(at, "DELETE", "/v1/kv/empty", b"").await;
    assert_eq!((deleted.status, deleted.text().as_str()), (200, "true"));
    assert_eq!(call(at, "GET", "/v1/kv/empty", b"").await.status, 404);
}

#[tokio::test]
async fn kv_cas_recurse_and_keys() {
    let node = start_dev_node().await;
    let at = node.http;
    assert_eq!(
        call(at, "PUT", "/v1/kv/app/a?cas=0", b"1").await.text(),
        "true"
    );
    assert_eq!(
        call(at, "PUT", "/v1/kv/app/a?cas=0", b"2").await.text(),
        "false"
    );
    let index = call(at, "GET", "/v1/kv/app/a", b"").await.json()[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    assert_eq!(
        call(at, "PUT", &format!("/v1/kv/app/a?cas={index}"), b"3")
            .await
            .text(),
        "true"
    );
    assert_eq!(
        call(at, "PUT", &format!("/v1/kv/app/a?cas={index}"), b"4")
            .await
            .text(),
        "false"
    );
    assert_eq!(
        call(at, "DELETE", &format!("/v1/kv/app/a?cas={index}"), b"")
            .await
            .text(),
        "false"
    );
    call(at, "PUT", "/v1/kv/app/b", b"b").await;
    call(at, "PUT", "/v1/kv/app/sub/c", b"c").await;
    call(at, "PUT", "/v1/kv/other", b"o").await;

    let listed = call(at, "GET", "/v1/kv/app?recurse", b"").await.json();
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["app/a", "app/b", "app/sub/c"]);
    let keys = call(at, "GET", "/v1/kv/app/?keys&separator=/", b"")
        .await
        .json();
    assert_eq!(keys, serde_json::json!(["app/a", "app/b", "app/sub/"]));
    let all = call(at, "GET", "/v1/kv/?keys=true", b"").await.json();
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(
        call(at, "GET", "/v1/kv/nothing?keys", b"").await.status,
        404
    );

    assert_eq!(
        call(at, "DELETE", "/v1/kv/app?recurse", b"").await.text(),
        "true"
    );
    assert_eq!(call(at, "GET", "/v1/kv/app?recurse", b"").await.status, 404);
    assert_eq!(call(at, "GET", "/v1/kv/other", b"").await.status, 200);
    assert_eq!(
        call(at, "DELETE", "/v1/kv/?recurse", b"").await.text(),
        "true"
    );
    assert_eq!(call(at, "GET", "/v1/kv/?recurse", b"").await.status, 404);
}

#[tokio::test]
async fn kv_values_over_512_kib_are_413_naming_size_and_limit() {
    let node = start_dev_node().await;
    let at = node.http;
    let at_limit = vec![b'x'; 512 * 1024];
    assert_eq!(call(at, "PUT", "/v1/kv/big", &at_limit).await.status, 200);
    let too_big = call(at, "PUT", "/v1/kv/big", &vec![b'x'; 600_000]).await;
    assert_eq!(too_big.status, 413);
    assert!(
        too_big.text().contains("600000") && too_big.text().contains("524288"),
        "{}",
        too_big.text()
    );

    // Past the 1 MiB read limit the body is not read: the size comes from Content-Length.
    let huge = call_streaming(at, "/v1/kv/big", 2 * 1024 * 1024).await;
    assert_eq!(huge.status, 413);
    assert!(huge.text().contains("2097152"), "{}", huge.text());
    assert_eq!(
        call(at, "GET", "/v1/kv/big?raw", b"").await.body.len(),
        512 * 1024
    );
}

/// A PUT of `size` bytes, written while the answer is read: the server may answer (and close)
/// before taking the whole body, as Consul clients see with oversized values.
async fn call_streaming(addr: SocketAddr, path: &str, size: usize) -> Answer {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: concord\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    );
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&vec![b'x'; size]).await
    });
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw).await.expect("read answer");
    sender.abort();
    parse_answer(&raw)
}

#[tokio::test]
async fn kv_bad_requests_and_consistency() {
    let node = start_dev_node().await;
    let at = node.http;
    let both = call(at, "GET", "/v1/kv/a?stale&consistent", b"").await;
    assert_eq!(both.status, 400);
    let consistent = call(at, "GET", "/v1/kv/a?consistent", b"").await;
    assert_eq!(consistent.status, 404);
    assert_eq!(
        consistent.header("X-Consul-Effective-Consistency"),
        Some("consistent")
    );
    assert_eq!(call(at, "GET", "/v1/kv/a?stale", b"").await.status, 404);
    let no_key = call(at, "PUT", "/v1/kv/", b"x").await;
    assert_eq!(
        (no_key.status, no_key.text().as_str()),
        (400, "Missing key name")
    );
    assert_eq!(call(at, "GET", "/v1/kv/", b"").await.status, 400);
    assert_eq!(
        call(at, "PUT", "/v1/kv/lock?acquire=abc", b"").await.status,
        400
    );
    assert_eq!(call(at, "PUT", "/v1/kv/a?flags=x", b"").await.status, 400);
    assert_eq!(
        call(at, "GET", "/v1/kv/a?dc=elsewhere", b"").await.status,
        500
    );
    let wrong_method = call(at, "POST", "/v1/kv/a", b"").await;
    assert_eq!(wrong_method.status, 405);
    assert!(wrong_method.header("Allow").unwrap().contains("PUT"));
    let unknown = call(at, "GET", "/v1/nope", b"").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.text().contains("/v1/nope"));
}

#[tokio::test]
async fn blocking_query_returns_on_change_of_its_key_only() {
    let node = start_dev_node().await;
    let at = node.http;
    call(at, "PUT", "/v1/kv/watched", b"1").await;
    let index = call(at, "GET", "/v1/kv/watched", b"").await.index();

    let started = Instant::now();
    let blocked = tokio::spawn(async move {
        call(
            at,
            "GET",
            &format!("/v1/kv/watched?index={index}&wait=10s"),
            b"",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    call(at, "PUT", "/v1/kv/unrelated", b"x").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !blocked.is_finished(),
        "an unrelated write ended the blocking query"
    );
    call(at, "PUT", "/v1/kv/watched", b"2").await;
    let answer = blocked.await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(answer.index() > index);
    assert_eq!(answer.json()[0]["Value"], "Mg==");

    // Nothing changes: the wait runs out (plus at most 1/16 jitter) and the same index comes back.
    let index = answer.index();
    let started = Instant::now();
    let timed_out = call(
        at,
        "GET",
        &format!("/v1/kv/watched?index={index}&wait=400ms"),
        b"",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!((timed_out.status, timed_out.index()), (200, index));
}

#[tokio::test]
async fn status_agent_and_operator_endpoints() {
    let node = start_dev_node().await;
    let at = node.http;
    assert_eq!(
        call(at, "GET", "/v1/status/leader", b"").await.json(),
        node.rpc_addr.as_str()
    );
    assert_eq!(
        call(at, "GET", "/v1/status/peers", b"").await.json(),
        serde_json::json!([node.rpc_addr])
    );

    let me = call(at, "GET", "/v1/agent/self", b"").await.json();
    assert_eq!(me["Config"]["NodeName"], "dev");
    assert_eq!(me["Config"]["Datacenter"], "dc1");
    assert_eq!(me["Config"]["Server"], true);
    assert_eq!(me["Member"]["Tags"]["role"], "consul");
    let members = call(at, "GET", "/v1/agent/members", b"").await.json();
    assert_eq!(members[0]["Name"], "dev");
    assert_eq!(members[0]["Addr"], "127.0.0.1");
    assert_eq!(members[0]["Status"], 1);

    let raft = call(at, "GET", "/v1/operator/raft/configuration", b"")
        .await
        .json();
    assert_eq!(raft["Servers"][0]["Leader"], true);
    assert_eq!(raft["Servers"][0]["Voter"], true);
    assert_eq!(raft["Servers"][0]["Address"], node.rpc_addr.as_str());
    assert_eq!(raft["Servers"][0]["ProtocolVersion"], "3");
    assert_eq!(
        call(at, "DELETE", "/v1/operator/raft/peer", b"")
            .await
            .status,
        400
    );

    assert_eq!(call(at, "PUT", "/v1/agent/reload", b"").await.status, 200);
    assert_eq!(call(at, "GET", "/v1/agent/reload", b"").await.status, 405);
    assert_eq!(
        call(at, "PUT", "/v1/agent/force-leave/nobody", b"")
            .await
            .status,
        404
    );

    let left = call(at, "PUT", "/v1/agent/leave", b"").await;
    assert_eq!(left.status, 200, "{}", left.text());
    tokio::time::timeout(Duration::from_secs(10), node.handle.stopped())
        .await
        .expect("node stops");
    let served = tokio::time::timeout(Duration::from_secs(10), node.server).await;
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "the HTTP server ends with the node"
    );
}

/// The autopilot endpoints in Consul's shapes: the leader stores its local config at once,
/// `?cas=` decides a write, and health and state describe the one server.
#[tokio::test]
async fn autopilot_configuration_health_and_state() {
    let node = start_dev_node().await;
    let at = node.http;
    let path = "/v1/operator/autopilot/configuration";
    let deadline = Instant::now() + Duration::from_secs(10);
    let config = loop {
        let config = call(at, "GET", path, b"").await.json();
        if config["ModifyIndex"].as_u64() > Some(0) {
            break config;
        }
        assert!(Instant::now() < deadline, "no config stored: {config}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let index = config["ModifyIndex"].as_u64().unwrap();
    assert_eq!(config["CreateIndex"].as_u64(), Some(index));
    let expected = serde_json::json!({
        "CleanupDeadServers": true, "LastContactThreshold": "200ms", "MaxTrailingLogs": 250,
        "MinQuorum": 0, "ServerStabilizationTime": "2s", "RedundancyZoneTag": "",
        "DisableUpgradeMigration": false, "UpgradeVersionTag": "",
        "CreateIndex": index, "ModifyIndex": index,
    });
    assert_eq!(config, expected);

    let body = br#"{"CleanupDeadServers":false,"LastContactThreshold":"1s","MaxTrailingLogs":10,"MinQuorum":3,"ServerStabilizationTime":"30s"}"#;
    let stale = call(at, "PUT", &format!("{path}?cas={}", index + 100), body).await;
    assert_eq!((stale.status, stale.text().as_str()), (200, "false"));
    let put = call(at, "PUT", &format!("{path}?cas={index}"), body).await;
    assert_eq!((put.status, put.text().as_str()), (200, "true"));
    let config = call(at, "GET", path, b"").await.json();
    assert_eq!(config["CleanupDeadServers"], false);
    assert_eq!(config["LastContactThreshold"], "1s");
    assert_eq!(config["ServerStabilizationTime"], "30s");
    assert_eq!(
        (
            config["MaxTrailingLogs"].as_u64(),
            config["MinQuorum"].as_u64()
        ),
        (Some(10), Some(3))
    );
    assert_eq!(config["CreateIndex"].as_u64(), Some(index));
    assert!(config["ModifyIndex"].as_u64() > Some(index));
    let bad = call(at, "PUT", path, br#"{"LastContactThreshold":"soon"}"#).await;
    assert_eq!(bad.status, 400, "{}", bad.text());

    let health = call(at, "GET", "/v1/operator/autopilot/health", b"").await;
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    assert_eq!(
        (
            health["Healthy"].as_bool(),
            health["FailureTolerance"].as_u64()
        ),
        (Some(true), Some(0))
    );
    let server = &health["Servers"][0];
    assert_eq!(server["ID"], "dev");
    assert_eq!(server["Name"], "dev");
    assert_eq!(server["Address"], node.rpc_addr.as_str());
    assert_eq!(server["SerfStatus"], "alive");
    assert_eq!(
        (server["Leader"].as_bool(), server["Voter"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(server["LastContact"], "0s");
    assert!(server["LastIndex"].as_u64() > Some(index));
    assert!(server["LastTerm"].as_u64() >= Some(1));
    let since = server["StableSince"].as_str().unwrap();
    assert!(since.starts_with("20") && since.ends_with('Z'), "{since}");
    assert!(server["Version"].as_str().is_some_and(|v| !v.is_empty()));

    let state = call(at, "GET", "/v1/operator/autopilot/state", b"").await;
    assert_eq!(state.status, 200, "{}", state.text());
    let state = state.json();
    assert_eq!(state["Healthy"], true);
    assert_eq!(state["OptimisticFailureTolerance"], 0);
    assert_eq!(state["Leader"], "dev");
    assert_eq!(state["Voters"], serde_json::json!(["dev"]));
    let me = &state["Servers"]["dev"];
    assert_eq!(
        (me["Status"].as_str(), me["NodeStatus"].as_str()),
        (Some("leader"), Some("alive"))
    );
    assert_eq!(
        (me["ID"].as_str(), me["NodeType"].as_str()),
        (Some("dev"), Some("voter"))
    );
    assert_eq!(me["Meta"], serde_json::json!({}));
    assert_eq!(me["StableSince"], since);
}

/// Creates a session, retrying while the leader has not yet registered its own node and
/// serfHealth (a session's default check), as a client would.
/// The body of one request's answer, as text.
async fn text_of(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> String {
    call(addr, method, path, body).await.text()
}

async fn create_session(at: SocketAddr, body: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let created = call(at, "PUT", "/v1/session/create", body.as_bytes()).await;
        if created.status == 200 {
            let id = created.json()["ID"].as_str().unwrap().to_string();
            assert_eq!(id.len(), 36, "{id}");
            return id;
        }
        assert!(Instant::now() < deadline, "no session: {}", created.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kv_entry(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()[0].clone()
}

#[tokio::test]
async fn sessions_are_shown_in_consuls_shape_and_field_order() {
    let node = start_dev_node().await;
    let at = node.http;
    let id = create_session(at, r#"{"name":"web","ttl":"30s","lockdelay":"2s"}"#).await;
    let info = call(at, "GET", &format!("/v1/session/info/{id}"), b"").await;
    assert_eq!(info.status, 200);
    assert_eq!(info.header("X-Consul-KnownLeader"), Some("true"));
    assert!(info.header("X-Consul-LastContact").is_some());
    let text = info.text();
    let order = [
        "\"ID\"",
        "\"Name\"",
        "\"Node\"",
        "\"LockDelay\"",
        "\"Behavior\"",
        "\"TTL\"",
        "\"NodeChecks\"",
        "\"ServiceChecks\"",
        "\"CreateIndex\"",
        "\"ModifyIndex\"",
    ];
    let at_of = |field: &str| {
        text.find(field)
            .unwrap_or_else(|| panic!("{field} in {text}"))
    };
    assert!(
        order.windows(2).all(|w| at_of(w[0]) < at_of(w[1])),
        "{text}"
    );
    let s = &info.json()[0];
    assert_eq!(
        (s["ID"].as_str(), s["Name"].as_str(), s["Node"].as_str()),
        (Some(id.as_str()), Some("web"), Some("dev"))
    );
    assert_eq!(
        (
            s["LockDelay"].as_u64(),
            s["Behavior"].as_str(),
            s["TTL"].as_str()
        ),
        (Some(2_000_000_000), Some("release"), Some("30s"))
    );
    assert_eq!(s["NodeChecks"], serde_json::json!(["serfHealth"]));
    assert!(s["ServiceChecks"].is_null() && s.get("Checks").is_none());
    let created_at = s["CreateIndex"].as_u64().unwrap();
    assert_eq!(s["ModifyIndex"].as_u64(), Some(created_at));
    assert!(info.index() >= created_at);

    let none = create_session(at, r#"{"Checks":[],"LockDelay":0}"#).await;
    let s = call(at, "GET", &format!("/v1/session/info/{none}"), b"")
        .await
        .json();
    assert!(s[0]["NodeChecks"].is_null(), "{s}");
    assert_eq!(s[0]["LockDelay"], 0);
}

#[tokio::test]
async fn session_list_node_info_renew_and_a_blocking_list() {
    let node = start_dev_node().await;
    let at = node.http;
    let id = create_session(at, r#"{"TTL":"30s"}"#).await;
    let none = create_session(at, r#"{"Checks":[]}"#).await;
    let listed = call(at, "GET", "/v1/session/list", b"").await;
    let listed_json = listed.json();
    let ids: Vec<&str> = (listed_json.as_array().unwrap().iter())
        .map(|s| s["ID"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&none.as_str()),
        "{ids:?}"
    );
    assert_eq!(
        call(at, "GET", "/v1/session/node/dev", b"")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let nobody = call(at, "GET", "/v1/session/node/nobody", b"").await;
    assert_eq!((nobody.status, nobody.text().as_str()), (200, "[]"));
    assert!(nobody.index() >= 1);
    assert_eq!(
        text_of(at, "GET", "/v1/session/info/unknown", b"").await,
        "[]"
    );

    let renewed = call(at, "PUT", &format!("/v1/session/renew/{id}"), b"").await;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    assert_eq!(renewed.json()[0]["ID"], id.as_str());
    let gone = call(at, "PUT", "/v1/session/renew/unknown", b"").await;
    assert_eq!(
        (gone.status, gone.text().as_str()),
        (404, "Session id 'unknown' not found")
    );

    // A blocking list wakes when a session goes.
    let index = listed.index();
    let blocked = tokio::spawn(async move {
        call(
            at,
            "GET",
            &format!("/v1/session/list?index={index}&wait=10s"),
            b"",
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "the blocking list returned before any change"
    );
    let destroyed = call(at, "PUT", &format!("/v1/session/destroy/{none}"), b"").await;
    assert_eq!((destroyed.status, destroyed.text().as_str()), (200, "true"));
    let woke = blocked.await.unwrap();
    assert!(woke.index() > index);
    assert_eq!(woke.json().as_array().unwrap().len(), 1);
    assert_eq!(
        text_of(at, "PUT", "/v1/session/destroy/unknown", b"").await,
        "true"
    );
    assert_eq!(
        text_of(at, "GET", &format!("/v1/session/info/{none}"), b"").await,
        "[]"
    );
}

#[tokio::test]
async fn session_create_mistakes_are_400_with_consuls_texts() {
    let node = start_dev_node().await;
    let at = node.http;
    let refused = |body: &'static str| async move {
        let answer = call(at, "PUT", "/v1/session/create", body.as_bytes()).await;
        (answer.status, answer.text())
    };
    assert_eq!(
        refused(r#"{"TTL":"5s"}"#).await,
        (
            400,
            "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]".into()
        )
    );
    assert_eq!(refused(r#"{"TTL":"25h"}"#).await.0, 400);
    assert_eq!(
        refused(r#"{"TTL":"x"}"#).await,
        (
            400,
            "Session TTL 'x' invalid: invalid duration \"x\"".into()
        )
    );
    assert_eq!(
        refused(r#"{"Behavior":"keep"}"#).await,
        (400, "Invalid Behavior setting 'keep'".into())
    );
    assert_eq!(refused(r#"{"Node":"nobody","Checks":[]}"#).await.0, 400);
    assert_eq!(refused("{bad").await.0, 400);
    let missing = call(at, "PUT", "/v1/session/destroy/", b"").await;
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (400, "Missing session")
    );
    let missing = call(at, "GET", "/v1/session/node/", b"").await;
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (400, "Missing node name")
    );
    assert_eq!(call(at, "GET", "/v1/session/create", b"").await.status, 405);
}

#[tokio::test]
async fn kv_acquire_release_lock_index_and_rising_fencing_tokens() {
    let node = start_dev_node().await;
    let at = node.http;
    let s1 = create_session(at, r#"{"LockDelay":"0s"}"#).await;
    let s2 = create_session(at, r#"{"LockDelay":"0s"}"#).await;
    let put = |query: String, body: &'static [u8]| async move {
        call(at, "PUT", &format!("/v1/kv/svc/leader?{query}"), body).await
    };
    let entry = || async move { kv_entry(&call(at, "GET", "/v1/kv/svc/leader", b"").await) };
    let token = |answer: &Answer| {
        let token = answer.header("X-Concord-Fencing-Token");
        token.map(|t| t.parse::<u64>().unwrap())
    };

    let first = put(format!("acquire={s1}&flags=5"), b"one").await;
    assert_eq!((first.status, first.text().as_str()), (200, "true"));
    let t1 = token(&first).expect("a true acquire carries its fencing token");
    let e = entry().await;
    let lock = (
        e["LockIndex"].as_u64(),
        e["Session"].as_str(),
        e["Flags"].as_u64(),
    );
    assert_eq!(lock, (Some(1), Some(s1.as_str()), Some(5)));
    let written = (e["Value"].as_str(), e["ModifyIndex"].as_u64());
    assert_eq!(
        written,
        (Some("b25l"), Some(t1)),
        "the token is the acquire's index"
    );

    let other = put(format!("acquire={s2}"), b"x").await;
    assert_eq!((other.text().as_str(), token(&other)), ("false", None));
    let again = put(format!("acquire={s1}"), b"two").await;
    assert_eq!(again.text(), "true");
    let t2 = token(&again).unwrap();
    assert!(t2 > t1);
    assert_eq!(
        entry().await["LockIndex"],
        1,
        "the holder's re-acquire keeps LockIndex"
    );

    assert_eq!(put(format!("release={s2}"), b"").await.text(), "false");
    let released = put(format!("release={s1}&acquire={s1}"), b"rel").await;
    let answer = (released.text(), token(&released));
    assert_eq!(answer, ("true".into(), None), "release wins over acquire");
    let e = entry().await;
    assert!(e.get("Session").is_none(), "{e}");
    let kept = (e["LockIndex"].as_u64(), e["Value"].as_str());
    assert_eq!(
        kept,
        (Some(1), Some("cmVs")),
        "release keeps LockIndex, writes the body"
    );

    let taken = put(format!("acquire={s2}"), b"").await;
    assert_eq!(taken.text(), "true");
    assert!(token(&taken).unwrap() > t2);
    assert_eq!(entry().await["LockIndex"], 2);
}

#[tokio::test]
async fn kv_acquire_refusals_and_a_destroyed_holder() {
    let node = start_dev_node().await;
    let at = node.http;
    let s2 = create_session(at, r#"{"LockDelay":"0s"}"#).await;
    let taken = call(at, "PUT", &format!("/v1/kv/svc/leader?acquire={s2}"), b"").await;
    assert_eq!(taken.text(), "true");
    let invalid = call(at, "PUT", "/v1/kv/svc/other?acquire=nonexistent", b"").await;
    assert_eq!(invalid.status, 400);
    assert!(
        invalid.text().contains("invalid session"),
        "{}",
        invalid.text()
    );
    assert_eq!(
        call(at, "PUT", "/v1/kv/svc/other?acquire=", b"")
            .await
            .status,
        400
    );

    // Destroying the holder releases (Behavior release) its key.
    assert_eq!(
        text_of(at, "PUT", &format!("/v1/session/destroy/{s2}"), b"").await,
        "true"
    );
    let e = kv_entry(&call(at, "GET", "/v1/kv/svc/leader", b"").await);
    assert!(e.get("Session").is_none() && e["LockIndex"] == 1, "{e}");
}

#[tokio::test]
async fn lock_delay_and_delete_behavior() {
    let node = start_dev_node().await;
    let at = node.http;
    let ephemeral = create_session(at, r#"{"Behavior":"delete","LockDelay":0}"#).await;
    assert_eq!(
        text_of(at, "PUT", &format!("/v1/kv/eph?acquire={ephemeral}"), b"x").await,
        "true"
    );
    call(at, "PUT", &format!("/v1/session/destroy/{ephemeral}"), b"").await;
    assert_eq!(
        call(at, "GET", "/v1/kv/eph", b"").await.status,
        404,
        "Behavior delete deletes the key"
    );

    let holder = create_session(at, r#"{"LockDelay":"1s"}"#).await;
    let next = create_session(at, r#"{"LockDelay":"1s"}"#).await;
    assert_eq!(
        text_of(at, "PUT", &format!("/v1/kv/delayed?acquire={holder}"), b"").await,
        "true"
    );
    let destroyed_at = Instant::now();
    call(at, "PUT", &format!("/v1/session/destroy/{holder}"), b"").await;
    let during = call(at, "PUT", &format!("/v1/kv/delayed?acquire={next}"), b"").await;
    assert_eq!((during.status, during.text().as_str()), (200, "false"));
    assert!(
        destroyed_at.elapsed() < Duration::from_millis(900),
        "the test was too slow to see the delay"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        text_of(at, "PUT", &format!("/v1/kv/delayed?acquire={next}"), b"").await,
        "true"
    );
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn txn_commits_and_conflicts_in_consuls_shapes() {
    let node = start_dev_node().await;
    let at = node.http;
    let body = format!(
        r#"[{{"KV":{{"Verb":"set","Key":"t/a","Value":"{}","Flags":3}}}},{{"KV":{{"Verb":"set","Key":"t/b","Value":"{}"}}}},{{"KV":{{"Verb":"check-not-exists","Key":"t/c"}}}}]"#,
        b64("A"),
        b64("B")
    );
    let done = call(at, "PUT", "/v1/txn", body.as_bytes()).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let answer = done.json();
    assert!(answer["Errors"].is_null(), "{answer}");
    let a = &answer["Results"][0]["KV"];
    assert_eq!(
        (a["Key"].as_str(), a["Flags"].as_u64()),
        (Some("t/a"), Some(3))
    );
    assert!(a["Value"].is_null(), "a set's result carries no value: {a}");
    let index = a["ModifyIndex"].as_u64().unwrap();
    assert_eq!(
        answer["Results"][1]["KV"]["ModifyIndex"].as_u64(),
        Some(index),
        "one index for all"
    );

    let body = format!(
        r#"[{{"KV":{{"Verb":"cas","Key":"t/a","Value":"{}","Index":{}}}}},{{"KV":{{"Verb":"get","Key":"t/missing"}}}}]"#,
        b64("X"),
        index + 100
    );
    let conflict = call(at, "PUT", "/v1/txn", body.as_bytes()).await;
    assert_eq!(conflict.status, 409, "{}", conflict.text());
    let answer = conflict.json();
    assert!(answer["Results"].is_null());
    let errors = answer["Errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "every failure is listed: {answer}");
    assert_eq!(
        (errors[0]["OpIndex"].as_u64(), errors[1]["OpIndex"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        errors[0]["What"],
        "failed to set key \"t/a\", index is stale"
    );
    assert_eq!(errors[1]["What"], "key \"t/missing\" doesn't exist");
    assert_eq!(
        kv_entry(&call(at, "GET", "/v1/kv/t/a", b"").await)["Value"],
        b64("A")
    );
}

/// The Raft index a write answer names in `X-Concord-Index` (0: none sent).
fn write_index(answer: &Answer) -> u64 {
    answer
        .header("X-Concord-Index")
        .map_or(0, |v| v.parse().expect("X-Concord-Index is a number"))
}

#[tokio::test]
async fn writes_answer_their_raft_index_in_x_concord_index() {
    let node = start_dev_node().await;
    let at = node.http;
    let put = call(at, "PUT", "/v1/kv/ix/a", b"1").await;
    let put_index = write_index(&put);
    let entry = kv_entry(&call(at, "GET", "/v1/kv/ix/a", b"").await);
    assert_eq!(entry["ModifyIndex"].as_u64(), Some(put_index), "{entry}");
    // A cas that fails was still ordered by the log: it names its own, later, index.
    let stale = call(at, "PUT", "/v1/kv/ix/a?cas=1", b"2").await;
    assert_eq!(stale.text(), "false");
    assert!(write_index(&stale) > put_index, "{:?}", stale.headers);
    let deleted = call(at, "DELETE", "/v1/kv/ix/a", b"").await;
    assert!(write_index(&deleted) > write_index(&stale));

    let body = format!(
        r#"[{{"KV":{{"Verb":"set","Key":"ix/t","Value":"{}"}}}}]"#,
        b64("T")
    );
    let txn = call(at, "PUT", "/v1/txn", body.as_bytes()).await;
    let modify_index = txn.json()["Results"][0]["KV"]["ModifyIndex"].as_u64();
    assert_eq!(Some(write_index(&txn)), modify_index);
    assert!(write_index(&txn) > write_index(&deleted));
    let read = br#"[{"KV":{"Verb":"get","Key":"ix/t"}}]"#;
    let read_only = call(at, "PUT", "/v1/txn", read).await;
    assert_eq!(read_only.status, 200);
    assert_eq!(
        read_only.header("X-Concord-Index"),
        None,
        "a read writes nothing"
    );
}

#[tokio::test]
async fn txn_reads_are_served_as_reads_and_limits_hold() {
    let node = start_dev_node().await;
    let at = node.http;
    call(at, "PUT", "/v1/kv/t/a", b"A").await;
    call(at, "PUT", "/v1/kv/t/b", b"B").await;
    for query in ["", "?stale", "?consistent"] {
        let read = call(
            at,
            "PUT",
            &format!("/v1/txn{query}"),
            br#"[{"KV":{"Verb":"get","Key":"t/a"}},{"KV":{"Verb":"get-tree","Key":"t/"}}]"#,
        )
        .await;
        assert_eq!(read.status, 200, "{query}: {}", read.text());
        assert_eq!(read.header("X-Consul-KnownLeader"), Some("true"), "{query}");
        assert!(
            read.header("X-Consul-LastContact").is_some()
                && read.header("X-Consul-Index").is_none()
        );
        let results = read.json()["Results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 3, "get, then get-tree's two keys");
        assert_eq!(results[0]["KV"]["Value"], b64("A"));
    }

    let op = r#"{"KV":{"Verb":"get","Key":"t/a"}}"#;
    let many = format!("[{}]", vec![op; 65].join(","));
    let too_many = call(at, "PUT", "/v1/txn", many.as_bytes()).await;
    assert_eq!(
        (too_many.status, too_many.text().as_str()),
        (413, "Transaction contains too many operations (65 > 64)")
    );
    let huge = call(at, "PUT", "/v1/txn", &vec![b' '; 600_000]).await;
    assert_eq!(
        (huge.status, huge.text().as_str()),
        (
            413,
            "Request body(600000 bytes) too large, max size: 524288 bytes"
        )
    );
    let bad = call(at, "PUT", "/v1/txn", b"[{").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().starts_with("Failed to parse body: "),
        "{}",
        bad.text()
    );
    let node_op = call(
        at,
        "PUT",
        "/v1/txn",
        br#"[{"Node":{"Verb":"get","Node":{"Node":"dev"}}}]"#,
    )
    .await;
    assert_eq!(node_op.status, 400);
    let verb = call(
        at,
        "PUT",
        "/v1/txn",
        br#"[{"KV":{"Verb":"frob","Key":"t/a"}}]"#,
    )
    .await;
    assert_eq!(verb.status, 409);
    assert_eq!(verb.json()["Errors"][0]["What"], "unknown KV verb \"frob\"");
}

#[tokio::test]
async fn snapshot_save_and_restore_round_trip_and_refusals() {
    use super::snapshot_archive::read_archive;
    let node = start_dev_node().await;
    let at = node.http;
    let binary: Vec<u8> = (0..=255).collect();
    call(at, "PUT", "/v1/kv/snap/bin?flags=9", &binary).await;
    call(at, "PUT", "/v1/kv/snap/text", b"kept").await;
    // Incompressible values make an archive over the 1 MiB body limit of other routes.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for key in ["big/0", "big/1", "big/2"] {
        let value: Vec<u8> = (0..500_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        assert_eq!(
            call(at, "PUT", &format!("/v1/kv/{key}"), &value)
                .await
                .status,
            200
        );
    }
    let saved = call(at, "GET", "/v1/snapshot", b"").await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert!(
        saved.body.len() > super::BODY_BYTES_MAX,
        "{}",
        saved.body.len()
    );
    assert_eq!(saved.header("Content-Type"), Some("application/x-gzip"));
    let archive = read_archive(&saved.body).expect("a saved archive reads back");
    assert_eq!(archive.meta.index, saved.index());
    assert!(archive.meta.concord_format.is_some());
    assert_eq!(call(at, "GET", "/v1/snapshot?stale", b"").await.status, 200);

    call(at, "PUT", "/v1/kv/snap/text", b"changed").await;
    call(at, "PUT", "/v1/kv/snap/new", b"gone after restore").await;
    let before = call(at, "GET", "/v1/kv/snap/text", b"").await.index();

    let mut tampered = saved.body.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    let refused = call(at, "PUT", "/v1/snapshot", &tampered).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(
        call(at, "PUT", "/v1/snapshot", b"not an archive")
            .await
            .status,
        400
    );

    let restored = call(at, "PUT", "/v1/snapshot", &saved.body).await;
    assert_eq!(
        (restored.status, restored.body.len()),
        (200, 0),
        "{}",
        restored.text()
    );
    let text = call(at, "GET", "/v1/kv/snap/text", b"").await;
    assert_eq!(kv_entry(&text)["Value"], b64("kept"));
    assert!(text.index() >= before, "a watch index never goes back");
    let bin = kv_entry(&call(at, "GET", "/v1/kv/snap/bin", b"").await);
    assert_eq!(bin["Flags"], 9);
    assert_eq!(
        call(at, "GET", "/v1/kv/snap/bin?raw", b"").await.body,
        binary
    );
    assert_eq!(call(at, "GET", "/v1/kv/snap/new", b"").await.status, 404);
    let big = call(at, "GET", "/v1/kv/big/2?raw", b"").await;
    assert_eq!(big.body.len(), 500_000);
}

#[tokio::test]
async fn monitor_streams_published_lines_and_ends_when_the_node_stops() {
    use crate::log_stream::{LogLevel, LogLine, LogStream};
    let node = start_dev_node().await;
    let at = node.http;
    let refused = call(at, "GET", "/v1/agent/monitor?loglevel=loud", b"").await;
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (400, "Unknown log level: loud")
    );
    let stream = LogStream::global();
    let watching = tokio::spawn(call(at, "GET", "/v1/agent/monitor?loglevel=warn", b""));
    while stream.wanted().is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let line = |level, text: &str| LogLine {
        level,
        text: format!("{text}\n"),
        json: String::new(),
    };
    stream.publish(line(LogLevel::Debug, "too verbose for this monitor"));
    stream.publish(line(LogLevel::Warn, "a warning"));
    let left = call(at, "PUT", "/v1/agent/leave", b"").await;
    assert_eq!(left.status, 200, "{}", left.text());
    let answer = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the stream ends when the node stops")
        .unwrap();
    assert_eq!(
        (answer.status, answer.text().as_str()),
        (200, "a warning\n")
    );
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn agent_self_has_consuls_stats_sections() {
    let node = start_dev_node().await;
    let me = call(node.http, "GET", "/v1/agent/self", b"").await.json();
    let stats = &me["Stats"];
    for section in ["agent", "build", "consul", "raft", "serf_lan", "runtime"] {
        assert!(stats[section].is_object(), "{section} in {stats}");
    }
    assert_eq!(stats["raft"]["state"], "Leader");
    assert_eq!(stats["consul"]["leader_addr"], node.rpc_addr.as_str());
    assert_eq!(stats["serf_lan"]["members"], "1");
    assert_eq!(stats["agent"]["services"], "0");
}
