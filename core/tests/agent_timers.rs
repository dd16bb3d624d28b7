//! The agent's timer table (`Agent::next_deadline_ms`) against the 10 ms grid it replaces.
//!
//! A discrete-event world of three servers and a client: messages arrive after random
//! latencies, requests at random times (joins, writes, a TTL session, a TTL check, a blocking
//! query, a join to nowhere that must time out); the client dies part way, a server leaves,
//! and at the end another dies so the last complains of no leader. The agents' periods are drawn per seed, so
//! no two timers stay in step (one would hide the other's absence from the table). Two
//! properties:
//!
//! 1. Skipping is lossless: whenever anything happens, a random agent whose deadline is still
//!    ahead is ticked at that moment; it must emit no action and keep its deadline. (A
//!    subsystem missing from the table fails this as soon as a probe lands between its real
//!    deadline and the announced one.) A tick at a deadline moves it past now (no busy loop).
//! 2. Ticking only at deadlines reaches the same milestones as ticking every 10 ms: a leader,
//!    every write committed, the session expired, the check critical, the blocking query and
//!    the failed join answered, the dead client detected by every server.
//!
//! Seeds: `TIMER_SEEDS=a..b` (default 0..6); each run prints its seed, a failure names it.

use concord_core::agent::local::{CheckInput, CheckKind, LocalOptions, LocalRequest};
use concord_core::agent::*;
use concord_core::catalog::{CheckRegistration, CheckStatus};
use concord_core::kv::KvCommand;
use concord_core::membership::{MemberStatus, Role};
use concord_core::raft::RaftRestore;
use concord_core::rng::Rng;
use concord_core::session::SessionSpec;
use std::collections::BTreeMap;

const SERVERS: [&str; 3] = ["s1", "s2", "s3"];
const CLIENT: &str = "c1";
const GRID_MS: u64 = 10;
const HORIZON_MS: u64 = 40_000;
const WRITES: u64 = 12;
const SESSION_TTL_MS: u64 = 10_000;
const CHECK_TTL_MS: u64 = 1_500;
const WATCH_WAIT_MS: u64 = 3_000;
const KILL_AT_MS: u64 = 15_000;
/// s3 leaves gracefully then (its removal from the voters commits first).
const LEAVE_AT_MS: u64 = 27_000;
/// s1 dies then: s2, the last of the two voters, has no leader and complains.
const QUORUM_LOST_AT_MS: u64 = 31_000;
/// Ticks of one agent at one instant before the test calls it a busy loop.
const SAME_INSTANT_TICKS_MAX: u32 = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Grid,
    Deadlines,
}

