//! Running a scenario line by line against the world.

use super::expect;
use super::parse::{parse_duration, parse_numbered, Line};
use crate::load::LoadMix;
use crate::world::{host_facts, machine_layer, NodeSpec, World};
use concord_config::PlannedAgent;
use concord_core::agent::{Consistency, Request};
use concord_core::kv::KvCommand;
use concord_core::session::{SESSION_TTL_MS_MAX, SESSION_TTL_MS_MIN};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A scenario line that failed, and why.
#[derive(Debug)]
pub struct Failure {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

pub struct Runner<'a> {
    pub world: &'a mut World,
    pub vars: BTreeMap<String, String>,
    /// Client load running in the background (`load-start` .. `load-wait`).
    pub loads: Vec<crate::load::Load>,
    /// Blocking reads running in the background (`blocking-get` .. `expect-wakes`).
    pub watches: super::blocking::Watches,
}

/// Runs every line; stops at the first failed expectation or safety violation.
pub async fn run_scenario(world: &mut World, text: &str) -> Result<(), Failure> {
    let lines = parse_numbered(text).map_err(|(line, reason)| Failure {
        line,
        text: text
            .lines()
            .nth(line - 1)
            .unwrap_or_default()
            .trim()
            .to_string(),
        reason,
    })?;
    check_agent_flags(&lines)?;
    let mut runner = Runner {
        world,
        vars: BTreeMap::new(),
        loads: Vec::new(),
        watches: Default::default(),
    };
    for line in lines {
        let fail = |reason: String| Failure {
            line: line.number,
            text: line.text.clone(),
            reason,
        };
        runner.world.line = line.number;
        let words = runner.substitute(&line).await.map_err(fail)?;
        runner
            .world
            .trace
            .record(&format!("line {}: {}", line.number, line.text));
        runner.step(&words).await.map_err(fail)?;
        let violations = runner.world.checker.violations();
        if let Some(v) = violations.first() {
            return Err(fail(format!("safety violation: {v}")));
        }
    }
    Ok(())
}

