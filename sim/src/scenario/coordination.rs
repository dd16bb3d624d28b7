//! Sessions and locks in scenarios, as an application would use them through its agent:
//!
//! - `session-create NODE NAME [ttl=D] [lock-delay=D] [behavior=release|delete]
//!   [checks=none] [within D]`: a session on NODE's agent (checks: serfHealth unless `none`;
//!   retried until D if refused, as while NODE's serfHealth is still critical), known as
//!   NAME to the lines after (and as `$NAME`, its id). `session-renew NODE NAME [within D]`
//!   (retried: a new leader answers "catching up" for a moment), `session-destroy NODE NAME`.
//! - `lock-acquire NODE KEY NAME [within D]`: NAME's session takes KEY (retried until it does
//!   or D has passed) and writes the fenced resource with its token; `lock-try NODE KEY NAME`
//!   asks once and takes any answer; `lock-release NODE KEY NAME` must give it up.
//! - `expect-lock-free KEY [within D]`, `expect-lock-holder KEY NAME [within D]`: KEY's
//!   `Session` as a consistent read through a running server has it.
//! - `expect-session NAME live|gone [within D]`: `session/info` has it, or not.
//! - `check-locks` (the fuzzer's liveness phase): a fresh session takes every lock key of the
//!   load within `World::lock_bound_ms` (2 x the loads' session TTL plus their lock-delay: a
//!   lock a client walked away from is free by then) plus `CHECK_LOCKS_SLACK_MS`, counted
//!   again from a leader elected during the check (at most `CHECK_LOCKS_ELECTIONS_MAX` times).

use super::parse::parse_duration;
use crate::locks::{lock_key, LOCK_KEYS};
use crate::world::World;
use concord_core::agent::{ApiResult, Consistency, Request, Response};
use concord_core::kv::KvCommand;
use concord_core::session::{Behavior, SessionRead, SessionSpec};
use std::collections::BTreeMap;
use std::time::Duration;

const POLL_MS: u64 = 250;
/// What `check-locks` allows beyond the loads' own bound: elections after the faults end,
/// a session's invalidation reaching the log, requests that time out on the way.
pub const CHECK_LOCKS_SLACK_MS: u64 = 20_000;
/// A new leader restarts every session's timer at twice its TTL (Consul's
/// `initializeSessionTimers`: no session expires early across a leader change), so a lock
/// walked away from is free only a whole bound after the newest election. `check-locks`
/// counts its bound again from each election it sees, at most this many times: a cluster that
/// keeps electing leaders fails the check (seen against real processes, real fuzz seed 27: a
/// leader unheard for half a second on a loaded machine lost its term 2 s before the locks
/// came free).
pub const CHECK_LOCKS_ELECTIONS_MAX: u32 = 2;

pub fn handles(command: &str) -> bool {
    matches!(
        command,
        "session-create"
            | "session-renew"
            | "session-destroy"
            | "lock-acquire"
            | "lock-try"
            | "lock-release"
            | "expect-lock-free"
            | "expect-lock-holder"
            | "expect-session"
            | "check-locks"
    )
}

/// Runs one line (`words[0]` is the command); `vars` holds the sessions by name.
pub async fn run(
    world: &mut World,
    vars: &mut BTreeMap<String, String>,
    words: &[&str],
) -> Result<(), String> {
    let (words, within) = match words {
        [head @ .., "within", d] => (head, world.deadline(parse_duration(d)?)),
        _ => (words, Duration::ZERO),
    };
    match words {
        ["session-create", node, name, settings @ ..] => {
            let spec = session_spec(settings)?;
            let deadline_ms = world.now_ms() + within.as_millis() as u64;
            let id = loop {
                match create_session(world, node, spec.clone()).await {
                    Ok(id) => break id,
                    Err(why) if world.now_ms() >= deadline_ms => return Err(why),
                    Err(_) => madsim::time::sleep(Duration::from_millis(POLL_MS)).await,
                }
            };
            vars.insert(name.to_string(), id);
            Ok(())
        }
        ["check-locks"] => check_locks(world).await,
        _ => {
            let deadline_ms = world.now_ms() + within.as_millis() as u64;
            loop {
                let outcome = once(world, vars, words).await;
                if outcome.is_ok() || world.now_ms() >= deadline_ms {
                    return outcome;
                }
                madsim::time::sleep(Duration::from_millis(POLL_MS)).await;
            }
        }
    }
}

