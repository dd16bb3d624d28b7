//! `concord watch -type=key` against a real agent: the handler runs once for the first answer
//! (the key missing: `null`) and once per change of the key, with the entry as JSON on stdin
//! and `CONSUL_INDEX` set; writes to other keys do not run it. Without a handler the watch
//! prints the answer once and exits 0.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// No other test file uses 127.0.114.x.
const IP: &str = "127.0.114.1";
const FORM_TIMEOUT: Duration = Duration::from_secs(30);
/// Long enough for a blocking query to wake and the handler to run.
const SETTLE: Duration = Duration::from_millis(700);

fn fired(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_key_watch_runs_its_handler_once_per_change() {
    let dir = scratch("watch");
    let data = dir.join("s1").display().to_string();
    let mut args = agent_args("s1", IP, &data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let server = Agent::start(&dir, "s1", IP, &args);
    eventually(FORM_TIMEOUT, "the server writes", || {
        kv_put(&server, "other", "0")
    });

    let log = dir.join("fired.log");
    // One line per run: the index, then the JSON from stdin (Go's encoder ends it with \n).
    let handler = format!(
        "printf '%s ' $CONSUL_INDEX >> {0}; cat >> {0}",
        log.display()
    );
    let mut watch = Command::new(concord_bin())
        .args([
            "watch",
            &format!("-http-addr={IP}:8500"),
            "-type=key",
            "-key=app/config",
        ])
        .arg(&handler)
        .stdin(Stdio::null())
        .spawn()
        .expect("concord watch starts");
    eventually(Duration::from_secs(10), "the first answer fires", || {
        let lines = fired(&log);
        (lines.len() == 1).then_some(()).ok_or(format!("{lines:?}"))
    });
    assert!(fired(&log)[0].ends_with(" null"), "{:?}", fired(&log));

    for value in ["v1", "v2", "v3"] {
        kv_put(&server, "app/config", value).unwrap();
        kv_put(&server, "other", value).unwrap(); // not watched: no run
        std::thread::sleep(SETTLE);
    }
    let lines = eventually(Duration::from_secs(10), "three more runs", || {
        let lines = fired(&log);
        (lines.len() >= 4)
            .then_some(lines.clone())
            .ok_or(format!("{lines:?}"))
    });
    std::thread::sleep(SETTLE);
    let lines_later = fired(&log);
    // Consul's watch ends with status 0 on a shutdown signal, even in a blocking read.
    unsafe { libc::kill(watch.id() as libc::pid_t, libc::SIGTERM) };
    let status = watch.wait().expect("the watch ends");
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM ends the watch cleanly: {status:?}"
    );
    assert_eq!(lines_later.len(), 4, "one run per change: {lines_later:?}");
    let values: Vec<&str> = ["djE=", "djI=", "djM="].to_vec(); // base64 of v1, v2, v3
    for (line, value) in lines[1..].iter().zip(values) {
        assert!(line.contains(r#""Key":"app/config""#), "{line}");
        assert!(line.contains(&format!(r#""Value":"{value}""#)), "{line}");
        let index: u64 = line.split(' ').next().unwrap().parse().unwrap();
        assert!(
            line.contains(&format!(r#""ModifyIndex":{index}}}"#)),
            "{line}"
        );
    }

    // Without a handler: the current answer, indented, once.
    let out = Command::new(concord_bin())
        .args([
            "watch",
            &format!("-http-addr={IP}:8500"),
            "-type=keyprefix",
            "-prefix=app/",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("[\n    {\n        \"LockIndex\": 0,"),
        "{text}"
    );
}