enum Event {
    Deliver {
        to: String,
        envelope: Envelope,
    },
    Request {
        to: String,
        tag: Tag,
        request: Request,
    },
    Tick {
        to: String,
    },
    GridTick,
    Kill {
        name: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
enum Tag {
    Join,
    Write,
    Session,
    Check,
    Watch,
    JoinNowhere,
    Leave,
}

/// When each milestone was reached (ms), if it was.
#[derive(Debug, Default)]
struct Milestones {
    leader_ms: Option<u64>,
    writes_committed: u64,
    session_created: Option<String>,
    session_expired_ms: Option<u64>,
    check_critical_ms: Option<u64>,
    watch_answered_ms: Option<u64>,
    join_failed_ms: Option<u64>,
    failure_detected_ms: Option<u64>,
    complaint_ms: Option<u64>,
    leave_completed_ms: Option<u64>,
    ticks: u64,
}

struct World {
    mode: Mode,
    seed: u64,
    rng: Rng,
    now_ms: u64,
    agents: BTreeMap<String, Agent>,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    armed_ms: BTreeMap<String, u64>,
    /// The last delivery time per (from, to): streams arrive in order.
    link_ms: BTreeMap<(String, String), u64>,
    tags: BTreeMap<(String, u64), Tag>,
    next_request_id: u64,
    same_instant: (String, u64, u32),
    reached: Milestones,
}

fn host_of(addr: &str) -> String {
    addr.split(':').next().unwrap_or(addr).to_string()
}

fn ttl_check() -> LocalRequest {
    let check = CheckInput {
        check: CheckRegistration {
            check_id: "beat".into(),
            name: "beat".into(),
            ..CheckRegistration::default()
        },
        kind: CheckKind::Ttl {
            ttl_ms: CHECK_TTL_MS,
        },
        interval_ms: 0,
        timeout_ms: 0,
        success_before_passing: 0,
        failures_before_critical: 0,
        deregister_critical_service_after_ms: 0,
    };
    LocalRequest::RegisterCheck {
        check: Box::new(check),
    }
}

impl World {
    fn new(seed: u64, mode: Mode) -> World {
        let mut world = World {
            mode,
            seed,
            rng: Rng::new(seed ^ 0x7173_e5ed),
            now_ms: 0,
            agents: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            armed_ms: BTreeMap::new(),
            link_ms: BTreeMap::new(),
            tags: BTreeMap::new(),
            next_request_id: 1,
            same_instant: (String::new(), 0, 0),
            reached: Milestones::default(),
        };
        for (i, name) in SERVERS.iter().chain([&CLIENT]).enumerate() {
            let role = if *name == CLIENT {
                Role::Client
            } else {
                Role::Server
            };
            let mut config = AgentConfig::new(name, name, role).fast();
            config.bootstrap_expect = if role == Role::Server { 3 } else { 0 };
            config.reconcile_interval_ms = world.rng.range(60, 400);
            config.complaint_interval_ms = world.rng.range(2_000, 6_000);
            config.membership.gossip_interval_ms = world.rng.range(50, 300);
            let mut agent = Agent::new(config, seed * 31 + i as u64, 0, RaftRestore::default());
            agent.set_local_options(LocalOptions {
                sync_enabled: true,
                ..LocalOptions::default()
            });
            world.agents.insert(name.to_string(), agent);
            world.arm(name);
        }
        world.plan();
        world
    }

    fn push(&mut self, at_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at_ms, self.seq), event);
    }

    /// The scenario, at random times drawn from the seed (the same in both modes).
    fn plan(&mut self) {
        for name in ["s2", "s3", CLIENT] {
            let at = self.rng.range(0, 500);
            let request = Request::Join { addr: "s1".into() };
            self.push(
                at,
                Event::Request {
                    to: name.into(),
                    tag: Tag::Join,
                    request,
                },
            );
        }
        for i in 0..WRITES {
            let at = self.rng.range(4_000, 9_000);
            let to = SERVERS[self.rng.range(0, 3) as usize].to_string();
            let command = KvCommand::Set {
                key: format!("k{i}"),
                value: vec![1],
                flags: 0,
            };
            self.push(
                at,
                Event::Request {
                    to,
                    tag: Tag::Write,
                    request: Request::KvWrite { command },
                },
            );
        }
        let spec = SessionSpec {
            ttl: "10s".into(),
            ttl_ms: Some(SESSION_TTL_MS),
            ..SessionSpec::default()
        };
        let at = self.rng.range(5_000, 6_000);
        let request = Request::SessionCreate { spec };
        self.push(
            at,
            Event::Request {
                to: "s2".into(),
                tag: Tag::Session,
                request,
            },
        );
        let at = self.rng.range(3_000, 4_000);
        let request = Request::Local(ttl_check());
        self.push(
            at,
            Event::Request {
                to: "s3".into(),
                tag: Tag::Check,
                request,
            },
        );
        let read = WatchRead::KvGet {
            key: "never".into(),
            consistency: Consistency::Default,
        };
        let request = Request::Watch {
            index: 1_000_000,
            wait_ms: WATCH_WAIT_MS,
            read,
        };
        let at = self.rng.range(6_000, 7_000);
        self.push(
            at,
            Event::Request {
                to: "s1".into(),
                tag: Tag::Watch,
                request,
            },
        );
        let request = Request::Join {
            addr: "nowhere:8301".into(),
        };
        let at = self.rng.range(6_000, 7_000);
        self.push(
            at,
            Event::Request {
                to: "s2".into(),
                tag: Tag::JoinNowhere,
                request,
            },
        );
        let at = KILL_AT_MS + self.rng.range(0, 1_000);
        self.push(
            at,
            Event::Kill {
                name: CLIENT.into(),
            },
        );
        let at = LEAVE_AT_MS + self.rng.range(0, 1_000);
        let (to, tag) = ("s3".to_string(), Tag::Leave);
        self.push(
            at,
            Event::Request {
                to,
                tag,
                request: Request::Leave,
            },
        );
        let at = QUORUM_LOST_AT_MS + self.rng.range(0, 1_000);
        self.push(at, Event::Kill { name: "s1".into() });
        if self.mode == Mode::Grid {
            self.push(GRID_MS, Event::GridTick);
        }
    }

