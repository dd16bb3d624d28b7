//! Item 1 and 2 of the hardening issue, on real processes: a burst of the largest writes is
//! pushed back (429) and never stops the agent; a zero-filled log is refused, not wiped.

mod support;

use std::time::Duration;
use support::*;

/// The status and body of one request.
fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<(u16, String), String> {
    http(addr, method, path, body).map(|answer| (answer.status, answer.body))
}

/// 200 clients write 512 KiB each at once (100 MiB in one burst). Before the fix the agent
/// put them in one WAL record over the record maximum and stopped. Now each write is either
/// done (200) or pushed back with 429, and the agent keeps serving.
#[test]
fn a_burst_of_the_largest_writes_is_pushed_back_and_the_agent_stays_up() {
    let dir = scratch("burst");
    let ip = "127.0.41.1";
    let args = ["-dev", "-node", "burst", "-bind", ip, "-client", ip];
    let agent = Agent::start(&dir, "burst", ip, &args);
    let addr = agent.http_addr();
    eventually(Duration::from_secs(20), "agent answers", || {
        request(&addr, "PUT", "/v1/kv/ready", b"1").map(|_| ())
    });
    let value = vec![b'v'; 512 * 1024];
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let (addr, value) = (addr.clone(), value.clone());
            std::thread::spawn(move || request(&addr, "PUT", &format!("/v1/kv/big/{i}"), &value))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut written = 0;
    for result in &results {
        let (status, body) = result.as_ref().expect("every request is answered");
        match status {
            200 => written += 1,
            429 => assert!(body.starts_with("rate limit exceeded"), "{body}"),
            other => panic!("status {other}: {body}\n{}", agent.log_text()),
        }
    }
    assert!(written > 0, "some of the burst is written");
    let log = agent.log_text();
    assert!(!log.contains("storage failed"), "{log}");
    let (status, _) = request(&addr, "PUT", "/v1/kv/after", b"still here").unwrap();
    assert_eq!(status, 200, "the agent still takes writes");
    let (status, keys) = request(&addr, "GET", "/v1/kv/big/?keys", b"").unwrap();
    assert_eq!((status, keys.matches("big/").count()), (200, written));
}

/// A power loss can leave a whole log zero-filled. Before the fix recovery took that for a
/// torn tail, truncated it and bootstrapped an empty cluster: every key gone. Now the agent
/// refuses to start, names the file and the offset, and leaves the file as it was.
#[test]
fn a_zero_filled_log_is_refused_and_kept() {
    let dir = scratch("zeroed");
    let data_dir = dir.join("data");
    let data = data_dir.to_str().unwrap().to_string();
    let ip = "127.0.41.2";
    let mut args = agent_args("zeroed", ip, &data);
    args.extend(["-server", "-bootstrap"]);
    let mut agent = Agent::start(&dir, "zeroed", ip, &args);
    for i in 0..20 {
        let key = format!("k{i}");
        eventually(Duration::from_secs(20), "write", || {
            let output = agent.cli(&["kv", "put", &key, "v"]);
            output.status.success().then_some(()).ok_or(stderr(&output))
        });
    }
    assert_eq!(agent.interrupt(), Some(0));
    let log_file = data_dir.join("raft.log");
    let size = std::fs::metadata(&log_file).unwrap().len();
    std::fs::write(&log_file, vec![0; size as usize]).unwrap();
    agent.restart();
    let status = agent.child.as_mut().unwrap().wait().unwrap();
    assert!(!status.success(), "a damaged log must not start");
    let log = agent.log_text();
    assert!(
        log.contains("raft.log: damaged from byte offset 0"),
        "the error names the file and offset: {log}"
    );
    assert_eq!(std::fs::read(&log_file).unwrap(), vec![0; size as usize]);
}
