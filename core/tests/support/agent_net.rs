//! A network of `Agent`s for datadriven tests: addresses are the node names, every agent has
//! its own clock and in-memory storage, and time advances in steps of `STEP_MS`.

use concord_core::agent::*;
use concord_core::membership::Role;
use concord_core::raft::{Entry, HardState, RaftRestore, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

pub const STEP_MS: u64 = 10;

#[derive(Default, Clone)]
pub struct Disk {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

pub struct Host {
    pub agent: Option<Agent>,
    pub config: AgentConfig,
    pub disk: Disk,
    pub replies: BTreeMap<u64, ApiResult>,
}

pub struct AgentNet {
    pub hosts: BTreeMap<String, Host>,
    pub now_ms: u64,
    pub blocked: BTreeSet<(String, String)>,
    pub in_flight: Vec<(String, String, Envelope)>,
    /// (from, to, kind) of messages held back instead of delivered (`hold`), to reorder them.
    pub hold_rules: BTreeSet<(String, String, String)>,
    /// Held messages as (to, from, envelope), in the order they were sent.
    pub held: Vec<(String, String, Envelope)>,
    pub next_request_id: u64,
    pub seed: u64,
}

/// A message's kind for `hold`: the Raft body's or wire kind, and `Bootstrap.Commit` etc.
pub fn hold_kind(msg: &WireMessage) -> String {
    match msg {
        WireMessage::Bootstrap(BootstrapMessage::Propose { .. }) => "Bootstrap.Propose".into(),
        WireMessage::Bootstrap(BootstrapMessage::Promise { .. }) => "Bootstrap.Promise".into(),
        WireMessage::Bootstrap(BootstrapMessage::Commit { .. }) => "Bootstrap.Commit".into(),
        other => other.kind().to_string(),
    }
}

fn host_of(addr: &str) -> String {
    addr.split(':').next().unwrap_or(addr).to_string()
}

impl AgentNet {
    pub fn new() -> AgentNet {
        AgentNet {
            hosts: BTreeMap::new(),
            now_ms: 0,
            blocked: BTreeSet::new(),
            in_flight: Vec::new(),
            hold_rules: BTreeSet::new(),
            held: Vec::new(),
            next_request_id: 1,
            seed: 1,
        }
    }

    pub fn add(&mut self, name: &str, role: Role, expect: u32) {
        let mut config = AgentConfig::new(name, name, role).fast();
        config.bootstrap_expect = expect;
        config.snapshot_threshold_entries = 16;
        let host = Host {
            agent: None,
            config,
            disk: Disk::default(),
            replies: BTreeMap::new(),
        };
        self.hosts.insert(name.to_string(), host);
        self.start(name);
    }

    pub fn start(&mut self, name: &str) {
        let now_ms = self.now_ms;
        let name_hash = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
        let seed = self.seed.wrapping_mul(7919) ^ name_hash ^ now_ms;
        let host = self.hosts.get_mut(name).expect("known host");
        let restore = RaftRestore {
            hard_state: host.disk.hard_state.clone(),
            snapshot: host.disk.snapshot.clone(),
            entries: host.disk.entries.clone(),
        };
        host.agent = Some(Agent::new(host.config.clone(), seed, now_ms, restore));
    }

    pub fn agent(&self, name: &str) -> &Agent {
        self.hosts[name]
            .agent
            .as_ref()
            .unwrap_or_else(|| panic!("{name} is down"))
    }

    pub fn request(&mut self, name: &str, request: Request) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        let now_ms = self.now_ms;
        let agent = self
            .hosts
            .get_mut(name)
            .unwrap()
            .agent
            .as_mut()
            .expect("agent is up");
        agent.handle_request(now_ms, id, request);
        id
    }

    /// Delivers the held messages of `kinds` from `from` to `to` (after those already in
    /// flight) and stops holding those kinds back.
    pub fn release(&mut self, from: &str, to: &str, kinds: &[&str]) {
        let (released, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(t, f, e)| {
                t == to && f == from && kinds.contains(&hold_kind(&e.msg).as_str())
            });
        self.held = kept;
        self.in_flight.extend(released);
        self.hold_rules
            .retain(|(f, t, k)| !(f == from && t == to && kinds.contains(&k.as_str())));
    }

    /// Advances time by `ms`, printing logs worth a reader's attention.
    pub fn run(&mut self, ms: u64, out: &mut String) {
        let steps = ms.div_ceil(STEP_MS);
        for _ in 0..steps {
            self.now_ms += STEP_MS;
            self.step(out);
        }
    }

    fn step(&mut self, out: &mut String) {
        let now_ms = self.now_ms;
        for (to, from, envelope) in std::mem::take(&mut self.in_flight) {
            let Some(agent) = self.hosts.get_mut(&to).and_then(|h| h.agent.as_mut()) else {
                continue;
            };
            let rule = (from.clone(), to.clone(), hold_kind(&envelope.msg));
            if self.hold_rules.contains(&rule) {
                self.held.push((to, from, envelope));
            } else if !self.blocked.contains(&(from, to)) {
                agent.handle_message(now_ms, envelope);
            }
        }
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        for name in names {
            self.tick_one(&name, now_ms, out);
        }
    }

    fn tick_one(&mut self, name: &str, now_ms: u64, out: &mut String) {
        let host = self.hosts.get_mut(name).unwrap();
        let Some(mut agent) = host.agent.take() else {
            return;
        };
        agent.tick(now_ms);
        let mut alive = true;
        for _ in 0..4 {
            let actions = agent.poll();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                match action {
                    Action::SaveSnapshot(save) => {
                        host.disk.snapshot = Some(save.snapshot.clone());
                        host.disk.entries = save.retained_entries.clone();
                        host.disk.hard_state = save.hard_state.clone();
                    }
                    Action::Persist {
                        hard_state,
                        entries,
                        ..
                    } => {
                        if let Some(first) = entries.first() {
                            host.disk.entries.retain(|e| e.index < first.index);
                            host.disk.entries.extend(entries.iter().cloned());
                        }
                        if let Some(hs) = hard_state {
                            host.disk.hard_state = hs;
                        }
                        if let Some(last) = entries.last() {
                            agent.on_persisted(last.index, last.term);
                        }
                    }
                    // A datagram is delivered like a stream message here: this net does not lose.
                    Action::Send { to, envelope } | Action::SendDatagram { to, envelope } => {
                        self.in_flight
                            .push((host_of(&to), name.to_string(), envelope));
                    }
                    Action::Reply { request_id, result } => {
                        host.replies.insert(request_id, result);
                    }
                    Action::Log { level, message } => {
                        if level != LogLevel::Debug {
                            writeln!(out, "{:>6}ms {name}: [{level:?}] {message}", now_ms).unwrap();
                        }
                    }
                    Action::PersistLocal { .. } => {}
                    Action::LeaveComplete => {
                        writeln!(out, "{:>6}ms {name}: exits after leaving", now_ms).unwrap();
                        alive = false;
                    }
                }
            }
            if !alive {
                break;
            }
        }
        if alive {
            host.agent = Some(agent);
        }
    }

    /// Runs until `name` answered request `id` (at most `ms_max`); returns the answer.
    pub fn await_reply(
        &mut self,
        name: &str,
        id: u64,
        ms_max: u64,
        out: &mut String,
    ) -> Option<ApiResult> {
        let mut waited = 0;
        while waited <= ms_max {
            if let Some(result) = self.hosts.get_mut(name).unwrap().replies.remove(&id) {
                return Some(result);
            }
            self.run(STEP_MS, out);
            waited += STEP_MS;
        }
        None
    }
}