impl Runner<'_> {
    /// Replaces `$leader` (the current leader) and `$NAME` (a `let` variable).
    async fn substitute(&mut self, line: &Line) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        for word in &line.words {
            words.push(match word.strip_prefix('$') {
                Some("leader") => expect::current_leader(self.world).await?,
                Some(var) => self
                    .vars
                    .get(var)
                    .cloned()
                    .ok_or(format!("unknown variable ${var}"))?,
                None => word.clone(),
            });
        }
        Ok(words)
    }

    async fn step(&mut self, words: &[String]) -> Result<(), String> {
        let w: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        match w.as_slice() {
            ["start", name, flags @ ..] => {
                let machine = self.world.next_machine();
                let spec = node_spec(name, flags, machine.ip, machine.seed)?;
                self.world.start(name, spec, machine).await?
            }
            ["try-join", name, target] => {
                // Fuzz schedules join while faults last: a join that fails is part of the run.
                let addr = self.world.gossip_addr(target);
                let _ = self.world.request(name, Request::Join { addr }).await;
            }
            ["join", name, target] => {
                let addr = self.world.gossip_addr(target);
                self.world
                    .request(name, Request::Join { addr })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            ["leave", name] => self.leave(name).await?,
            ["force-leave", name, target, rest @ ..] => {
                let prune = match rest {
                    [] => false,
                    ["prune"] => true,
                    _ => {
                        return Err(format!(
                            "force-leave {name} {target}: only `prune` may follow"
                        ))
                    }
                };
                let request = Request::ForceLeave {
                    node: target.to_string(),
                    prune,
                };
                self.world
                    .request(name, request)
                    .await
                    .map_err(|e| format!("force-leave {target} on {name}: {e}"))?;
            }
            ["kill", name] => self.world.kill(name).await,
            ["restart", name] => self.world.restart(name).await,
            ["pause", name] => self.world.pause(name),
            ["resume", name] => self.world.resume(name),
            ["partition", groups @ ..] => self.world.partition(&split_groups(groups)),
            ["isolate", name] => {
                let others: Vec<String> = self
                    .world
                    .nodes
                    .keys()
                    .filter(|n| n != name)
                    .cloned()
                    .collect();
                self.world.partition(&[vec![name.to_string()], others]);
            }
            ["cut", from, to] => self.world.cut(from, to),
            ["heal"] => self.world.heal(),
            ["wait", d] => madsim::time::sleep(parse_duration(d)?).await,
            ["let", var, "=", value] => {
                self.vars.insert(var.to_string(), value.to_string());
            }
            ["clog", name] => self.world.clog(name),
            ["unclog", name] => self.world.unclog(name),
            ["network", settings @ ..] => self.network(settings)?,
            ["transfer-leader", target @ ..] => self.transfer_leader(target.first().copied()).await,
            ["revive"] => self.world.revive_all().await,
            _ => return self.step_clients(&w).await,
        }
        Ok(())
    }

    /// The lines that act as clients (requests, load, expectations) or judge the run.
    async fn step_clients(&mut self, w: &[&str]) -> Result<(), String> {
        match w {
            ["kv", "put", name, key, value] => self.kv_put(name, key, value).await?,
            ["kv", "delete", name, key] => {
                let command = KvCommand::Delete {
                    key: key.to_string(),
                };
                let result = self.world.request(name, Request::KvWrite { command }).await;
                result.map_err(|e| format!("kv delete {key} on {name} failed: {e}"))?;
            }
            ["load-start", settings @ ..] => {
                let clients = setting(settings, "clients")?.unwrap_or(3);
                let ops = setting(settings, "ops")?.unwrap_or(10);
                let load = self.world.start_load(clients, ops, load_mix(settings)?);
                self.loads.push(load);
            }
            ["load-wait"] => self.wait_loads().await,
            ["check"] => {
                // Every operation must be in the history before it is judged.
                self.wait_loads().await;
                crate::checker::final_checks(self.world)?
            }
            ["expect", rest @ ..] => expect::run(self.world, rest).await?,
            [command, ..] if super::blocking::handles(command) => {
                super::blocking::run(self.world, &mut self.watches, w).await?
            }
            [command, ..] if super::aimed::handles(command) => {
                super::aimed::run(self.world, w).await?
            }
            [command, ..] if super::discovery::handles(command) => {
                super::discovery::run(self.world, w).await?
            }
            [command, ..] if super::health::handles(command) => {
                super::health::run(self.world, w).await?
            }
            [command, ..] if super::coordination::handles(command) => {
                if *command == "check-locks" {
                    self.wait_loads().await;
                }
                super::coordination::run(self.world, &mut self.vars, w).await?
            }
            ["check-catalog"] => {
                self.wait_loads().await;
                crate::checker::catalog_synced::check(self.world).await?
            }
            _ => return Err(format!("unknown command: {}", w.join(" "))),
        }
        Ok(())
    }

    async fn wait_loads(&mut self) {
        for load in std::mem::take(&mut self.loads) {
            load.wait().await;
        }
    }

    fn network(&mut self, settings: &[&str]) -> Result<(), String> {
        let loss_percent = setting(settings, "loss%")?.unwrap_or(0);
        let latency = settings
            .iter()
            .find_map(|s| s.strip_prefix("latency="))
            .unwrap_or("1..5");
        let (low, high) = latency
            .split_once("..")
            .ok_or(format!("bad latency {latency} (use LOW..HIGH ms)"))?;
        let low: u64 = low.parse().map_err(|_| format!("bad latency {latency}"))?;
        let high: u64 = high.parse().map_err(|_| format!("bad latency {latency}"))?;
        self.world
            .set_network(loss_percent as f64 / 100.0, (low, high));
        // Duplicated and reordered (held back, overtaken) frames; unset means none.
        let dup_percent = setting(settings, "dup%")?.unwrap_or(0);
        let reorder_percent = setting(settings, "reorder%")?.unwrap_or(0);
        let reorder_ms = setting(settings, "reorder-ms")?.unwrap_or(REORDER_MS_DEFAULT);
        if dup_percent > 100 || reorder_percent > 100 || reorder_ms == 0 {
            return Err("dup% and reorder% must be 0..=100, reorder-ms positive".into());
        }
        self.world
            .set_chaos(dup_percent * 10, reorder_percent * 10, reorder_ms);
        Ok(())
    }

    /// Asks the cluster (through any running server) to hand leadership to `target` (or any).
    async fn transfer_leader(&mut self, target: Option<&str>) {
        let Some(server) = self.world.servers_up().first().cloned() else {
            return;
        };
        let request = Request::RaftTransferLeader {
            target: target.map(String::from),
        };
        let _ = self.world.request(&server, request).await;
    }

    async fn kv_put(&mut self, name: &str, key: &str, value: &str) -> Result<(), String> {
        let command = KvCommand::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            flags: 0,
        };
        match self.world.request(name, Request::KvWrite { command }).await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("kv put {key} on {name} failed: {e}")),
        }
    }

    /// Ctrl+C: a graceful leave, then the process exits.
    async fn leave(&mut self, name: &str) -> Result<(), String> {
        self.world
            .request(name, Request::Leave)
            .await
            .map_err(|e| format!("leave on {name}: {e}"))?;
        if let Some(handle) = self.world.handle(name) {
            handle.stopped().await;
        }
        self.world.mark_stopped(name);
        Ok(())
    }
}

/// How long a reordered frame is held back at most, unless `reorder-ms=` says.
const REORDER_MS_DEFAULT: u64 = 50;

/// The lock clients' lock-delay unless `lock-delay-ms=` says: Consul's default, 15 s.
const LOCK_DELAY_MS_DEFAULT: u64 = 15_000;
/// The lock clients' session TTL unless `session-ttl-s=` says: the shortest Consul takes.
const SESSION_TTL_S_DEFAULT: u64 = 10;