/// One try of a line that may be retried.
async fn once(
    world: &mut World,
    vars: &BTreeMap<String, String>,
    words: &[&str],
) -> Result<(), String> {
    let id = |name: &str| {
        vars.get(name)
            .cloned()
            .ok_or(format!("no session named {name}"))
    };
    match words {
        ["session-renew", node, name] => {
            let request = Request::SessionRenew { id: id(name)? };
            match world.request(node, request).await {
                Ok(Response::Sessions { .. }) => Ok(()),
                other => Err(format!("renew of {name} on {node}: {other:?}")),
            }
        }
        ["session-destroy", node, name] => {
            let request = Request::SessionDestroy { id: id(name)? };
            let result = world.request(node, request).await;
            result
                .map(|_| ())
                .map_err(|e| format!("destroy of {name}: {e}"))
        }
        ["lock-acquire", node, key, name] => match acquire(world, node, key, &id(name)?).await {
            Ok(true) => Ok(()),
            other => Err(format!(
                "{name} did not get {key} through {node}: {other:?}"
            )),
        },
        ["lock-try", node, key, name] => {
            let _ = acquire(world, node, key, &id(name)?).await;
            Ok(())
        }
        ["lock-release", node, key, name] => match release(world, node, key, &id(name)?).await {
            Ok(Response::KvWritten { applied: true, .. }) => Ok(()),
            other => Err(format!(
                "{name} did not release {key} through {node}: {other:?}"
            )),
        },
        ["expect-lock-free", key] => match holder(world, key).await? {
            None => Ok(()),
            Some(session) => Err(format!("{key} is held by session {session}")),
        },
        ["expect-lock-holder", key, name] => {
            let want = id(name)?;
            match holder(world, key).await? {
                Some(session) if session == want => Ok(()),
                other => Err(format!("{key} is held by {other:?}, not {name} ({want})")),
            }
        }
        ["expect-session", name, state @ ("live" | "gone")] => {
            let live = session_live(world, &id(name)?).await?;
            match (live, *state) {
                (true, "live") | (false, "gone") => Ok(()),
                _ => Err(format!("session {name} is not {state}")),
            }
        }
        _ => Err(format!("bad line: {}", words.join(" "))),
    }
}

/// A session spec from `ttl=D lock-delay=D behavior=B checks=none`.
fn session_spec(settings: &[&str]) -> Result<SessionSpec, String> {
    let mut spec = SessionSpec {
        name: "scenario".to_string(),
        ..SessionSpec::default()
    };
    for setting in settings {
        let (key, value) = setting
            .split_once('=')
            .ok_or(format!("bad setting {setting}"))?;
        match key {
            "ttl" => {
                let ttl_ms = parse_duration(value)?.as_millis() as u64;
                spec.ttl = format!("{}s", ttl_ms / 1_000);
                spec.ttl_ms = Some(ttl_ms);
            }
            "lock-delay" => {
                let ns = parse_duration(value)?.as_nanos();
                let too_long = || format!("lock-delay={value} is too long");
                spec.lock_delay_ns = u64::try_from(ns).map_err(|_| too_long())?;
            }
            "behavior" if value == "delete" => spec.behavior = Behavior::Delete,
            "behavior" if value == "release" => spec.behavior = Behavior::Release,
            "checks" if value == "none" => spec.node_checks.clear(),
            _ => return Err(format!("bad session setting {setting}")),
        }
    }
    Ok(spec)
}

async fn create_session(
    world: &mut World,
    node: &str,
    spec: SessionSpec,
) -> Result<String, String> {
    match world.request(node, Request::SessionCreate { spec }).await {
        Ok(Response::SessionCreated { id }) => Ok(id),
        other => Err(format!("session create on {node}: {other:?}")),
    }
}

/// An acquire of `key` by `session` through `node`; on `true`, the fenced resource is
/// written with the token (as the scenario's client, 0).
async fn acquire(world: &mut World, node: &str, key: &str, session: &str) -> Result<bool, String> {
    let command = KvCommand::Lock {
        key: key.to_string(),
        value: b"scenario".to_vec(),
        flags: 0,
        session: session.to_string(),
    };
    match world.request(node, Request::KvWrite { command }).await {
        Ok(Response::KvWritten { applied, index }) => {
            if applied {
                let now_ms = world.now_ms();
                let mut resource = world.fencing.lock().expect("fencing lock");
                resource.write(key, index, 0, session, now_ms);
            }
            Ok(applied)
        }
        other => Err(format!("{other:?}")),
    }
}

async fn release(world: &mut World, node: &str, key: &str, session: &str) -> ApiResult {
    let command = KvCommand::Unlock {
        key: key.to_string(),
        value: b"scenario".to_vec(),
        flags: 0,
        session: session.to_string(),
    };
    world.request(node, Request::KvWrite { command }).await
}

/// `key`'s Session, read consistently through the first running server that answers.
async fn holder(world: &mut World, key: &str) -> Result<Option<String>, String> {
    let mut last = "no server is running".to_string();
    for server in world.servers_up() {
        let request = Request::KvGet {
            key: key.to_string(),
            consistency: Consistency::Consistent,
        };
        match world.request(&server, request).await {
            Ok(Response::Kv { entries, .. }) => {
                return Ok(entries.first().and_then(|e| e.session.clone()))
            }
            other => last = format!("{server}: {other:?}"),
        }
    }
    Err(format!("no server read {key}: {last}"))
}

