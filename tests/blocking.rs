//! Blocking queries through a client agent are held by a server: the client forwards the
//! blocking read once and the server answers it when the key changes or the wait ends, instead
//! of the client polling the servers (one request, not one per 500 ms).

mod support;

use std::time::{Duration, Instant};
use support::*;

/// A minimal HTTP/1.1 exchange: (status, head, body); status 0 when it could not connect.
fn exchange(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
    match http(addr, method, path, body) {
        Ok(answer) => (answer.status, answer.head, answer.body),
        Err(e) => (0, e, String::new()),
    }
}

fn consul_index(head: &str) -> u64 {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-consul-index")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no X-Consul-Index in {head}"))
}

fn put(agent: &Agent, key: &str, value: &str) {
    let (status, _, body) = exchange(
        &agent.http_addr(),
        "PUT",
        &format!("/v1/kv/{key}"),
        value.as_bytes(),
    );
    assert_eq!((status, body.trim()), (200, "true"), "PUT {key}");
}

/// Requests the client forwarded to the server so far (the server logs each at debug).
fn forwarded_from(server: &Agent, client: &Agent) -> usize {
    let from = format!("forwarded by {}:", client.ip);
    server
        .log_text()
        .lines()
        .filter(|l| l.contains(&from))
        .count()
}

/// A server and a client agent on `127.0.51.{first}` and the next address.
fn server_and_client(test: &str, first: u8) -> (Agent, Agent) {
    let dir = scratch(test);
    let server_ip = format!("127.0.51.{first}");
    let client_ip = format!("127.0.51.{}", first + 1);
    let data = dir.join("s1").display().to_string();
    let mut args = agent_args("s1", &server_ip, &data);
    args.extend(["-server", "-bootstrap-expect", "1", "-log-level", "debug"]);
    let server = Agent::start(&dir, "s1", &server_ip, &args);
    let data = dir.join("c1").display().to_string();
    let mut args = agent_args("c1", &client_ip, &data);
    args.extend(["-retry-join", &server_ip, "-retry-interval", "1s"]);
    let client = Agent::start(&dir, "c1", &client_ip, &args);
    eventually(
        Duration::from_secs(30),
        "the client reads through the server",
        || {
            let (status, head, body) = exchange(&client.http_addr(), "GET", "/v1/kv/absent", b"");
            (status == 404)
                .then_some(())
                .ok_or(format!("{status} {head} {body}"))
        },
    );
    (server, client)
}

#[test]
fn a_blocking_read_through_a_client_is_one_request_held_by_the_server() {
    let (server, client) = server_and_client("blocking-held", 1);
    put(&server, "watched/key", "v1");
    let (status, head, _) = exchange(&client.http_addr(), "GET", "/v1/kv/watched/key", b"");
    assert_eq!(status, 200);
    let index = consul_index(&head);

    // Nothing changes: the wait ends on the server, after 3 s, with the same index.
    let before = forwarded_from(&server, &client);
    let started = Instant::now();
    let path = format!("/v1/kv/watched/key?index={index}&wait=3s");
    let (status, head, _) = exchange(&client.http_addr(), "GET", &path, b"");
    let took = started.elapsed();
    assert_eq!((status, consul_index(&head)), (200, index));
    assert!(took >= Duration::from_secs(3), "answered after {took:?}");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    let forwarded = forwarded_from(&server, &client) - before;
    assert_eq!(
        forwarded, 1,
        "requests the server got for one blocking read of {took:?}"
    );
}

#[test]
fn a_blocking_read_through_a_client_wakes_on_its_key_not_on_others() {
    let (server, client) = server_and_client("blocking-wakes", 3);
    put(&server, "watched/key", "v1");
    let (_, head, _) = exchange(&client.http_addr(), "GET", "/v1/kv/watched/key", b"");
    let index = consul_index(&head);
    let addr = client.http_addr();
    let path = format!("/v1/kv/watched/key?index={index}&wait=60s");
    let started = Instant::now();
    let reader = std::thread::spawn(move || exchange(&addr, "GET", &path, b""));
    std::thread::sleep(Duration::from_secs(1));
    put(&server, "elsewhere/key", "x");
    put(&server, "watched/other", "x");
    std::thread::sleep(Duration::from_secs(1));
    assert!(!reader.is_finished(), "a write elsewhere woke the read");
    put(&server, "watched/key", "v2");
    let (status, head, body) = reader.join().expect("the reader returns");
    assert_eq!(status, 200);
    assert!(consul_index(&head) > index);
    assert!(
        body.contains("\"djI=\""),
        "the new value (base64 of v2): {body}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "woken late");
}
