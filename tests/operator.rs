//! The operator commands on real processes: `concord reload` and SIGHUP (services and
//! checks of the config files, the log level, a broken file refused while the agent keeps
//! serving), `concord monitor` (debug lines of an agent logging at info; the stream ends
//! when the agent stops), `concord info` (Consul's sections on a one-server agent) and
//! `concord members -detailed` (the tags).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::*;

/// Each test its own loopback address (no other test file uses 127.0.85.x).
const IP_RELOAD: &str = "127.0.85.1";
const IP_MONITOR: &str = "127.0.85.2";
const IP_INFO: &str = "127.0.85.3";
/// How long an agent may take to elect itself and answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// A reloaded service reaches `/v1/agent/services` at once; a log line reaches the file or
/// the monitor within this.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

fn wait_serving(agent: &Agent) {
    eventually(START_TIMEOUT, "the agent has a leader", || {
        let answer = http(&agent.http_addr(), "GET", "/v1/status/leader", b"")?;
        (answer.status == 200 && answer.body.contains(':'))
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
}

fn call(agent: &Agent, method: &str, path: &str, body: &str) -> HttpAnswer {
    http(&agent.http_addr(), method, path, body.as_bytes())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The ids in `/v1/agent/services`.
fn agent_services(agent: &Agent) -> Vec<String> {
    let answer = call(agent, "GET", "/v1/agent/services", "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut ids: Vec<String> = answer
        .body
        .split("\"ID\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// A `-dev` agent on `ip` reading `config_dir`, with its log in `dir`.
fn dev_agent(dir: &std::path::Path, ip: &str, config_dir: &std::path::Path) -> Agent {
    let config_dir = config_dir.to_str().unwrap();
    let args = [
        "-dev",
        "-bind",
        ip,
        "-client",
        ip,
        "-config-dir",
        config_dir,
    ];
    let agent = Agent::start(dir, "agent", ip, &args);
    wait_serving(&agent);
    agent
}

#[test]
fn reload_applies_the_files_services_and_log_level_and_refuses_a_broken_file() {
    let dir = scratch("operator-reload");
    let config = dir.join("config.d");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("web.json"),
        r#"{"service": {"name": "web", "port": 80}}"#,
    )
    .unwrap();
    std::fs::write(config.join("level.hcl"), "log_level = \"info\"\n").unwrap();
    let agent = dev_agent(&dir, IP_RELOAD, &config);
    let api_service = r#"{"Name": "from-api", "Port": 9000}"#;
    assert_eq!(
        call(&agent, "PUT", "/v1/agent/service/register", api_service).status,
        200
    );
    assert_eq!(agent_services(&agent), ["from-api", "web"]);
    reload_moves_services_and_raises_the_level(&agent, &config);
    a_broken_file_is_refused_and_nothing_applied(&agent, &config);
    sighup_reloads(&agent, &config);
}

/// `concord reload`: web's file removed, db's added, the level raised to debug.
fn reload_moves_services_and_raises_the_level(agent: &Agent, config: &std::path::Path) {
    // At info, a request's debug line ("request finished") is not written.
    call(agent, "GET", "/v1/kv/marker-before-reload", "");
    std::fs::remove_file(config.join("web.json")).unwrap();
    let db = r#"{"service": {"name": "db", "port": 5432, "check": {"ttl": "30s"}}}"#;
    std::fs::write(config.join("db.json"), db).unwrap();
    std::fs::write(config.join("level.hcl"), "log_level = \"debug\"\n").unwrap();
    let out = agent.cli(&["reload"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Configuration reload triggered");
    assert_eq!(
        agent_services(agent),
        ["db", "from-api"],
        "web removed, the API's kept"
    );
    call(agent, "GET", "/v1/kv/marker-after-reload", "");
    eventually(SETTLE_TIMEOUT, "the debug line after the reload", || {
        let log = agent.log_text();
        log.contains("marker-after-reload").then_some(()).ok_or(log)
    });
    assert!(
        !agent.log_text().contains("marker-before-reload"),
        "a debug line was written before the level changed"
    );
}

/// A file the agent cannot read: 500 naming it and its key, nothing applied.
fn a_broken_file_is_refused_and_nothing_applied(agent: &Agent, config: &std::path::Path) {
    let broken = r#"{"service": {"name": "broken", "port": "eighty"}}"#;
    std::fs::write(config.join("broken.json"), broken).unwrap();
    std::fs::remove_file(config.join("db.json")).unwrap();
    let refused = call(agent, "PUT", "/v1/agent/reload", "");
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert!(
        refused.body.contains("broken.json"),
        "names the file: {}",
        refused.body
    );
    assert!(
        refused.body.contains("service"),
        "names the key: {}",
        refused.body
    );
    let out = agent.cli(&["reload"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with("Error reloading: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        agent_services(agent),
        ["db", "from-api"],
        "nothing applied: db stays although its file is gone"
    );
}

/// SIGHUP reloads too, as Consul's agent does.
fn sighup_reloads(agent: &Agent, config: &std::path::Path) {
    std::fs::remove_file(config.join("broken.json")).unwrap();
    let cache = r#"{"service": {"name": "cache", "port": 6379}}"#;
    std::fs::write(config.join("cache.json"), cache).unwrap();
    let pid = agent.child.as_ref().expect("running").id();
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    eventually(SETTLE_TIMEOUT, "the services after SIGHUP", || {
        let ids = agent_services(agent);
        (ids == ["cache", "from-api"])
            .then_some(())
            .ok_or(format!("{ids:?}"))
    });
    assert!(agent.log_text().contains("==> Caught signal: hangup"));
}

/// Reads a child's stdout lines on a thread: the test waits for them with a timeout.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line that `wanted` accepts, within `SETTLE_TIMEOUT`.
fn line_where(lines: &mpsc::Receiver<String>, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no such line within {SETTLE_TIMEOUT:?}: {e}"),
        }
    }
}

fn monitor(agent: &Agent, flags: &[&str]) -> Child {
    Command::new(concord_bin())
        .arg("monitor")
        .args(flags)
        .arg(format!("-http-addr={}", agent.http_addr()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("concord monitor runs")
}

#[test]
fn monitor_at_debug_sees_debug_lines_of_an_agent_at_info_until_the_agent_stops() {
    let dir = scratch("operator-monitor");
    let config = dir.join("config.d");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("level.json"), r#"{"log_level": "INFO"}"#).unwrap();
    let mut agent = dev_agent(&dir, IP_MONITOR, &config);
    let mut text = monitor(&agent, &["-log-level=debug"]);
    let mut json = monitor(&agent, &["-log-level=debug", "-log-json"]);
    let (text_lines, json_lines) = (lines_of(&mut text), lines_of(&mut json));
    // The monitors attach asynchronously: ask until their lines show the marker.
    let marker = "/v1/kv/marker-for-the-monitor";
    let asking = std::thread::spawn({
        let addr = agent.http_addr();
        move || {
            for _ in 0..50 {
                let _ = http(&addr, "GET", marker, b"");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let line = line_where(&text_lines, |l| l.contains(marker));
    assert!(
        line.contains(" [DEBUG] agent.http: request finished"),
        "{line}"
    );
    let line = line_where(&json_lines, |l| l.contains(marker));
    assert!(
        line.starts_with('{') && line.contains(r#""@level":"debug""#),
        "{line}"
    );
    asking.join().unwrap();
    assert!(
        !agent.log_text().contains(marker),
        "the agent's own output stays at info"
    );

    assert_eq!(agent.interrupt(), Some(0), "the agent leaves and exits");
    assert_eq!(
        wait_exit(&mut text, SETTLE_TIMEOUT),
        Some(1),
        "the agent ended the stream"
    );
    let ended: Vec<String> = text_lines.try_iter().collect();
    assert!(
        ended
            .iter()
            .any(|l| l.starts_with("Remote side ended the monitor!")),
        "{ended:?}"
    );
    assert_eq!(wait_exit(&mut json, SETTLE_TIMEOUT), Some(1));
}

#[test]
fn info_and_members_detailed_on_a_one_server_agent() {
    let dir = scratch("operator-info");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let mut args = agent_args("solo", IP_INFO, data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let agent = Agent::start(&dir, "solo", IP_INFO, &args);
    wait_serving(&agent);
    let info = eventually(START_TIMEOUT, "info shows the leader", || {
        let out = agent.cli(&["info"]);
        let text = stdout(&out);
        (out.status.success() && text.contains("\tstate = Leader\n"))
            .then_some(text.clone())
            .ok_or(format!("{text}{}", stderr(&out)))
    });
    for section in [
        "agent:",
        "build:",
        "consul:",
        "raft:",
        "runtime:",
        "serf_lan:",
    ] {
        assert!(info.lines().any(|l| l == section), "{section} in {info}");
    }
    for line in [
        "\tleader = true",
        "\tserver = true",
        "\tbootstrap = true",
        "\tnum_peers = 0",
        "\tlast_contact = 0",
        "\tmembers = 1",
        "\tfailed = 0",
        "\thealth_score = 0",
        "\tservices = 0",
        "\tos = linux",
    ] {
        assert!(info.lines().any(|l| l == line), "{line:?} in {info}");
    }
    let leader_addr = format!("\tleader_addr = {IP_INFO}:8300");
    assert!(info.contains(&leader_addr), "{info}");
    let term: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("\tterm = "))
        .and_then(|t| t.parse().ok())
        .expect("a term");
    assert!(term >= 1, "{info}");

    let out = agent.cli(&["members", "-detailed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["Node", "Address", "Status", "Tags"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[..3], ["solo", &format!("{IP_INFO}:8301"), "alive"]);
    let tags: Vec<&str> = row[3].split(',').collect();
    for tag in ["dc=dc1", "role=consul", "port=8300", "expect=1"] {
        assert!(tags.contains(&tag), "{tag} in {tags:?}");
    }
    let mut sorted = tags.clone();
    sorted.sort();
    assert_eq!(tags, sorted, "tags sorted by key, as Consul prints them");
}
