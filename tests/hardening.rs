//! Starting wrong fails at once, loudly, and non-zero: a data dir another agent holds, one that
//! cannot be written, a storage failure while running, a port that is not a port, and a gossip
//! key that would be ignored. Agents here use 127.0.29.N.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// How long a refused start may take: it should be instant, but debug builds on a busy host
/// start slowly.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(15);
/// A valid 32-byte gossip key (what `concord keygen` makes).
const GOSSIP_KEY: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";

/// What a run that should be refused did: its exit code (`None` if it was still running at
/// the deadline and had to be killed) and its output.
struct Outcome {
    code: Option<i32>,
    output: String,
}

/// Runs `concord ARGS` with output in `dir/NAME.log`, killing it if it is still running after
/// `timeout` (the old behaviour of every case here was to start and keep running).
fn run_until_exit(
    dir: &Path,
    name: &str,
    args: &[&str],
    timeout: Duration,
    before_exec: Option<fn() -> std::io::Result<()>>,
) -> Outcome {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(concord_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    if let Some(hook) = before_exec {
        // SAFETY: the hooks only make async-signal-safe libc calls.
        unsafe { command.pre_exec(hook) };
    }
    let mut child = command.spawn().expect("concord starts");
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    Outcome { code, output }
}

fn assert_refused(outcome: &Outcome, what: &str, wants: &[&str]) {
    assert_eq!(
        outcome.code,
        Some(1),
        "{what}: expected exit 1 (None: still running after {REFUSAL_TIMEOUT:?}); output:\n{}",
        outcome.output
    );
    for want in wants {
        assert!(
            outcome.output.contains(want),
            "{what}: output should name {want:?}:\n{}",
            outcome.output
        );
    }
    assert!(
        !outcome.output.contains("agent running!"),
        "{what}: started anyway:\n{}",
        outcome.output
    );
}

#[test]
fn a_second_agent_on_the_same_data_dir_is_refused_and_the_lock_dies_with_its_holder() {
    let dir = scratch("hardening-lock");
    let data = dir.join("shared").display().to_string();
    let (ip1, ip2) = ("127.0.29.1", "127.0.29.2");
    let mut args1 = agent_args("first", ip1, &data);
    args1.extend(["-server", "-bootstrap"]);
    let mut first = Agent::start(&dir, "first", ip1, &args1);
    eventually(
        Duration::from_secs(20),
        "the first agent takes writes",
        || kv_put(&first, "owner", "first"),
    );
    let holder = first.child.as_ref().unwrap().id().to_string();
    let mut args2 = vec!["agent"];
    args2.extend(agent_args("second", ip2, &data));
    args2.extend(["-server", "-retry-join", ip1, "-retry-interval", "1s"]);
    let second = run_until_exit(&dir, "second", &args2, REFUSAL_TIMEOUT, None);
    assert_refused(&second, "second agent", &[&data, &holder, "in use"]);
    assert_eq!(
        kv_get(&first, "owner").unwrap(),
        "first",
        "the holder runs on"
    );
    // kill -9 gives no chance to clean up: the kernel must drop the lock.
    first.kill();
    first.restart();
    let value = eventually(Duration::from_secs(20), "the restarted agent reads", || {
        kv_get(&first, "owner")
    });
    assert_eq!(value, "first");
}

/// Runs the child as `nobody` when the test runs as root (root writes anywhere).
fn drop_to_nobody() -> std::io::Result<()> {
    const NOBODY: u32 = 65_534;
    // SAFETY: plain syscalls, async-signal-safe.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(());
        }
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(NOBODY) != 0
            || libc::setuid(NOBODY) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[test]
fn an_unwritable_data_dir_stops_the_start_naming_the_path() {
    let dir = scratch("hardening-readonly");
    let ip = "127.0.29.3";
    let read_only = dir.join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o555);
    std::fs::set_permissions(&read_only, mode).unwrap();
    let data = read_only.display().to_string();
    let mut args = vec!["agent"];
    args.extend(agent_args("ro", ip, &data));
    args.extend(["-server", "-bootstrap"]);
    let outcome = run_until_exit(&dir, "ro", &args, REFUSAL_TIMEOUT, Some(drop_to_nobody));
    assert_refused(
        &outcome,
        "read-only data dir",
        &[&data, "Permission denied"],
    );
    assert!(
        std::net::TcpStream::connect((ip, 8500)).is_err(),
        "nothing is served"
    );
    // As root too: a data dir path under a regular file.
    let file = dir.join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("data").display().to_string();
    let mut args = vec!["agent"];
    args.extend(agent_args("uf", ip, &under_file));
    args.extend(["-server", "-bootstrap"]);
    let outcome = run_until_exit(&dir, "uf", &args, REFUSAL_TIMEOUT, None);
    assert_refused(&outcome, "data dir under a file", &[&under_file]);
}

/// Writes past this size fail with EFBIG (SIGXFSZ is ignored): a disk that fills up.
const FILE_SIZE_BYTES_MAX: u64 = 256 * 1024;

