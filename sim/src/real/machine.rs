//! One real machine: a `concord agent` process in its own network namespace (from
//! `net::Network`), its own UTS namespace (the hostname is the node name, as a simulated
//! machine's is) and its own mount namespace, where `ROOT/tmp` is bound over `/tmp` and
//! `ROOT/var-lib-concord` over `/var/lib/concord`. So a scenario's `-data-dir /tmp/node0` and
//! the default data dir belong to that machine, survive its restarts, and two machines never
//! share one. Each step execs in place: the pid we hold is the agent's own, so SIGKILL,
//! SIGSTOP and SIGCONT reach it and nothing else.

use super::client::Client;
use super::net::Connector;
use concord_core::agent::{ApiResult, Request};
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::watch;

/// How long a started agent may take to answer its HTTP API before the start has failed
/// (they answer in 50-110 ms on this machine; a debug binary under load takes longer).
pub const AGENT_START_MS_MAX: u64 = 20_000;
/// How often a starting agent is asked whether it answers.
const START_POLL_MS: u64 = 20;
/// How long a killed process may take to be reaped.
const REAP_MS_MAX: u64 = 10_000;

/// What a machine runs, again at every restart.
#[derive(Clone, Debug)]
pub struct MachineSetup {
    pub name: String,
    pub namespace: String,
    /// The machine's own directory on the host: `tmp/`, `var-lib-concord/`, `machine.hcl`,
    /// `agent.log`.
    pub root: PathBuf,
    /// The `concord` binary (a debug build: only those read the test hooks).
    pub bin: PathBuf,
    /// `agent` and the `start` line's flags, after the machine's config file.
    pub flags: Vec<String>,
    /// The test hooks' environment (`cli/src/agent/test_hooks.rs`).
    pub env: Vec<(String, String)>,
    /// The agent's HTTP address inside its namespace.
    pub http: SocketAddr,
}

/// A running (or exited) agent process.
pub struct Process {
    pub pid: i32,
    exited: watch::Receiver<bool>,
}

/// What clients hold: the agent's HTTP API, reached inside its namespace, and its exit.
#[derive(Clone)]
pub struct AgentHandle {
    client: Client,
    exited: watch::Receiver<bool>,
}

impl AgentHandle {
    pub async fn request(&self, request: Request) -> ApiResult {
        self.client.send(request).await
    }

    /// Returns once the process has exited.
    pub async fn stopped(&self) {
        let mut exited = self.exited.clone();
        let _ = exited.wait_for(|gone| *gone).await;
    }
}

impl MachineSetup {
    /// Writes the machine's config file (what the simulator's `machine_layer` says) and makes
    /// its directories.
    pub fn prepare(&self, machine_hcl: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(self.root.join("tmp"))?;
        std::fs::create_dir_all(self.root.join("var-lib-concord"))?;
        std::fs::write(self.root.join("machine.hcl"), machine_hcl)
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("agent.log")
    }

    /// Starts the agent; its output is appended to `agent.log` (restarts add to it).
    pub fn spawn(&self, connector: &Connector) -> Result<(Process, AgentHandle), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("{}: {e}", self.log_path().display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace])
            .args(["unshare", "--uts", "--mount", "--propagation", "private"])
            .args(["sh", "-c", MACHINE_SCRIPT, "sh"])
            .arg(&self.name)
            .arg(&self.root)
            .arg(&self.bin)
            .arg("agent")
            .arg("-config-file")
            .arg(self.root.join("machine.hcl"))
            .args(&self.flags)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.name))?;
        let pid = child
            .id()
            .map(|p| p as i32)
            .ok_or("the agent exited at once")?;
        assert!(pid > 0, "a child's pid is positive");
        let (tx, exited) = watch::channel(false);
        tokio::spawn(async move {
            let _ = child.wait().await;
            let _ = tx.send(true);
        });
        let client = Client::with_connector(&self.name, self.http, connector.clone());
        let handle = AgentHandle {
            client,
            exited: exited.clone(),
        };
        Ok((Process { pid, exited }, handle))
    }
}

/// The machine's namespaces, set up in place before the agent is exec'd: `$1` name, `$2`
/// root, `$3` binary, then the agent's arguments. `/tmp` is bound last, since the root may
/// itself be under `/tmp`; `/var/lib` is a tmpfs of this mount namespace only, so the host
/// gets no `/var/lib/concord`.
const MACHINE_SCRIPT: &str = r#"BIN=$3
hostname "$1" && mount -t tmpfs cr-var-lib /var/lib && mkdir /var/lib/concord &&
mount --bind "$2/var-lib-concord" /var/lib/concord && mount --bind "$2/tmp" /tmp &&
shift 3 && exec "$BIN" "$@""#;

impl Process {
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    /// SIGKILL, then waits until the process is reaped.
    pub async fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let mut exited = self.exited.clone();
        let reaped = exited.wait_for(|gone| *gone);
        if tokio::time::timeout(Duration::from_millis(REAP_MS_MAX), reaped)
            .await
            .is_err()
        {
            panic!(
                "agent pid {} not reaped {REAP_MS_MAX} ms after SIGKILL",
                self.pid
            );
        }
    }

    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        if self.has_exited() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which is not reaped (the watch says it
        // has not exited), so it cannot name another process.
        unsafe {
            libc::kill(self.pid, signal);
        }
    }
}

/// Waits until the agent answers its HTTP API (or has exited, or the bound passed).
pub async fn wait_answering(
    name: &str,
    process: &Process,
    handle: &AgentHandle,
    log: &Path,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(AGENT_START_MS_MAX);
    loop {
        if handle.request(Request::Members).await.is_ok() {
            return Ok(());
        }
        if process.has_exited() {
            return Err(format!(
                "{name} exited at start: {}",
                last_lines(log, LOG_LINES_SHOWN)
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{name} did not answer within {AGENT_START_MS_MAX} ms: {}",
                last_lines(log, LOG_LINES_SHOWN)
            ));
        }
        tokio::time::sleep(Duration::from_millis(START_POLL_MS)).await;
    }
}

/// Lines of an agent's log shown when it failed to start.
const LOG_LINES_SHOWN: usize = 8;

fn last_lines(path: &Path, count: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}
