//! The agent's own services as a user meets them on real processes: an HTTP check against a
//! small local server (passing, then critical once it stops), a TTL check passed and failed
//! over HTTP, a service defined in `-config-dir` registered at start, and local services
//! that survive a restart with `-data-dir`. Each seen through `/v1/health/service?passing`,
//! i.e. after anti-entropy copied the agent's state into the catalog.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// Each test its own loopback address (no other test file uses 127.0.62.x).
const IP_HTTP: &str = "127.0.62.1";
const IP_TTL: &str = "127.0.62.2";
const IP_CONFIG: &str = "127.0.62.3";
const IP_RESTART: &str = "127.0.62.4";
/// How long an agent may take to elect itself and answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The DNS port of the `-dev` agents here (the default: each agent has its own address).
const DNS_PORT: u16 = 8600;
/// A check's change reaches the catalog within this (1 s interval checks, sync at once).
const SYNC_TIMEOUT: Duration = Duration::from_secs(15);

fn wait_serving(agent: &Agent) {
    eventually(START_TIMEOUT, "the agent serves the catalog", || {
        let answer = http(&agent.http_addr(), "GET", "/v1/catalog/services", b"")?;
        (answer.status == 200)
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
}

fn dev_agent(test: &str, ip: &str, extra: &[&str]) -> Agent {
    let dir = scratch(test);
    let mut args = vec!["-dev", "-bind", ip, "-client", ip];
    args.extend_from_slice(extra);
    let agent = Agent::start(&dir, "dev", ip, &args);
    wait_serving(&agent);
    agent
}

fn call(agent: &Agent, method: &str, path: &str, body: &str) -> HttpAnswer {
    http(&agent.http_addr(), method, path, body.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn put_ok(agent: &Agent, path: &str, body: &str) {
    let answer = call(agent, "PUT", path, body);
    assert_eq!(answer.status, 200, "PUT {path}: {}", answer.body);
}

/// Whether `health/service/NAME?passing` lists an instance.
fn passing(agent: &Agent, name: &str) -> Result<bool, String> {
    let path = format!("/v1/health/service/{name}?passing");
    let answer = http(&agent.http_addr(), "GET", &path, b"")?;
    if answer.status != 200 {
        return Err(format!("{} {}", answer.status, answer.body));
    }
    Ok(answer.body.contains(&format!("\"Service\":\"{name}\"")))
}

fn until_passing(agent: &Agent, name: &str, wanted: bool) {
    let what = format!("{name} passing is {wanted}");
    eventually(SYNC_TIMEOUT, &what, || match passing(agent, name)? {
        now if now == wanted => Ok(()),
        now => Err(format!("passing is {now}")),
    });
}

/// Waits until `dig web.service.consul SRV` on the agent's DNS port does (or does not) answer
/// with a record holding `port_text`: a critical instance leaves DNS as it leaves `?passing`.
fn until_srv(agent: &Agent, port_text: &str, wanted: bool) {
    let what = format!("dig SRV shows {port_text}: {wanted}");
    eventually(SYNC_TIMEOUT, &what, || {
        let answer = dig_short(&agent.ip, DNS_PORT, "web.service.consul", "SRV")?;
        match answer.contains(port_text) == wanted {
            true => Ok(()),
            false => Err(format!("dig answered {answer:?}")),
        }
    });
}

/// A server answering every request 200 "ok" until `stop` is set; then its port is closed.
fn health_server(ip: &str) -> (u16, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, stop, thread)
}

#[test]
fn an_http_check_passes_while_its_server_answers_and_fails_once_it_stops() {
    let agent = dev_agent("services-http", IP_HTTP, &[]);
    let (port, stop, server) = health_server(IP_HTTP);
    let body = format!(
        r#"{{"Name":"web","Port":{port},"Check":{{"HTTP":"http://{IP_HTTP}:{port}/health",
            "Interval":"1s","Timeout":"1s"}},"Checks":null}}"#
    );
    put_ok(&agent, "/v1/agent/service/register", &body);
    until_passing(&agent, "web", true);
    until_srv(&agent, &format!("{port} "), true);
    let checks = call(&agent, "GET", "/v1/agent/checks", "").body;
    assert!(
        checks.contains(&format!(
            "HTTP GET http://{IP_HTTP}:{port}/health: 200 OK Output: ok"
        )),
        "{checks}"
    );
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    until_passing(&agent, "web", false);
    until_srv(&agent, &format!("{port} "), false);
    let health = call(
        &agent,
        "GET",
        "/v1/agent/health/service/id/web?format=text",
        "",
    );
    assert_eq!((health.status, health.body.as_str()), (503, "critical"));
}