    fn run(mut self) -> Milestones {
        while let Some(((at_ms, _), event)) = self.queue.pop_first() {
            if at_ms > HORIZON_MS {
                break;
            }
            assert!(at_ms >= self.now_ms, "seed {}: time went back", self.seed);
            self.now_ms = at_ms;
            self.handle(event);
            if self.mode == Mode::Deadlines {
                self.probe_skipped_tick();
            }
            self.observe();
        }
        self.reached
    }

    fn handle(&mut self, event: Event) {
        let now_ms = self.now_ms;
        match event {
            Event::Deliver { to, envelope } => {
                let Some(agent) = self.agents.get_mut(&to) else {
                    return;
                };
                agent.handle_message(now_ms, envelope);
                self.after_input(&to);
            }
            Event::Request { to, tag, request } => {
                let id = self.next_request_id;
                self.next_request_id += 1;
                let Some(agent) = self.agents.get_mut(&to) else {
                    return;
                };
                self.tags.insert((to.clone(), id), tag);
                agent.handle_request(now_ms, id, request);
                self.after_input(&to);
            }
            Event::Tick { to } => {
                if self.armed_ms.get(&to) == Some(&now_ms) {
                    self.armed_ms.remove(&to);
                    self.tick(&to);
                }
            }
            Event::GridTick => {
                let names: Vec<String> = self.agents.keys().cloned().collect();
                for name in names {
                    self.tick(&name);
                }
                self.push(now_ms + GRID_MS, Event::GridTick);
            }
            Event::Kill { name } => {
                self.agents.remove(&name);
                self.armed_ms.remove(&name);
            }
        }
    }

    fn tick(&mut self, name: &str) {
        let now_ms = self.now_ms;
        self.reached.ticks += 1;
        let agent = self.agents.get_mut(name).expect("ticked agents are up");
        agent.tick(now_ms);
        self.after_input(name);
        let Some(agent) = self.agents.get(name) else {
            return; // it left
        };
        if self.mode == Mode::Deadlines {
            let next_ms = agent.next_deadline_ms();
            let (last, at, n) = &mut self.same_instant;
            if *last == name && *at == now_ms {
                *n += 1;
            } else {
                (*last, *at, *n) = (name.to_string(), now_ms, 1);
            }
            assert!(
                *n <= SAME_INSTANT_TICKS_MAX,
                "seed {}: {name} is due again at once after ticking at {now_ms} (next {next_ms}): a busy loop",
                self.seed
            );
        }
    }

