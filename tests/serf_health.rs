//! The leader keeps membership in the catalog between real processes: a client agent's node
//! gets `serfHealth` passing; killed, it turns critical and its service leaves the passing
//! instances while its node stays; after `concord leave` its node is gone from the catalog.

mod support;

use std::time::Duration;
use support::*;

/// Each test its own loopback addresses (no other test file uses 127.0.81.x).
const FIRST_IP_FAIL: u8 = 1;
const FIRST_IP_LEAVE: u8 = 3;
/// Joining, electing and the first reconcile round.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);
/// Membership counts a killed member failed after a probe (1 s) and its suspicion (4 s with
/// two members); the leader writes it at once.
const FAIL_TIMEOUT: Duration = Duration::from_secs(20);

fn get(agent: &Agent, path: &str) -> Result<String, String> {
    let answer = http(&agent.http_addr(), "GET", path, b"")?;
    match answer.status {
        200 => Ok(answer.body),
        status => Err(format!("{status} {}", answer.body)),
    }
}

/// A server and a client agent with service `web` (no checks), both in the catalog.
fn server_and_client(test: &str, first: u8) -> (Agent, Agent) {
    let dir = scratch(test);
    let server_ip = format!("127.0.81.{first}");
    let client_ip = format!("127.0.81.{}", first + 1);
    let data = dir.join("s1").display().to_string();
    let mut args = agent_args("s1", &server_ip, &data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let server = Agent::start(&dir, "s1", &server_ip, &args);
    let data = dir.join("c1").display().to_string();
    let mut args = agent_args("c1", &client_ip, &data);
    args.extend(["-retry-join", &server_ip, "-retry-interval", "1s"]);
    let client = Agent::start(&dir, "c1", &client_ip, &args);
    eventually(FORM_TIMEOUT, "the client registers web", || {
        let body = r#"{"Name":"web","Port":80}"#;
        let answer = http(
            &client.http_addr(),
            "PUT",
            "/v1/agent/service/register",
            body.as_bytes(),
        )?;
        (answer.status == 200)
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
    eventually(FORM_TIMEOUT, "c1 is in the catalog, passing", || {
        let body = get(&server, "/v1/health/service/web?passing")?;
        body.contains(r#""CheckID":"serfHealth""#)
            .then_some(())
            .ok_or(body)
    });
    (server, client)
}

#[test]
fn a_killed_client_turns_critical_and_drops_out_of_passing() {
    let (server, mut client) = server_and_client("serf-fail", FIRST_IP_FAIL);
    let checks = get(&server, "/v1/health/node/c1").unwrap();
    assert!(
        checks.contains(r#""Output":"Agent alive and reachable""#),
        "{checks}"
    );
    client.kill();
    eventually(FAIL_TIMEOUT, "c1's serfHealth turns critical", || {
        let body = get(&server, "/v1/health/node/c1")?;
        body.contains(r#""Output":"Agent not live or unreachable""#)
            .then_some(())
            .ok_or(body)
    });
    let passing = get(&server, "/v1/health/service/web?passing").unwrap();
    assert_eq!(passing, "[]", "no passing instance on a failed node");
    let all = get(&server, "/v1/catalog/service/web").unwrap();
    assert!(all.contains(r#""Node":"c1""#), "a failed node stays: {all}");
}

#[test]
fn a_client_that_leaves_is_deregistered() {
    let (server, client) = server_and_client("serf-leave", FIRST_IP_LEAVE);
    let out = client.cli(&["leave"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(FAIL_TIMEOUT, "c1's node leaves the catalog", || {
        let body = get(&server, "/v1/catalog/node/c1")?;
        (body == "null").then_some(()).ok_or(body)
    });
    let web = get(&server, "/v1/catalog/service/web").unwrap();
    assert_eq!(web, "[]", "its service went with it");
}