/// The `load-start` percentages of operations beyond set, delete and get.
fn load_mix(settings: &[&str]) -> Result<LoadMix, String> {
    let [cas, delete_cas, tree, large, service, lock, txn, lock_delay, ttl] = LoadMix::SETTINGS;
    let ttl_s = setting(settings, ttl)?.unwrap_or(SESSION_TTL_S_DEFAULT);
    let mix = LoadMix {
        cas_percent: setting(settings, cas)?.unwrap_or(0),
        delete_cas_percent: setting(settings, delete_cas)?.unwrap_or(0),
        tree_percent: setting(settings, tree)?.unwrap_or(0),
        large_percent: setting(settings, large)?.unwrap_or(0),
        service_percent: setting(settings, service)?.unwrap_or(0),
        lock_percent: setting(settings, lock)?.unwrap_or(0),
        txn_percent: setting(settings, txn)?.unwrap_or(0),
        lock_delay_ms: setting(settings, lock_delay)?.unwrap_or(LOCK_DELAY_MS_DEFAULT),
        session_ttl_ms: ttl_s.saturating_mul(1_000),
    };
    if mix.service_percent > 100 {
        return Err(format!("{service} is {}, over 100", mix.service_percent));
    }
    if mix.coordination_percent() > 100 {
        return Err(format!("{lock} and {txn} add up to over 100"));
    }
    let (ttl_min_ms, ttl_max_ms) = (SESSION_TTL_MS_MIN, SESSION_TTL_MS_MAX);
    if !(ttl_min_ms..=ttl_max_ms).contains(&mix.session_ttl_ms) {
        return Err(format!(
            "{ttl}={ttl_s} is outside Consul's session TTLs ({}..={} s)",
            ttl_min_ms / 1_000,
            ttl_max_ms / 1_000
        ));
    }
    let extra = mix.cas_percent + mix.delete_cas_percent + mix.tree_percent;
    if extra > 100 || mix.large_percent > 100 {
        return Err(format!(
            "{cas}, {delete_cas} and {tree} add up to {extra}, over 100"
        ));
    }
    Ok(mix)
}

/// Every `start` line's agent flags are checked before the first line runs, so a bad flag
/// is reported with its line at parse time, not halfway through a run.
fn check_agent_flags(lines: &[Line]) -> Result<(), Failure> {
    for line in lines {
        let words: Vec<&str> = line.words.iter().map(|s| s.as_str()).collect();
        if let ["start", name, flags @ ..] = words.as_slice() {
            if flags.iter().any(|f| f.starts_with('$')) {
                continue;
            }
            node_spec(name, flags, CHECK_IP, 0).map_err(|reason| Failure {
                line: line.number,
                text: line.text.clone(),
                reason,
            })?;
        }
    }
    Ok(())
}

/// The machine address the parse-time check plans with (the world assigns the real one).
const CHECK_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);

/// A `start NAME FLAGS...` line's node: the flags go through the configuration library, as
/// `concord agent FLAGS...` does, on a machine named NAME whose own config file is the
/// world's `machine_layer` (a data dir, a small snapshot threshold). Every flag a user may
/// pass is accepted, and a refused one gets the user's error, word for word.
pub fn node_spec(name: &str, flags: &[&str], ip: Ipv4Addr, seed: u64) -> Result<NodeSpec, String> {
    let planned = plan_start(name, flags, ip, seed)?;
    let mut spec = NodeSpec::new(planned.plan.node);
    spec.flags = flags.iter().map(|f| f.to_string()).collect();
    spec.http = planned.plan.http_listen.first().copied();
    Ok(spec)
}

/// The whole plan of a `start` line (what `concord agent` would print and run), or the
/// error `concord agent` prints, without its trailing newline.
pub fn plan_start(
    name: &str,
    flags: &[&str],
    ip: Ipv4Addr,
    seed: u64,
) -> Result<PlannedAgent, String> {
    let words: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    concord_config::plan_agent(&words, machine_layer(), &host_facts(name, ip, seed))
        .map_err(|e| e.to_string().trim_end().to_string())
}

/// The number in `key=N` among `settings`, if given.
fn setting(settings: &[&str], key: &str) -> Result<Option<u64>, String> {
    let prefix = format!("{key}=");
    match settings
        .iter()
        .find_map(|s| s.strip_prefix(prefix.as_str()))
    {
        Some(v) => v.parse().map(Some).map_err(|_| format!("bad {key}={v}")),
        None => Ok(None),
    }
}

fn split_groups(words: &[&str]) -> Vec<Vec<String>> {
    words
        .split(|w| *w == "|")
        .map(|g| g.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Parses `default`, `consistent` or `stale`.
pub fn consistency(word: Option<&&str>) -> Result<Consistency, String> {
    match word.copied() {
        None | Some("default") => Ok(Consistency::Default),
        Some("consistent") => Ok(Consistency::Consistent),
        Some("stale") => Ok(Consistency::Stale),
        Some(other) => Err(format!("unknown consistency {other}")),
    }
}