    /// Polls `name` until idle, executes its actions, and (deadlines) re-arms its timer.
    fn after_input(&mut self, name: &str) {
        for _ in 0..64 {
            let Some(agent) = self.agents.get_mut(name) else {
                return; // it left
            };
            let actions = agent.poll();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                self.execute(name, action);
            }
        }
        if self.mode == Mode::Deadlines {
            self.arm(name);
        }
    }

    fn arm(&mut self, name: &str) {
        let Some(agent) = self.agents.get(name) else {
            return;
        };
        let at_ms = agent.next_deadline_ms().max(self.now_ms);
        if self.armed_ms.get(name) != Some(&at_ms) {
            self.armed_ms.insert(name.to_string(), at_ms);
            self.push(
                at_ms,
                Event::Tick {
                    to: name.to_string(),
                },
            );
        }
    }

    fn execute(&mut self, name: &str, action: Action) {
        match action {
            Action::Persist { entries, .. } => {
                let agent = self.agents.get_mut(name);
                if let (Some(last), Some(agent)) = (entries.last(), agent) {
                    agent.on_persisted(last.index, last.term);
                }
            }
            Action::Send { to, envelope } | Action::SendDatagram { to, envelope } => {
                let to = host_of(&to);
                let link = (name.to_string(), to.clone());
                let latency_ms = self.rng.range(1, 16);
                let at_ms =
                    (self.now_ms + latency_ms).max(self.link_ms.get(&link).copied().unwrap_or(0));
                self.link_ms.insert(link, at_ms);
                self.push(at_ms, Event::Deliver { to, envelope });
            }
            Action::Reply { request_id, result } => self.on_reply(name, request_id, result),
            Action::Log { level, message } => {
                let quorum_lost = self.agents.len() == 1 && self.reached.complaint_ms.is_none();
                if quorum_lost && level == LogLevel::Error && message.contains("No cluster leader")
                {
                    self.reached.complaint_ms = Some(self.now_ms);
                }
            }
            Action::SaveSnapshot(_) | Action::PersistLocal { .. } => {}
            Action::LeaveComplete => {
                self.reached.leave_completed_ms = Some(self.now_ms);
                self.agents.remove(name);
                self.armed_ms.remove(name);
            }
        }
    }

    fn on_reply(&mut self, name: &str, request_id: u64, result: ApiResult) {
        let Some(tag) = self.tags.remove(&(name.to_string(), request_id)) else {
            return;
        };
        let now_ms = Some(self.now_ms);
        match (tag, result) {
            (Tag::Write, Ok(Response::KvWritten { applied: true, .. })) => {
                self.reached.writes_committed += 1
            }
            (Tag::Session, Ok(Response::SessionCreated { id })) => {
                self.reached.session_created = Some(id)
            }
            (Tag::Watch, Ok(_)) => self.reached.watch_answered_ms = now_ms,
            (Tag::JoinNowhere, Err(ApiError::JoinFailed(_))) => {
                self.reached.join_failed_ms = now_ms
            }
            (Tag::Join | Tag::Check | Tag::Leave, Ok(_)) => {}
            (tag, other) => panic!(
                "seed {} ({:?}): {tag:?} on {name}: {other:?}",
                self.seed, self.mode
            ),
        }
    }

    /// Ticks a random agent now, before its deadline: it must do nothing at all.
    fn probe_skipped_tick(&mut self) {
        let names: Vec<String> = self.agents.keys().cloned().collect();
        let name = &names[self.rng.range(0, names.len() as u64) as usize];
        let now_ms = self.now_ms;
        let agent = self.agents.get_mut(name).expect("listed");
        let before_ms = agent.next_deadline_ms();
        if before_ms <= now_ms {
            return;
        }
        agent.tick(now_ms);
        let actions = agent.poll();
        let after_ms = agent.next_deadline_ms();
        assert!(
            actions.is_empty() && after_ms == before_ms,
            "seed {}: {name} ticked at {now_ms}, before its deadline {before_ms}, did something \
             (deadline now {after_ms}): {actions:?}",
            self.seed
        );
    }

    fn observe(&mut self) {
        let now_ms = Some(self.now_ms);
        let servers = || SERVERS.iter().filter_map(|s| self.agents.get(*s));
        if self.reached.leader_ms.is_none() {
            let leaders: Vec<_> = servers()
                .map(|a| a.raft().and_then(|r| r.leader()).cloned())
                .collect();
            if leaders.iter().all(|l| l.is_some() && *l == leaders[0]) {
                self.reached.leader_ms = now_ms;
            }
        }
        if let (Some(id), None) = (
            &self.reached.session_created,
            self.reached.session_expired_ms,
        ) {
            if servers().all(|a| a.state().sessions().get(id).is_none()) {
                self.reached.session_expired_ms = now_ms;
            }
        }
        let check = self
            .agents
            .get("s3")
            .and_then(|a| a.local().checks.get("beat"));
        if self.reached.check_critical_ms.is_none()
            && check.is_some_and(|c| c.status() == CheckStatus::Critical)
        {
            self.reached.check_critical_ms = now_ms;
        }
        if self.reached.failure_detected_ms.is_none() && !self.agents.contains_key(CLIENT) {
            let failed = |a: &Agent| a.membership().status(CLIENT, 0) == Some(MemberStatus::Failed);
            if servers().all(failed) {
                self.reached.failure_detected_ms = now_ms;
            }
        }
    }
}

