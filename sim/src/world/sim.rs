//! The simulated world's machines and faults: named madsim nodes, each with its own IP, disk
//! and clock; kill, restart, pause, one-way cuts, clogs, latency, loss and message chaos.

use super::{Machine, NodeSpec, World};
use crate::checker::Checker;
use concord_node::storage::SimDisk;
use concord_node::transport::chaos::ChaosKnobs;
use concord_node::{Clock, Hooks, NodeConfig, NodeHandle, PlantedBug};
use madsim::runtime::Handle;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SimNode {
    pub name: String,
    pub ip: Ipv4Addr,
    pub id: madsim::task::NodeId,
    pub disk: SimDisk,
    pub handle: Arc<Mutex<Option<NodeHandle>>>,
    pub spec: NodeSpec,
    pub up: bool,
}

/// The simulated world's own things: the links and nodes clogged, and the message chaos
/// every node's transport shares.
#[derive(Default)]
pub struct SimFaults {
    clogged: BTreeSet<(String, String)>,
    clogged_nodes: BTreeSet<String>,
    /// Message duplication and reordering, shared by every node's transport.
    pub chaos: Arc<ChaosKnobs>,
}

impl World {
    pub fn new(seed: u64, bug: PlantedBug) -> World {
        World::with_backend(seed, bug, SimFaults::default())
    }

