//! The debug build's test hooks (`CONCORD_QUICK_TIMINGS`, `CONCORD_PLANTED_BUG`,
//! `CONCORD_TEST_RAFT_LIMITS`), which the real-process runner sets: each one set is named in a
//! warning, an unknown bug stops the start, and the leader logs Consul's `election won` line
//! that the runner reads. The binary must be a debug build (CI's `target/debug/concord`): a
//! release build ignores the hooks. Agents here use 127.0.16.N.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// How long a start (or a refused one) may take on a busy host with a debug build.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A started agent, killed if a test ends early (a failed assertion).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `concord agent ARGS` with `env` set, its output (stdout and stderr) in `log`.
fn spawn(log: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Running {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(concord_bin())
        .arg("agent")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("concord starts");
    Running(child)
}

#[test]
fn set_hooks_are_warned_and_the_leader_logs_its_election() {
    let dir = scratch("test-hooks");
    let data = dir.join("data");
    let log = dir.join("s1.log");
    let env = [
        ("CONCORD_QUICK_TIMINGS", "1"),
        ("CONCORD_PLANTED_BUG", "lock-steal-after-leader-change"),
        ("CONCORD_TEST_RAFT_LIMITS", "4,2"),
    ];
    let ip = "127.0.16.1";
    let mut args = agent_args("s1", ip, data.to_str().unwrap());
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let _agent = spawn(&log, &env, &args);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually(START_TIMEOUT, "the election won line", || {
        match read().contains("raft: election won:") {
            true => Ok(()),
            false => Err(read()),
        }
    });
    let text = read();
    for hook in [
        "CONCORD_QUICK_TIMINGS=1",
        "CONCORD_PLANTED_BUG=lock-steal-after-leader-change",
        "CONCORD_TEST_RAFT_LIMITS=4,2",
    ] {
        let warned = text
            .lines()
            .any(|l| l.contains("[WARN]") && l.contains("TEST HOOK SET") && l.contains(hook));
        assert!(warned, "{hook} not warned in:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("raft: election won: term=") && l.ends_with(" tally=1")),
        "{text}"
    );
}

#[test]
fn an_unknown_planted_bug_stops_the_start_with_the_known_names() {
    let dir = scratch("test-hooks-bad");
    let log = dir.join("s2.log");
    let data = dir.join("data");
    let args = agent_args("s2", "127.0.16.2", data.to_str().unwrap());
    let mut agent = spawn(&log, &[("CONCORD_PLANTED_BUG", "no-such-bug")], &args);
    let code = wait_exit(&mut agent.0, START_TIMEOUT);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("CONCORD_PLANTED_BUG=\"no-such-bug\""),
        "{text}"
    );
    assert!(text.contains("lock-steal-after-leader-change"), "{text}");
}