fn seeds() -> std::ops::Range<u64> {
    let spec = std::env::var("TIMER_SEEDS").unwrap_or_else(|_| "0..6".into());
    let (a, b) = spec.split_once("..").expect("TIMER_SEEDS=a..b");
    a.parse().expect("a number")..b.parse().expect("a number")
}

fn assert_all_reached(seed: u64, mode: Mode, m: &Milestones) {
    let ctx = format!("seed {seed} ({mode:?}): {m:?}");
    assert!(
        m.leader_ms.is_some_and(|t| t < 4_000),
        "no leader in time: {ctx}"
    );
    assert_eq!(m.writes_committed, WRITES, "writes lost: {ctx}");
    assert!(
        m.session_expired_ms.is_some(),
        "session never expired: {ctx}"
    );
    assert!(
        m.check_critical_ms.is_some(),
        "check never went critical: {ctx}"
    );
    assert!(
        m.watch_answered_ms.is_some(),
        "blocking query never answered: {ctx}"
    );
    assert!(
        m.join_failed_ms.is_some(),
        "join to nowhere never failed: {ctx}"
    );
    assert!(
        m.failure_detected_ms.is_some(),
        "dead client never detected: {ctx}"
    );
    assert!(m.leave_completed_ms.is_some(), "s3 never left: {ctx}");
    assert!(
        m.complaint_ms.is_some(),
        "no complaint without a leader: {ctx}"
    );
}

#[test]
fn ticks_before_the_deadline_do_nothing_and_deadlines_reach_the_grids_milestones() {
    for seed in seeds() {
        eprintln!("agent_timers: seed {seed}");
        let grid = World::new(seed, Mode::Grid).run();
        assert_all_reached(seed, Mode::Grid, &grid);
        let deadlines = World::new(seed, Mode::Deadlines).run();
        assert_all_reached(seed, Mode::Deadlines, &deadlines);
        // Timers fire on time, not up to a grid step late: never later than the grid's by
        // more than the randomness of elections and gossip could explain.
        let (g, d) = (&grid, &deadlines);
        for (what, g, d) in [
            ("expiry", g.session_expired_ms, d.session_expired_ms),
            ("check", g.check_critical_ms, d.check_critical_ms),
        ] {
            let (g, d) = (g.unwrap(), d.unwrap());
            assert!(
                d <= g + 1_000,
                "seed {seed}: {what} at {d} ms with deadlines, {g} on the grid"
            );
        }
        assert!(
            d.ticks * 2 < g.ticks,
            "seed {seed}: {} ticks with deadlines against {} on the grid",
            d.ticks,
            g.ticks
        );
        eprintln!(
            "agent_timers: seed {seed}: ticks {} (grid) -> {} (deadlines)",
            g.ticks, d.ticks
        );
    }
}