    /// Machine `index`'s address.
    pub(super) fn machine_address(&self, index: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, 0, index as u8 + 1)
    }

    /// Creates and starts a node on `machine`; returns once its agent takes requests.
    pub async fn start(
        &mut self,
        name: &str,
        spec: NodeSpec,
        machine: Machine,
    ) -> Result<(), String> {
        self.spawn(name, spec, machine)?;
        self.wait_up(name).await;
        Ok(())
    }

    /// Waits (a bounded while) until the node's agent is running.
    pub async fn wait_up(&self, name: &str) {
        for _ in 0..100 {
            if self.handle(name).is_some() {
                return;
            }
            madsim::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(super) fn spawn(
        &mut self,
        name: &str,
        spec: NodeSpec,
        machine: Machine,
    ) -> Result<(), String> {
        if self.nodes.contains_key(name) {
            return Err(format!("node {name} exists already"));
        }
        let ip = self.machine_ip(&spec.config, machine.ip)?;
        let disk = SimDisk::new();
        let slot = Arc::new(Mutex::new(None));
        let config = world_config(&spec.config, ip, &machine);
        let clock = (
            self.rng.range(0, 2000) as i64 - 1000,
            self.rng.range(0, 2001) as i64 - 1000,
        );
        let setup = NodeSetup {
            config,
            // `-dev` is in memory: each start of the process gets an empty disk.
            disk: (!spec.in_memory()).then(|| disk.clone()),
            slot: slot.clone(),
            clock,
            bug: self.bug,
            checker: self.checker.clone(),
            chaos: self.backend.chaos.clone(),
        };
        let id = build_node(name, ip, setup);
        let storage = match &spec.config.data_dir {
            Some(dir) => format!("data_dir={}", dir.display()),
            None => "in memory (-dev)".to_string(),
        };
        self.trace.record(&format!(
            "start {name} {ip} {storage} clock offset={}ms drift={}ppm",
            clock.0, clock.1
        ));
        let node = SimNode {
            name: name.to_string(),
            ip,
            id,
            disk,
            handle: slot,
            spec,
            up: true,
        };
        self.nodes.insert(name.to_string(), node);
        Ok(())
    }

    /// The machine's address: the one the node advertises (`-bind`, `-advertise`), so that
    /// those flags are not dropped; the world's own for loopback (`-dev`) or 0.0.0.0, since a
    /// simulated machine has one interface. Two machines cannot share an address.
    fn machine_ip(&self, config: &NodeConfig, own: Ipv4Addr) -> Result<Ipv4Addr, String> {
        let advertised = config
            .agent
            .gossip_addr
            .parse::<SocketAddr>()
            .map(|addr| addr.ip())
            .map_err(|e| format!("advertise address {}: {e}", config.agent.gossip_addr))?;
        let ip = match advertised {
            IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_unspecified() => v4,
            IpAddr::V4(_) => own,
            IpAddr::V6(v6) => return Err(format!("the simulator has no IPv6: {v6}")),
        };
        match self.nodes.values().find(|n| n.ip == ip) {
            Some(other) => Err(format!(
                "address {ip} is taken by node {} (give -bind another address)",
                other.name
            )),
            None => Ok(ip),
        }
    }

    /// Process death: the node stops at once; unsynced writes are lost or torn.
    pub async fn kill(&mut self, name: &str) {
        let draw = self.rng.next_u64();
        let node = self.nodes.get_mut(name).expect("known node");
        Handle::current().kill(node.id);
        *node.handle.lock().expect("slot") = None;
        node.up = false;
        let report = node.disk.crash(draw);
        self.trace.record(&format!("kill {name} ({report:?})"));
    }

    /// The node's process has exited by itself (after a graceful leave): its machine stops
    /// too, with nothing lost, since the process synced before it exited.
    pub fn mark_stopped(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        Handle::current().kill(node.id);
        node.up = false;
    }

    /// Starts a killed node again from its disk; returns once it takes requests.
    pub async fn restart(&mut self, name: &str) {
        self.respawn(name);
        self.wait_up(name).await;
    }

    /// Starts a killed node again without waiting for it (faults come at any moment).
    pub fn restart_later(&mut self, name: &str) {
        self.respawn(name);
    }

    fn respawn(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        if node.up {
            Handle::current().kill(node.id);
            node.disk.crash(0);
        }
        // The old process's handle must not be mistaken for the new one's.
        *node.handle.lock().expect("slot") = None;
        Handle::current().restart(node.id);
        self.recorder.new_epoch(name);
        node.up = true;
        self.trace.record(&format!("restart {name}"));
    }

    pub fn pause(&mut self, name: &str) {
        Handle::current().pause(self.node(name).id);
        self.paused.insert(name.to_string());
        self.trace.record(&format!("pause {name}"));
    }

    pub fn resume(&mut self, name: &str) {
        Handle::current().resume(self.node(name).id);
        self.paused.remove(name);
        self.trace.record(&format!("resume {name}"));
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&mut self, from: &str, to: &str) {
        let net = madsim::net::NetSim::current();
        net.clog_link(self.node(from).id, self.node(to).id);
        self.backend
            .clogged
            .insert((from.to_string(), to.to_string()));
    }

    /// Clogs every link of a node, both ways (swizzle-clogging clogs them one by one).
    pub fn clog(&mut self, name: &str) {
        madsim::net::NetSim::current().clog_node(self.node(name).id);
        self.backend.clogged_nodes.insert(name.to_string());
        self.trace.record(&format!("clog {name}"));
    }

    pub fn unclog(&mut self, name: &str) {
        madsim::net::NetSim::current().unclog_node(self.node(name).id);
        self.backend.clogged_nodes.remove(name);
        self.trace.record(&format!("unclog {name}"));
    }

    /// Ends every partition, cut and clog.
    pub fn heal(&mut self) {
        let net = madsim::net::NetSim::current();
        for name in std::mem::take(&mut self.backend.clogged_nodes) {
            net.unclog_node(self.node(&name).id);
        }
        for (from, to) in std::mem::take(&mut self.backend.clogged) {
            net.unclog_link(self.node(&from).id, self.node(&to).id);
        }
        self.trace.record("heal");
    }

    /// Per-thousand rates of duplicated and delayed (overtaken) messages.
    pub fn set_chaos(&mut self, duplicate_per_mille: u64, delay_per_mille: u64, delay_ms_max: u64) {
        self.backend
            .chaos
            .set(duplicate_per_mille, delay_per_mille, delay_ms_max);
        self.trace.record(&format!(
            "chaos duplicate={duplicate_per_mille}/1000 delay={delay_per_mille}/1000 up to {delay_ms_max}ms"
        ));
    }

    /// Packet loss rate and latency range for every link.
    pub fn set_network(&mut self, loss_rate: f64, latency_ms: (u64, u64)) {
        madsim::net::NetSim::current().update_config(|c| {
            c.packet_loss_rate = loss_rate;
            c.send_latency = Duration::from_millis(latency_ms.0)
                ..Duration::from_millis(latency_ms.1.max(latency_ms.0 + 1));
        });
        self.trace
            .record(&format!("network loss={loss_rate} latency={latency_ms:?}"));
    }

    pub fn handle(&self, name: &str) -> Option<NodeHandle> {
        self.node(name).handle.lock().expect("slot").clone()
    }
}

/// The library's node configuration with the world's things applied: the machine's address
/// and seed, and the fuzzed Raft batch and pipeline sizes.
fn world_config(config: &NodeConfig, ip: Ipv4Addr, machine: &Machine) -> NodeConfig {
    let mut config = config.clone();
    let ip = IpAddr::V4(ip);
    config.rpc_listen = SocketAddr::new(ip, config.rpc_listen.port());
    config.gossip_listen = SocketAddr::new(ip, config.gossip_listen.port());
    config.seed = machine.seed;
    let mut agent = config.agent.clone();
    agent.rpc_addr = SocketAddr::new(ip, config.rpc_listen.port()).to_string();
    agent.gossip_addr = SocketAddr::new(ip, config.gossip_listen.port()).to_string();
    // The quick timings came with the machine (`HostFacts::quick_timings`), under the
    // user's settings.
    agent.raft.append_entries_max = machine.append_entries_max;
    agent.raft.inflight_messages_max = machine.inflight_messages_max;
    config.agent = agent;
    config
}

/// Everything a simulated node's process needs, again at every restart.
#[derive(Clone)]
struct NodeSetup {
    config: NodeConfig,
    /// `None` for `-dev`: a fresh memory disk at every start.
    disk: Option<SimDisk>,
    slot: Arc<Mutex<Option<NodeHandle>>>,
    /// (offset ms, drift ppm)
    clock: (i64, i64),
    bug: PlantedBug,
    checker: Arc<Checker>,
    chaos: Arc<ChaosKnobs>,
}

/// Creates the madsim node whose init (run again on every restart) starts the real runtime.
fn build_node(name: &str, ip: Ipv4Addr, setup: NodeSetup) -> madsim::task::NodeId {
    let runtime = Handle::current();
    let node = runtime
        .create_node()
        .name(name)
        .ip(IpAddr::V4(ip))
        .init(move || {
            let setup = setup.clone();
            async move {
                let hooks = Hooks {
                    clock: Clock::skewed(setup.clock.0, setup.clock.1),
                    bug: setup.bug,
                    observer: Some(setup.checker),
                    chaos: Some(setup.chaos),
                };
                let disk = setup.disk.unwrap_or_default();
                match concord_node::start_with(setup.config, Box::new(disk), hooks).await {
                    Ok(handle) => {
                        *setup.slot.lock().expect("slot") = Some(handle.clone());
                        handle.stopped().await;
                        *setup.slot.lock().expect("slot") = None;
                    }
                    Err(e) => tracing::error!("node failed to start: {e}"),
                }
            }
        });
    node.build().id()
}

#[cfg(test)]
mod tests {
    use crate::runner::run_seed;
    use crate::scenario::run_scenario;
    use concord_node::PlantedBug;

    /// Runs a scenario; the failure, if any.
    fn run(text: &'static str, seed: u64) -> Option<String> {
        let outcome = run_seed(seed, PlantedBug::None, move |mut world| async move {
            let result = run_scenario(&mut world, text)
                .await
                .map_err(|f| format!("line {}: {}", f.line, f.reason));
            (world, result)
        });
        outcome.failure
    }

    const WRITE_KILL_RESTART: &str = "expect leader within 5s
kv put n k v
expect value n k v
kill n
restart n
expect leader within 5s
expect value n k v
";

    /// A real `-dev` agent keeps everything in memory: a restart starts empty. A server with
    /// a data dir finds its data again.
    #[test]
    fn dev_restarts_empty_and_a_data_dir_survives() {
        for seed in [1, 2] {
            let dev = format!("start n -dev\n{WRITE_KILL_RESTART}").leak();
            let failure = run(dev, seed).expect("a -dev node forgets its data on restart");
            assert!(
                failure.contains("k not found on n"),
                "seed {seed}: {failure}"
            );
            let disk = format!("start n -server -bootstrap -data-dir /d\n{WRITE_KILL_RESTART}");
            assert_eq!(run(disk.leak(), seed), None, "seed {seed}");
        }
    }
}
