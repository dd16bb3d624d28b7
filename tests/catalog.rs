//! The catalog and health API as a user meets it on a `-dev` agent: register a service with a
//! check, find it through catalog and health (`?passing`), watch it with a blocking query that
//! wakes on the check's change and not on an unrelated KV write, deregister it, and list it
//! with `concord catalog services`. The leader's own entries are there too: the node's
//! `serfHealth` check and the server's `consul` service.

mod support;

use std::time::{Duration, Instant};
use support::*;

/// Each test its own loopback address (no other test file uses 127.0.61.x).
const IP_WEB: &str = "127.0.61.1";
const IP_WATCH: &str = "127.0.61.2";
const IP_SERF: &str = "127.0.61.3";
/// How long a `-dev` agent may take to elect itself and answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `-dev` agent named `node`, once its leader has registered it (service `consul`).
fn dev_agent(test: &str, ip: &str) -> Agent {
    dev_agent_named(test, ip, "dev")
}

fn dev_agent_named(test: &str, ip: &str, node: &str) -> Agent {
    let dir = scratch(test);
    let args = ["-dev", "-bind", ip, "-client", ip, "-node", node];
    let agent = Agent::start(&dir, "dev", ip, &args);
    eventually(START_TIMEOUT, "the dev agent lists itself", || {
        let answer = http(&agent.http_addr(), "GET", "/v1/catalog/services", b"")?;
        (answer.status == 200 && answer.body.contains(r#""consul":[]"#))
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
    agent
}

fn call(agent: &Agent, method: &str, path: &str, body: &str) -> HttpAnswer {
    http(&agent.http_addr(), method, path, body.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A registration as the Go api sends it: every field, `null` for the absent ones.
fn registration(check_status: &str) -> String {
    format!(
        r#"{{"ID":"","Node":"n1","Address":"10.1.2.3","Datacenter":"","TaggedAddresses":null,
            "NodeMeta":null,"Service":{{"ID":"web1","Service":"web","Tags":["v1"],"Port":8080,
            "Address":"","Meta":null,"Weights":{{"Passing":0,"Warning":0}},
            "EnableTagOverride":false}},
            "Check":{{"Node":"n1","CheckID":"web1-alive","Name":"alive","Status":"{check_status}",
            "ServiceID":"web1","Definition":{{"HTTP":"http://10.1.2.3:8080/","Interval":"10s"}}}},
            "Checks":null,"SkipNodeUpdate":false}}"#
    )
}

fn register(agent: &Agent, check_status: &str) {
    let answer = call(
        agent,
        "PUT",
        "/v1/catalog/register",
        &registration(check_status),
    );
    assert_eq!(
        (answer.status, answer.body.trim()),
        (200, "true"),
        "register"
    );
}

fn header(answer: &HttpAnswer, name: &str) -> Option<String> {
    answer.head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

fn index(answer: &HttpAnswer) -> u64 {
    let text = header(answer, "X-Consul-Index").expect("X-Consul-Index");
    text.parse().expect("a number")
}

#[test]
fn a_registered_service_is_found_through_catalog_and_health_until_deregistered() {
    let agent = dev_agent("catalog-web", IP_WEB);
    register(&agent, "passing");
    let services = call(&agent, "GET", "/v1/catalog/services", "");
    assert_eq!(services.body, r#"{"consul":[],"web":["v1"]}"#);
    assert!(index(&services) > 1);
    assert_eq!(
        header(&services, "X-Consul-KnownLeader").as_deref(),
        Some("true")
    );
    let instances = call(&agent, "GET", "/v1/catalog/service/web?tag=v1", "");
    assert!(
        instances.body.contains(r#""ServiceID":"web1""#),
        "{}",
        instances.body
    );
    assert!(
        instances.body.contains(r#""Address":"10.1.2.3""#),
        "{}",
        instances.body
    );
    let healthy = call(&agent, "GET", "/v1/health/service/web?passing=1", "");
    assert!(
        healthy.body.contains(r#""CheckID":"web1-alive""#),
        "{}",
        healthy.body
    );
    register(&agent, "critical");
    let healthy = call(&agent, "GET", "/v1/health/service/web?passing", "");
    assert_eq!(healthy.body, "[]", "a critical instance is not passing");
    let all = call(&agent, "GET", "/v1/health/service/web", "");
    assert_eq!(
        index(&all),
        index(&healthy),
        "?passing filters after the read"
    );
    check_views(&agent);
    let listed = agent.cli(&["catalog", "services", "-tags"]);
    let text = stdout(&listed);
    let lines: Vec<Vec<&str>> = (text.lines())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [vec!["consul"], vec!["web", "v1"]],
        "{}",
        stderr(&listed)
    );
    let gone = call(&agent, "PUT", "/v1/catalog/deregister", r#"{"Node":"n1"}"#);
    assert_eq!(gone.body.trim(), "true");
    let services = call(&agent, "GET", "/v1/catalog/services", "");
    assert_eq!(services.body, r#"{"consul":[]}"#, "the server's own stays");
    let node = call(&agent, "GET", "/v1/catalog/node/n1", "");
    assert_eq!((node.status, node.body.as_str()), (200, "null"));
}

/// The other views of the critical check, and Prometheus's own query string (parameters
/// Concord does not use are ignored, not refused).
fn check_views(agent: &Agent) {
    for path in [
        "/v1/health/checks/web",
        "/v1/health/node/n1",
        "/v1/health/state/critical",
    ] {
        let answer = call(agent, "GET", path, "");
        assert!(
            answer.body.contains(r#""CheckID":"web1-alive""#),
            "{path}: {}",
            answer.body
        );
        assert!(index(&answer) > 1, "{path}");
    }
    let passing = call(agent, "GET", "/v1/health/state/passing", "");
    assert!(
        !passing.body.contains("web1-alive") && passing.body.contains("serfHealth"),
        "only the agent's serfHealth passes: {}",
        passing.body
    );
    let prometheus = "/v1/health/service/web?dc=dc1&filter=&node-meta=rack%3A1&stale=&tag=v1";
    let answer = call(agent, "GET", prometheus, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains(r#""Port":8080"#), "{}", answer.body);
    let elsewhere = call(agent, "GET", "/v1/health/service/web?dc=eu", "");
    assert_eq!(elsewhere.status, 500);
    assert!(
        elsewhere.body.starts_with("No path to datacenter"),
        "{}",
        elsewhere.body
    );
}

/// Starts a blocking `health/service/web` read at `index` in a thread; its answer and how
/// long it took.
fn blocking_read(
    agent: &Agent,
    index: u64,
    wait: &str,
) -> std::thread::JoinHandle<(HttpAnswer, Duration)> {
    let addr = agent.http_addr();
    let path = format!("/v1/health/service/web?index={index}&wait={wait}");
    std::thread::spawn(move || {
        let started = Instant::now();
        let answer = http(&addr, "GET", &path, b"").expect("blocking read");
        (answer, started.elapsed())
    })
}

#[test]
fn a_blocking_health_read_wakes_on_its_check_and_not_on_a_kv_write() {
    let agent = dev_agent("catalog-watch", IP_WATCH);
    register(&agent, "passing");
    let seen = index(&call(&agent, "GET", "/v1/health/service/web", ""));
    let unrelated = blocking_read(&agent, seen, "2s");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        call(&agent, "PUT", "/v1/kv/elsewhere", "x").body.trim(),
        "true"
    );
    let (answer, took) = unrelated.join().unwrap();
    assert!(
        took >= Duration::from_millis(1900),
        "a KV write woke it after {took:?}"
    );
    assert_eq!(index(&answer), seen, "unchanged at the timeout");
    let woken = blocking_read(&agent, seen, "30s");
    std::thread::sleep(Duration::from_millis(300));
    register(&agent, "critical");
    let (answer, took) = woken.join().unwrap();
    assert!(
        took < Duration::from_secs(10),
        "not woken by the check: {took:?}"
    );
    assert!(index(&answer) > seen);
    assert!(
        answer.body.contains(r#""Status":"critical""#),
        "{}",
        answer.body
    );
}

/// The leader registers its own node: `serfHealth` passing on the node, and the server in
/// the `consul` service on the server RPC port (8300 by default, as `-dev` uses).
#[test]
fn a_dev_agent_has_serf_health_passing_and_the_consul_service() {
    let agent = dev_agent_named("catalog-serf", IP_SERF, "serf1");
    let checks = call(&agent, "GET", "/v1/health/node/serf1", "");
    for field in [
        r#""CheckID":"serfHealth""#,
        r#""Name":"Serf Health Status""#,
        r#""Status":"passing""#,
        r#""Output":"Agent alive and reachable""#,
        r#""ServiceID":"""#,
    ] {
        assert!(checks.body.contains(field), "{field}: {}", checks.body);
    }
    let consul = call(&agent, "GET", "/v1/catalog/service/consul", "");
    for field in [
        r#""Node":"serf1""#,
        r#""ServiceID":"consul""#,
        r#""ServicePort":8300"#,
    ] {
        assert!(consul.body.contains(field), "{field}: {}", consul.body);
    }
    let listed = agent.cli(&["catalog", "services"]);
    assert_eq!(stdout(&listed).trim(), "consul", "{}", stderr(&listed));
}