/// Whether `session/info` lists `id`, read consistently through the first server that answers.
async fn session_live(world: &mut World, id: &str) -> Result<bool, String> {
    let mut last = "no server is running".to_string();
    for server in world.servers_up() {
        let request = Request::Session {
            read: SessionRead::Info(id.to_string()),
            consistency: Consistency::Consistent,
        };
        match world.request(&server, request).await {
            Ok(Response::Sessions { sessions, .. }) => return Ok(!sessions.is_empty()),
            other => last = format!("{server}: {other:?}"),
        }
    }
    Err(format!("no server read session {id}: {last}"))
}

/// When `check-locks` gives up: its bound from the start, counted again from each leader
/// elected since (see `CHECK_LOCKS_ELECTIONS_MAX`). Pure: times and terms are passed in.
struct LocksDeadline {
    bound_ms: u64,
    deadline_ms: u64,
    term: Option<u64>,
    elections: u32,
}

impl LocksDeadline {
    fn new(bound_ms: u64, now_ms: u64, term: Option<u64>) -> LocksDeadline {
        assert!(bound_ms > 0);
        LocksDeadline {
            bound_ms,
            deadline_ms: now_ms + bound_ms,
            term,
            elections: 0,
        }
    }

    /// Whether the check has run out of time at `now_ms`, after moving the deadline if `term`
    /// (the newest leader's) is new.
    fn passed(&mut self, now_ms: u64, term: Option<u64>) -> bool {
        if term > self.term && self.elections < CHECK_LOCKS_ELECTIONS_MAX {
            self.term = term;
            self.elections += 1;
            self.deadline_ms = self.deadline_ms.max(now_ms + self.bound_ms);
        }
        assert!(self.elections <= CHECK_LOCKS_ELECTIONS_MAX);
        now_ms >= self.deadline_ms
    }

    fn passed_in(&mut self, world: &World) -> bool {
        self.passed(world.now_ms(), world.checker.latest_leader_term())
    }
}

/// Every load lock key is taken by a fresh session within the bound, then given back.
async fn check_locks(world: &mut World) -> Result<(), String> {
    let bound_ms = world.lock_bound_ms + CHECK_LOCKS_SLACK_MS;
    let term = world.checker.latest_leader_term();
    let mut deadline = LocksDeadline::new(bound_ms, world.now_ms(), term);
    let spec = SessionSpec {
        name: "check-locks".to_string(),
        lock_delay_ns: 0,
        node_checks: Vec::new(),
        ..SessionSpec::default()
    };
    let (server, session) = loop {
        let server = world
            .servers_up()
            .first()
            .cloned()
            .ok_or("no server is running")?;
        match create_session(world, &server, spec.clone()).await {
            Ok(id) => break (server, id),
            Err(why) if deadline.passed_in(world) => return Err(format!("check-locks: {why}")),
            Err(_) => madsim::time::sleep(Duration::from_millis(POLL_MS)).await,
        }
    };
    for key in (0..LOCK_KEYS).map(lock_key) {
        loop {
            let outcome = acquire(world, &server, &key, &session).await;
            if outcome == Ok(true) {
                break;
            }
            if deadline.passed_in(world) {
                let held = holder(world, &key).await;
                let (bound_ms, elections) = (deadline.bound_ms, deadline.elections);
                return Err(format!(
                    "check-locks: {key} not acquirable {bound_ms} ms after the load ended \
                     or the newest of {elections} elections since (last answer {outcome:?}, \
                     holder {held:?})"
                ));
            }
            madsim::time::sleep(Duration::from_millis(POLL_MS)).await;
        }
    }
    let request = Request::SessionDestroy { id: session };
    let _ = world.request(&server, request).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locks_bound_counts_again_from_each_election_up_to_the_maximum() {
        let mut deadline = LocksDeadline::new(50_000, 1_000, Some(4));
        assert!(!deadline.passed(50_999, Some(4)));
        assert!(
            deadline.passed(51_000, Some(4)),
            "no election: the bound from the start"
        );
        let mut deadline = LocksDeadline::new(50_000, 1_000, Some(4));
        assert!(!deadline.passed(30_000, Some(5)), "a new leader at 30 s");
        assert!(!deadline.passed(79_999, Some(5)));
        assert!(
            deadline.passed(80_000, Some(5)),
            "the bound from the election"
        );
    }

    #[test]
    fn elections_beyond_the_maximum_do_not_move_the_deadline() {
        let mut deadline = LocksDeadline::new(50_000, 0, None);
        let mut now_ms = 0;
        for term in 1..=u64::from(CHECK_LOCKS_ELECTIONS_MAX) {
            now_ms += 40_000;
            assert!(
                !deadline.passed(now_ms, Some(term)),
                "election {term} moves it"
            );
        }
        let last_moved_ms = now_ms + 50_000;
        now_ms += 40_000;
        let extra_term = u64::from(CHECK_LOCKS_ELECTIONS_MAX) + 1;
        assert!(!deadline.passed(now_ms, Some(extra_term)));
        assert!(
            deadline.passed(last_moved_ms, Some(extra_term)),
            "one election too many"
        );
    }
}
