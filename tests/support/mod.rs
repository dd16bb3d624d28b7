//! Running real `concord` processes, each on its own loopback address, like separate hosts.
#![allow(dead_code)]

mod http;
#[allow(unused_imports)]
pub use http::{http, HttpAnswer};

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: `CONCORD_BIN`, or the workspace's debug build (built if missing).
pub fn concord_bin() -> PathBuf {
    if let Ok(path) = std::env::var("CONCORD_BIN") {
        return PathBuf::from(path);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = root.join("target/debug/concord");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["build", "-p", "concord"])
            .status()
            .unwrap();
        assert!(status.success(), "building concord failed");
    }
    path
}

/// A scratch directory for one test, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("concord-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Agent {
    pub name: String,
    pub ip: String,
    pub child: Option<Child>,
    pub log: PathBuf,
    pub args: Vec<String>,
}

impl Agent {
    /// Starts `concord agent ARGS` with its output in `dir/NAME.log`.
    pub fn start(dir: &std::path::Path, name: &str, ip: &str, args: &[&str]) -> Agent {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let log = dir.join(format!("{name}.log"));
        let mut agent = Agent {
            name: name.into(),
            ip: ip.into(),
            child: None,
            log,
            args,
        };
        agent.spawn();
        agent
    }

    fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(concord_bin())
            .arg("agent")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("concord starts");
        self.child = Some(child);
    }

    /// Starts the same agent again (same flags, same data dir).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        self.spawn();
    }

    pub fn http_addr(&self) -> String {
        format!("{}:8500", self.ip)
    }

    /// Runs `concord ARGS` against this agent's HTTP API.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.http_addr(), args)
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Ctrl+C; returns the exit code.
    pub fn interrupt(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        wait_exit(&mut child, Duration::from_secs(20))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn cli(http_addr: &str, args: &[&str]) -> Output {
    Command::new(concord_bin())
        .args(args)
        .arg(format!("-http-addr={http_addr}"))
        .output()
        .expect("concord runs")
}

/// `concord ARGS` where the flag goes before positional arguments (some commands need it so).
pub fn cli_with_addr_first(http_addr: &str, command: &[&str], rest: &[&str]) -> Output {
    Command::new(concord_bin())
        .args(command)
        .arg(format!("-http-addr={http_addr}"))
        .args(rest)
        .output()
        .expect("concord runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Retries `check` until it returns Ok or `timeout` passes; panics with the last error.
pub fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: not so within {timeout:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Lines of `members` output as (node, address, status, type).
pub fn members(agent: &Agent) -> Result<Vec<(String, String, String, String)>, String> {
    let output = agent.cli(&["members"]);
    if !output.status.success() {
        return Err(stderr(&output));
    }
    Ok(stdout(&output)
        .lines()
        .skip(1)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].into(), w[1].into(), w[2].into(), w[3].into())
        })
        .collect())
}

/// The leader's node name per `operator raft list-peers`, with the peer rows.
pub fn peers(agent: &Agent) -> Result<Vec<Vec<String>>, String> {
    let output = agent.cli(&["operator", "raft", "list-peers"]);
    if !output.status.success() {
        return Err(stderr(&output));
    }
    Ok(stdout(&output)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect())
}

pub fn leader_of(agent: &Agent) -> Result<String, String> {
    let rows = peers(agent)?;
    rows.iter()
        .find(|r| r.get(3).map(|s| s.as_str()) == Some("leader"))
        .map(|r| r[0].clone())
        .ok_or(format!("no leader in {rows:?}"))
}

pub fn agent_args<'a>(name: &'a str, ip: &'a str, data_dir: &'a str) -> Vec<&'a str> {
    vec![
        "-data-dir",
        data_dir,
        "-node",
        name,
        "-bind",
        ip,
        "-client",
        ip,
    ]
}

/// `concord kv put KEY VALUE` against `agent`.
pub fn kv_put(agent: &Agent, key: &str, value: &str) -> Result<(), String> {
    let out = agent.cli(&["kv", "put", key, value]);
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr(&out))
    }
}

/// `concord kv get KEY` against `agent`: the value, trimmed.
pub fn kv_get(agent: &Agent, key: &str) -> Result<String, String> {
    let out = agent.cli(&["kv", "get", key]);
    if out.status.success() {
        Ok(stdout(&out).trim().to_string())
    } else {
        Err(stderr(&out))
    }
}

/// `dig`, as users ask the agent's DNS (Debian's dnsutils, installed here if missing: CI's
/// `cargo xtask test` installs it first too).
pub fn dig_binary() -> &'static str {
    let found = |_: ()| Command::new("sh").args(["-c", "command -v dig"]).output();
    if !found(()).is_ok_and(|o| o.status.success()) {
        let install = "S=; [ \"$(id -u)\" = 0 ] || S=sudo; \
                       $S apt-get update -qq && $S apt-get install -y -qq dnsutils";
        let _ = Command::new("sh").args(["-c", install]).status();
    }
    assert!(
        found(()).is_ok_and(|o| o.status.success()),
        "dig is not installed and apt-get could not install it: apt-get install dnsutils"
    );
    "dig"
}

/// The answer section of `dig @ip -p port name qtype +short`, one record a line.
pub fn dig_short(ip: &str, port: u16, name: &str, qtype: &str) -> Result<String, String> {
    let output = Command::new(dig_binary())
        .args([&format!("@{ip}"), "-p", &port.to_string(), name, qtype])
        .args(["+short", "+tries=1", "+time=3"])
        .output()
        .map_err(|e| format!("dig: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    output
        .status
        .success()
        .then_some(text)
        .ok_or_else(|| format!("dig {name} {qtype} failed"))
}

/// Waits up to `timeout` for `child` to exit: its exit code; killed and `None` past it.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}