fn limit_file_size() -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: FILE_SIZE_BYTES_MAX,
        rlim_max: FILE_SIZE_BYTES_MAX,
    };
    // SAFETY: plain syscalls, async-signal-safe.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[test]
fn a_storage_failure_while_running_exits_non_zero_naming_the_path() {
    let dir = scratch("hardening-fsize");
    let ip = "127.0.29.4";
    let data = dir.join("data").display().to_string();
    let mut args = vec!["agent"];
    args.extend(agent_args("full", ip, &data));
    args.extend(["-server", "-bootstrap"]);
    let watcher = std::thread::spawn({
        let dir = dir.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let timeout = Duration::from_secs(60);
            run_until_exit(&dir, "full", &args, timeout, Some(limit_file_size))
        }
    });
    let addr = format!("{ip}:8500");
    eventually(Duration::from_secs(20), "the agent takes writes", || {
        http_put(&addr, "/v1/kv/small", b"x")
    });
    // 100 KB values fill the 256 KiB log in three writes; the failing write gets no 200.
    let value = vec![b'v'; 100_000];
    let writes_ok = (0..10)
        .take_while(|i| http_put(&addr, &format!("/v1/kv/big{i}"), &value).is_ok())
        .count();
    assert!(writes_ok < 10, "the log never reached the size limit");
    let outcome = watcher.join().unwrap();
    assert_ne!(
        outcome.code,
        Some(0),
        "a storage failure is a fatal stop:\n{}",
        outcome.output
    );
    assert!(outcome.code.is_some(), "still running:\n{}", outcome.output);
    let log_path = format!("{data}/raft.log");
    assert!(
        outcome.output.contains(&log_path),
        "the failure names {log_path}:\n{}",
        outcome.output
    );
}

/// PUT over plain HTTP/1.1; Ok when the answer is 200.
fn http_put(addr: &str, path: &str, body: &[u8]) -> Result<(), String> {
    let answer = http(addr, "PUT", path, body)?;
    if answer.status == 200 {
        Ok(())
    } else {
        Err(answer
            .head
            .lines()
            .next()
            .unwrap_or("no answer")
            .to_string())
    }
}

#[test]
fn bad_port_flags_and_keys_are_refused_by_name() {
    let dir = scratch("hardening-ports");
    let ip = "127.0.29.5";
    let cases = [
        ("-http-port", "70000"),
        ("-http-port", "-5"),
        ("-http-port", "0"),
        ("-dns-port", "0"),
        ("-server-port", "0"),
        ("-serf-lan-port", "0"),
        ("-server-port", "-1"),
    ];
    for (i, (flag, value)) in cases.into_iter().enumerate() {
        let args = ["agent", "-dev", "-bind", ip, "-client", ip, flag, value];
        let outcome = run_until_exit(&dir, &format!("flag{i}"), &args, REFUSAL_TIMEOUT, None);
        let what = format!("{flag} {value}");
        assert_refused(&outcome, &what, &[&flag[1..], value, "not a port"]);
    }
    let keys = [
        ("http.hcl", "ports {\n  http = 0\n}\n", "ports.http"),
        ("grpc.json", r#"{"ports": {"grpc": 70000}}"#, "ports.grpc"),
        (
            "serf.json",
            r#"{"ports": {"serf_lan": -1}}"#,
            "ports.serf_lan",
        ),
    ];
    for (name, text, key) in keys {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let file = file.display().to_string();
        let args = [
            "agent",
            "-dev",
            "-bind",
            ip,
            "-client",
            ip,
            "-config-file",
            &file,
        ];
        let outcome = run_until_exit(&dir, name, &args, REFUSAL_TIMEOUT, None);
        assert_refused(&outcome, name, &[&file, key, "not a port"]);
    }
}

#[test]
fn a_gossip_key_is_refused_while_encryption_is_not_built() {
    let dir = scratch("hardening-encrypt");
    let ip = "127.0.29.6";
    let args = [
        "agent", "-dev", "-bind", ip, "-client", ip, "-encrypt", GOSSIP_KEY,
    ];
    let outcome = run_until_exit(&dir, "flag", &args, REFUSAL_TIMEOUT, None);
    assert_refused(&outcome, "-encrypt", &["-encrypt", "not built"]);
    let file = dir.join("encrypt.json");
    std::fs::write(&file, format!(r#"{{"encrypt": "{GOSSIP_KEY}"}}"#)).unwrap();
    let file = file.display().to_string();
    let args = [
        "agent",
        "-dev",
        "-bind",
        ip,
        "-client",
        ip,
        "-config-file",
        &file,
    ];
    let outcome = run_until_exit(&dir, "file", &args, REFUSAL_TIMEOUT, None);
    assert_refused(
        &outcome,
        "encrypt key",
        &[&file, r#"key "encrypt""#, "not built"],
    );
    let outcome = run_until_exit(
        &dir,
        "validate",
        &["validate", &file],
        REFUSAL_TIMEOUT,
        None,
    );
    assert_refused(&outcome, "validate", &[&file, "encrypt"]);
}
