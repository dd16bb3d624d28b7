//! `concord lock` between real processes: two of them on one prefix never run their children
//! at once (each child appends its start and end to one file) and hand each child a larger
//! fencing token than the one before; when the holder's agent is killed, the waiting one runs
//! its child only once the holder's session is gone and the lock-delay has passed, while the
//! holder stops its own child and exits non-zero.

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::*;

/// Each test its own loopback addresses (no other test file uses 127.0.111.x).
const FIRST_IP_MUTUAL: u8 = 1;
const FIRST_IP_KILLED: u8 = 11;
const FIRST_IP_SEMAPHORE: u8 = 21;
/// Rounds each of the two contenders runs its child under the lock.
const ROUNDS: usize = 20;
/// Joining, electing and the first reconcile round.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);
/// The lock-delay of the killed test's sessions (`-lock-delay`).
const LOCK_DELAY: Duration = Duration::from_secs(3);
/// Slack for the test's own polling of the release (it sees it late, never early).
const POLL_SLACK: Duration = Duration::from_millis(300);

/// A server on `127.0.111.{first}` and `clients` client agents on the next addresses, joined,
/// each able to read through the cluster.
fn cluster(test: &str, first: u8, clients: u8) -> (std::path::PathBuf, Vec<Agent>) {
    let dir = scratch(test);
    let server_ip = format!("127.0.111.{first}");
    let data = dir.join("s1").display().to_string();
    let mut args = agent_args("s1", &server_ip, &data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let mut agents = vec![Agent::start(&dir, "s1", &server_ip, &args)];
    for i in 1..=clients {
        let (name, ip) = (format!("c{i}"), format!("127.0.111.{}", first + i));
        let data = dir.join(&name).display().to_string();
        let mut args = agent_args(&name, &ip, &data);
        args.extend(["-retry-join", &server_ip, "-retry-interval", "1s"]);
        agents.push(Agent::start(&dir, &name, &ip, &args));
    }
    for agent in &agents {
        // A session needs the agent's node in the catalog with serfHealth passing.
        let path = format!("/v1/health/node/{}", agent.name);
        eventually(FORM_TIMEOUT, "the agent's node is in the catalog", || {
            let answer = http(&agent.http_addr(), "GET", &path, b"")?;
            (answer.status == 200 && answer.body.contains(r#""Status":"passing""#))
                .then_some(())
                .ok_or(format!("{} {}", answer.status, answer.body))
        });
    }
    (dir, agents)
}

/// `concord lock -http-addr=ADDR FLAGS... PREFIX SCRIPT`, started.
fn spawn_lock(addr: &str, flags: &[&str], prefix: &str, script: &str, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(concord_bin())
        .arg("lock")
        .arg(format!("-http-addr={addr}"))
        .args(flags)
        .args([prefix, script])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("concord lock starts")
}

fn wait_output(child: Child, timeout: Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(timeout) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{what}: still running after {timeout:?}")
        }
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// One child run: who, when it started and ended (ns since the epoch), its fencing token.
#[derive(Debug)]
struct Hold {
    who: String,
    start_ns: u128,
    end_ns: u128,
    token: u64,
}

/// The holds in a log of `start WHO NS TOKEN` / `end WHO NS` lines.
fn holds(log: &str) -> Vec<Hold> {
    let mut holds: Vec<Hold> = Vec::new();
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["start", who, ns, token] => holds.push(Hold {
                who: who.into(),
                start_ns: ns.parse().unwrap(),
                end_ns: 0,
                token: token.parse().unwrap(),
            }),
            ["end", who, ns] => {
                let open = holds
                    .iter_mut()
                    .rev()
                    .find(|h| h.who == who && h.end_ns == 0);
                open.expect("an end after its start").end_ns = ns.parse().unwrap();
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
    holds
}

#[test]
fn two_locks_on_one_prefix_never_run_their_children_at_once() {
    let (dir, agents) = cluster("locks-mutual", FIRST_IP_MUTUAL, 1);
    let log = dir.join("holds.log");
    let script = format!(
        "echo start $WHO $(date +%s%N) $CONCORD_LOCK_TOKEN >> {log}; sleep 0.1; \
         test \"$CONSUL_LOCK_HELD\" = true || echo not-held >> {log}; \
         echo end $WHO $(date +%s%N) >> {log}",
        log = log.display()
    );
    let contenders: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(i, agent)| run_rounds(i, agent.http_addr(), script.clone(), dir.clone()))
        .collect();
    for contender in contenders {
        contender.join().expect("a contender failed");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("not-held"), "CONSUL_LOCK_HELD unset: {text}");
    let mut holds = holds(&text);
    assert_eq!(holds.len(), 2 * ROUNDS, "{text}");
    holds.sort_by_key(|h| h.start_ns);
    for pair in holds.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.end_ns > 0, "{a:?} never ended");
        assert!(
            b.start_ns > a.end_ns,
            "{b:?} started before {a:?} ended:\n{text}"
        );
        assert!(b.token > a.token, "tokens must rise: {a:?} then {b:?}");
    }
    let key = http(
        &agents[0].http_addr(),
        "GET",
        "/v1/kv/jobs/nightly/.lock",
        b"",
    )
    .unwrap();
    assert_eq!(
        key.status, 404,
        "the last holder removed the unused lock key"
    );
}

/// One contender: `rounds` runs of `concord lock FLAGS jobs/nightly SCRIPT` through `addr`,
/// one after the other, each with `WHO=c<i>` in its environment.
fn run_rounds(
    i: usize,
    addr: String,
    script: String,
    dir: std::path::PathBuf,
) -> std::thread::JoinHandle<()> {
    run_rounds_with(i, addr, script, dir, ROUNDS, vec![])
}

fn run_rounds_with(
    i: usize,
    addr: String,
    script: String,
    dir: std::path::PathBuf,
    rounds: usize,
    flags: Vec<&'static str>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for round in 0..rounds {
            let out = dir.join(format!("lock-{i}-{round}.out"));
            let file = std::fs::File::create(&out).unwrap();
            let mut child = Command::new(concord_bin())
                .env("WHO", format!("c{i}"))
                .arg("lock")
                .arg(format!("-http-addr={addr}"))
                .args(&flags)
                .args(["jobs/nightly", &script])
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .expect("concord lock starts");
            let status = child.wait().unwrap();
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            assert!(status.success(), "contender {i} round {round}: {text}");
        }
    })
}

