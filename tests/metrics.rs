//! `/v1/agent/metrics` of a real agent: KV writes, a failing request and a blocking query move
//! the figures they should, in the Prometheus text format and in Consul's JSON shape.

mod support;

use std::time::Duration;
use support::*;

/// No other test file uses 127.0.119.x; each test has its own address (they run at once).
const IPS: [&str; 3] = ["127.0.119.1", "127.0.119.2", "127.0.119.3"];
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

fn scrape(agent: &Agent) -> String {
    let path = "/v1/agent/metrics?format=prometheus";
    let answer = http(&agent.http_addr(), "GET", path, b"").expect("the agent answers");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let head = answer.head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    answer.body
}

/// The value of one series, written exactly as exposed (`name{labels}`).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

fn send(agent: &Agent, method: &str, path: &str, body: &[u8]) -> u16 {
    http(&agent.http_addr(), method, path, body)
        .expect("the agent answers")
        .status
}

fn start_server(name: &str, ip: &str) -> Agent {
    let dir = scratch(name);
    let data = dir.join("s1").display().to_string();
    let mut args = agent_args("s1", ip, &data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let server = Agent::start(&dir, "s1", ip, &args);
    eventually(FORM_TIMEOUT, "the server writes", || {
        kv_put(&server, "warm", "up")
    });
    server
}

#[test]
fn writes_and_a_failing_request_move_their_counters() {
    let server = start_server("metrics", IPS[0]);
    let before = scrape(&server);
    for i in 0..3 {
        assert_eq!(send(&server, "PUT", &format!("/v1/kv/m/{i}"), b"v"), 200);
    }
    assert_eq!(send(&server, "DELETE", "/v1/kv/m/0", b""), 200);
    assert_eq!(send(&server, "GET", "/v1/kv/missing", b""), 404);
    let after = scrape(&server);
    let moved = |series: &str| value(&after, series) - value(&before, series);

    assert_eq!(moved("consul_kvs_apply_count{op=\"set\"}"), 3.0);
    assert_eq!(value(&after, "consul_kvs_apply_count{op=\"delete\"}"), 1.0);
    let puts = "consul_api_http_count{method=\"PUT\",path=\"/v1/kv/{*key}\",code=\"200\"}";
    assert!(moved(puts) >= 3.0, "{puts} moved {}", moved(puts));
    let misses = "consul_api_http_count{method=\"GET\",path=\"/v1/kv/{*key}\",code=\"404\"}";
    assert_eq!(value(&after, misses), 1.0);
    // Four writes committed and made durable by the leader.
    assert!(moved("consul_raft_apply") >= 4.0);
    assert!(moved("consul_raft_commit_index") >= 4.0);
    assert!(moved("consul_raft_storage_fsync_count") >= 4.0);
    assert!(moved("consul_raft_commitTime_count") >= 4.0);
    assert_eq!(value(&after, "consul_server_isLeader"), 1.0);
    assert_eq!(value(&after, "consul_raft_state_leader"), 1.0);
    assert_eq!(value(&after, "consul_serf_members{status=\"alive\"}"), 1.0);
    assert!(value(&after, "process_resident_memory_bytes") > 1e6);
    assert!(value(&after, "process_open_fds") > 0.0);
}

#[test]
fn a_blocking_query_is_in_flight_until_it_returns() {
    let server = start_server("metrics-blocking", IPS[1]);
    let addr = server.http_addr();
    let waiting = std::thread::spawn(move || {
        let path = "/v1/kv/blocked?index=1000000&wait=3s";
        http(&addr, "GET", path, b"").map(|a| a.status)
    });
    let gauge = "consul_api_blocking_queries";
    eventually(
        Duration::from_secs(3),
        "the query is counted in flight",
        || match value(&scrape(&server), gauge) {
            1.0 => Ok(()),
            other => Err(format!("{gauge} is {other}")),
        },
    );
    assert_eq!(waiting.join().unwrap(), Ok(404));
    assert_eq!(value(&scrape(&server), gauge), 0.0);
}

#[test]
fn the_json_shape_is_consuls() {
    let server = start_server("metrics-json", IPS[2]);
    assert_eq!(send(&server, "PUT", "/v1/kv/j", b"v"), 200);
    let answer = http(&server.http_addr(), "GET", "/v1/agent/metrics", b"").unwrap();
    assert_eq!(answer.status, 200);
    let body = answer.body;
    for field in [
        "\"Timestamp\":",
        "\"Gauges\":[",
        "\"Points\":[]",
        "\"Counters\":[",
        "\"Samples\":[",
    ] {
        assert!(body.contains(field), "no {field} in {body}");
    }
    assert!(
        body.contains("{\"Name\":\"consul.raft.apply\",\"Count\":"),
        "{body}"
    );
    assert!(body.contains("\"Labels\":{\"op\":\"set\"}"), "{body}");
}