#[test]
fn a_ttl_check_is_passed_and_failed_over_http() {
    let agent = dev_agent("services-ttl", IP_TTL, &[]);
    let body = r#"{"name":"api","port":9000,"check":{"ttl":"30s"}}"#;
    put_ok(&agent, "/v1/agent/service/register", body);
    let services = call(&agent, "GET", "/v1/agent/services", "").body;
    assert!(
        services.contains(r#""api":{"ID":"api","Service":"api""#),
        "{services}"
    );
    assert!(
        !passing(&agent, "api").unwrap_or(false),
        "critical until passed"
    );
    put_ok(&agent, "/v1/agent/check/pass/service:api?note=fine", "");
    until_passing(&agent, "api", true);
    put_ok(&agent, "/v1/agent/check/fail/service:api", "");
    until_passing(&agent, "api", false);
    let bad = call(
        &agent,
        "PUT",
        "/v1/agent/check/update/service:api",
        r#"{"Status":"ok"}"#,
    );
    assert_eq!(
        (bad.status, bad.body.trim()),
        (400, "Invalid check status: 'ok'")
    );
    // Hash-based blocking (the Go api's agent.Service with WaitHash): no change, so the
    // read waits out its 1 s and answers the same hash; a change answers a new one at once.
    let one = call(&agent, "GET", "/v1/agent/service/api", "");
    let hash = one
        .body
        .split("\"ContentHash\":\"")
        .nth(1)
        .unwrap_or_default();
    let hash = hash.split('"').next().unwrap_or_default().to_string();
    assert_eq!(hash.len(), 16, "{}", one.body);
    let header = format!("x-consul-contenthash: {hash}");
    assert!(one.head.to_lowercase().contains(&header), "{}", one.head);
    let started = std::time::Instant::now();
    let path = format!("/v1/agent/service/api?hash={hash}&wait=1s");
    let same = call(&agent, "GET", &path, "");
    assert!(started.elapsed() >= Duration::from_secs(1) && same.body.contains(&hash));
    put_ok(
        &agent,
        "/v1/agent/service/register",
        r#"{"name":"api","port":9001,"check":{"ttl":"30s"}}"#,
    );
    let changed = call(
        &agent,
        "GET",
        &format!("/v1/agent/service/api?hash={hash}&wait=5s"),
        "",
    );
    assert!(
        changed.body.contains("9001") && !changed.body.contains(&hash),
        "{}",
        changed.body
    );
    let gone = call(&agent, "PUT", "/v1/agent/service/deregister/nope", "");
    assert_eq!(gone.status, 404, "{}", gone.body);
}

#[test]
fn a_service_in_the_config_dir_is_registered_at_start() {
    let dir = scratch("services-config");
    let config_dir = dir.join("conf");
    std::fs::create_dir_all(&config_dir).unwrap();
    let hcl = r#"service {
  name = "billing"
  port = 7000
  tags = ["v2"]
  check {
    id  = "billing-ttl"
    ttl = "60s"
    status = "passing"
  }
}
"#;
    std::fs::write(config_dir.join("billing.hcl"), hcl).unwrap();
    let conf = config_dir.to_str().unwrap();
    let agent = dev_agent("services-config-agent", IP_CONFIG, &["-config-dir", conf]);
    until_passing(&agent, "billing", true);
    let checks = call(&agent, "GET", "/v1/agent/checks", "").body;
    assert!(checks.contains(r#""CheckID":"billing-ttl""#), "{checks}");
}

#[test]
fn local_services_survive_a_restart_with_a_data_dir() {
    let dir = scratch("services-restart");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let mut args = agent_args("s1", IP_RESTART, data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let mut agent = Agent::start(&dir, "s1", IP_RESTART, &args);
    wait_serving(&agent);
    let body = r#"{"Name":"db","Port":5432,"Check":{"TTL":"10m","Status":"passing"}}"#;
    put_ok(&agent, "/v1/agent/service/register", body);
    put_ok(
        &agent,
        "/v1/agent/service/maintenance/db?enable=true&reason=backup",
        "",
    );
    agent.kill();
    agent.restart();
    wait_serving(&agent);
    let services = call(&agent, "GET", "/v1/agent/services", "").body;
    assert!(services.contains(r#""db":{"ID":"db""#), "{services}");
    let checks = call(&agent, "GET", "/v1/agent/checks", "").body;
    assert!(
        checks.contains(r#""Name":"Service Maintenance Mode""#),
        "{checks}"
    );
    assert!(checks.contains(r#""Notes":"backup""#), "{checks}");
}

const IP_CLI: &str = "127.0.62.5";

#[test]
fn the_cli_registers_services_and_toggles_maintenance_as_consuls_does() {
    let agent = dev_agent("services-cli", IP_CLI, &[]);
    let out = agent.cli(&["services", "register", "-name=web", "-port=80", "-tag=v1"]);
    assert_eq!(
        stdout(&out).trim(),
        "Registered service: web",
        "{}",
        stderr(&out)
    );
    let out = agent.cli(&["maint", "-enable", "-reason=deploy"]);
    assert_eq!(stdout(&out).trim(), "Node maintenance is now enabled");
    let checks = call(&agent, "GET", "/v1/agent/checks", "").body;
    assert!(
        checks.contains(r#""Name":"Node Maintenance Mode""#),
        "{checks}"
    );
    let out = agent.cli(&["maint", "-disable"]);
    assert_eq!(stdout(&out).trim(), "Node maintenance is now disabled");
    let out = agent.cli(&["services", "deregister", "web"]);
    assert_eq!(stdout(&out).trim(), "Deregistered service: web");
    let out = agent.cli(&["services", "deregister", "web"]);
    assert!(!out.status.success(), "a second deregistration is an error");
    assert_eq!(
        call(&agent, "GET", "/v1/agent/services", "").body.trim(),
        "{}"
    );
}

const IP_SCRIPT: &str = "127.0.62.6";
const IP_NO_SCRIPT: &str = "127.0.62.7";

#[test]
fn script_checks_run_only_where_enabled() {
    let body =
        r#"{"Name":"job","Check":{"Args":["/bin/sh","-c","echo slow; exit 1"],"Interval":"1s"}}"#;
    let refusing = dev_agent("services-no-script", IP_NO_SCRIPT, &[]);
    let answer = call(&refusing, "PUT", "/v1/agent/service/register", body);
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body.trim(),
        "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
    );
    let agent = dev_agent("services-script", IP_SCRIPT, &["-enable-script-checks"]);
    put_ok(&agent, "/v1/agent/service/register", body);
    eventually(SYNC_TIMEOUT, "the script's exit 1 is a warning", || {
        let health = call(
            &agent,
            "GET",
            "/v1/agent/health/service/name/job?format=text",
            "",
        );
        match (health.status, health.body.as_str()) {
            (429, "warning") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let checks = call(&agent, "GET", "/v1/agent/checks", "").body;
    assert!(checks.contains(r#""Output":"slow\n""#), "{checks}");
}

const IP_LOCAL_SCRIPT: &str = "127.0.62.8";

#[test]
fn local_script_checks_run_from_config_files_but_not_from_the_api() {
    let dir = scratch("services-local-script");
    let config_dir = dir.join("conf");
    std::fs::create_dir_all(&config_dir).unwrap();
    let json =
        r#"{"service": {"name": "cron", "check": {"args": ["/bin/true"], "interval": "1s"}}}"#;
    std::fs::write(config_dir.join("cron.json"), json).unwrap();
    let conf = config_dir.to_str().unwrap();
    let flags = ["-config-dir", conf, "-enable-local-script-checks"];
    let agent = dev_agent("services-local-script-agent", IP_LOCAL_SCRIPT, &flags);
    until_passing(&agent, "cron", true);
    let body = r#"{"Name":"job","Check":{"Args":["/bin/true"],"Interval":"1s"}}"#;
    let answer = call(&agent, "PUT", "/v1/agent/service/register", body);
    assert_eq!(
        answer.status, 400,
        "the API may not add scripts: {}",
        answer.body
    );
}