/// The lock key's holder session as the server sees it ("" when unlocked or missing).
fn holder(server: &Agent, key: &str) -> String {
    let answer = match http(&server.http_addr(), "GET", &format!("/v1/kv/{key}"), b"") {
        Ok(answer) if answer.status == 200 => answer,
        _ => return String::new(),
    };
    let Some(at) = answer.body.find(r#""Session":""#) else {
        return String::new();
    };
    let rest = &answer.body[at + r#""Session":""#.len()..];
    rest.split('"').next().unwrap_or("").to_string()
}

fn wait_for_line(path: &Path, prefix: &str, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with(prefix)) {
            return Ok(line.to_string());
        }
        if Instant::now() >= deadline {
            return Err(text);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killing_the_holders_agent_frees_the_lock_only_after_invalidation_and_lock_delay() {
    let (dir, mut agents) = cluster("locks-killed", FIRST_IP_KILLED, 2);
    let delay = format!("{}s", LOCK_DELAY.as_secs());
    let flags = ["-lock-delay", delay.as_str()];
    let marks = dir.join("marks.log");
    let first = format!(
        "echo held1 $$ >> {m}; sleep 600; echo after-sleep >> {m}",
        m = marks.display()
    );
    let holder_cmd = spawn_lock(
        &agents[1].http_addr(),
        &flags,
        "svc/db",
        &first,
        &dir.join("holder.out"),
    );
    let held1 =
        wait_for_line(&marks, "held1", Duration::from_secs(20)).expect("the first lock is held");
    let shell_pid: i32 = held1.split_whitespace().nth(1).unwrap().parse().unwrap();
    let second = format!("echo held2 $(date +%s%N) >> {}", marks.display());
    let waiter = spawn_lock(
        &agents[2].http_addr(),
        &flags,
        "svc/db",
        &second,
        &dir.join("waiter.out"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        wait_for_line(&marks, "held2", Duration::ZERO).is_err(),
        "both held the lock"
    );
    let session = holder(&agents[0], "svc/db/.lock");
    assert!(!session.is_empty(), "the lock key names its holder");

    agents[1].kill();
    let released_ns = eventually(
        Duration::from_secs(60),
        "the holder's session is gone",
        || {
            let now = now_ns();
            holder(&agents[0], "svc/db/.lock")
                .is_empty()
                .then_some(now)
                .ok_or("still held".to_string())
        },
    );
    let line = wait_for_line(&marks, "held2", Duration::from_secs(60))
        .unwrap_or_else(|text| panic!("the waiter never ran its child: {text}"));
    let started_ns: u128 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let after = Duration::from_nanos((started_ns.saturating_sub(released_ns)) as u64);
    assert!(
        started_ns + POLL_SLACK.as_nanos() >= released_ns + LOCK_DELAY.as_nanos(),
        "the waiter ran {after:?} after the release, within the {LOCK_DELAY:?} lock-delay"
    );
    let health = http(&agents[0].http_addr(), "GET", "/v1/health/node/c1", b"").unwrap();
    assert!(
        health.body.contains(r#""Status":"critical""#),
        "the session ended with c1's serfHealth critical: {}",
        health.body
    );
    let output = wait_output(waiter, Duration::from_secs(30), "the waiter");
    assert!(output.status.success(), "the waiter releases and exits 0");

    // The holder lost its lock: its child (and the child's own children) are stopped.
    let output = wait_output(holder_cmd, Duration::from_secs(30), "the holder");
    let text = std::fs::read_to_string(dir.join("holder.out")).unwrap();
    assert!(
        !output.status.success(),
        "a lost lock exits non-zero: {text}"
    );
    assert!(text.contains("Lock lost, killing child"), "{text}");
    assert!(
        unsafe { libc::kill(shell_pid, 0) } != 0,
        "the child still runs"
    );
    let marks_text = std::fs::read_to_string(&marks).unwrap();
    assert!(!marks_text.contains("after-sleep"), "{marks_text}");
}

/// The most holds that overlap at one instant.
fn most_at_once(holds: &[Hold]) -> usize {
    let mut edges: Vec<(u128, i32)> = holds
        .iter()
        .flat_map(|h| [(h.start_ns, 1), (h.end_ns, -1)])
        .collect();
    // At one instant an end comes before a start: touching holds do not overlap.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

#[test]
fn a_semaphore_admits_n_holders_and_a_terminated_holder_cleans_up() {
    const CONTENDERS: usize = 3;
    const SEMAPHORE_ROUNDS: usize = 4;
    let (dir, agents) = cluster("locks-semaphore", FIRST_IP_SEMAPHORE, 0);
    let log = dir.join("holds.log");
    let script = format!(
        "echo start $WHO $(date +%s%N) $CONCORD_LOCK_TOKEN >> {log}; sleep 0.5; \
         echo end $WHO $(date +%s%N) >> {log}",
        log = log.display()
    );
    let contenders: Vec<_> = (0..CONTENDERS)
        .map(|i| {
            let (addr, script) = (agents[0].http_addr(), script.clone());
            run_rounds_with(
                i,
                addr,
                script,
                dir.clone(),
                SEMAPHORE_ROUNDS,
                vec!["-n", "2"],
            )
        })
        .collect();
    for contender in contenders {
        contender.join().expect("a contender failed");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let holds = holds(&text);
    assert_eq!(holds.len(), CONTENDERS * SEMAPHORE_ROUNDS, "{text}");
    assert_eq!(most_at_once(&holds), 2, "two slots, both used:\n{text}");

    // SIGTERM while holding: the child's group is stopped, the slot released, keys removed.
    let marks = dir.join("marks.log");
    let child = format!("echo held $$ >> {}; sleep 600", marks.display());
    let out = dir.join("terminated.out");
    let holder = spawn_lock(
        &agents[0].http_addr(),
        &["-n", "2"],
        "jobs/nightly",
        &child,
        &out,
    );
    let line = wait_for_line(&marks, "held", Duration::from_secs(20)).expect("held");
    let shell_pid: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    unsafe { libc::kill(holder.id() as i32, libc::SIGTERM) };
    let output = wait_output(holder, Duration::from_secs(15), "the terminated holder");
    assert!(
        output.status.success(),
        "{}",
        std::fs::read_to_string(&out).unwrap()
    );
    assert!(
        unsafe { libc::kill(shell_pid, 0) } != 0,
        "the child still runs"
    );
    let left = http(
        &agents[0].http_addr(),
        "GET",
        "/v1/kv/jobs/nightly?recurse",
        b"",
    )
    .unwrap();
    assert_eq!(left.status, 404, "keys left behind: {}", left.body);
}
