//! The real world's machines and faults, with the simulated world's method names: each node
//! a `concord agent` process (`real/machine.rs`) in its own namespaces, joined by the
//! userspace switch (`real/net`). `kill` is SIGKILL, `restart` a new process on the same
//! directories, `pause`/`resume` SIGSTOP/SIGCONT, cuts, clogs, loss, latency, duplication and
//! reordering are the switch's. Checkers see histories and agents' logs, not nodes' insides.

use super::{NodeSpec, World};
use crate::real::logs::{LogTails, TAIL_POLL_MS};
use crate::real::machine::{self, AgentHandle, MachineSetup, Process};
use crate::real::net::{Connector, NetParams, Network};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The real world's own things.
pub struct RealBackend {
    pub network: Network,
    /// The world's number: its namespaces are `cr{W}-NAME`, its addresses 10.77.W.0/24.
    pub world_index: u8,
    /// Each machine's directory is `dir/NAME`.
    pub dir: PathBuf,
    /// The `concord` binary the machines run.
    pub bin: PathBuf,
    pub logs: LogTails,
    params: NetParams,
    tailer: tokio::task::JoinHandle<()>,
}

impl Drop for RealBackend {
    fn drop(&mut self) {
        self.tailer.abort();
    }
}

/// How the runner sets up a real world.
#[derive(Clone, Debug)]
pub struct RealOptions {
    pub world_index: u8,
    pub dir: PathBuf,
    pub bin: PathBuf,
    /// Deadlines (`within D`) are scaled by this, in percent (see README: real time is slower
    /// than simulated time for the same timings).
    pub time_factor_percent: u64,
}

pub struct RealNode {
    pub name: String,
    pub ip: Ipv4Addr,
    pub spec: NodeSpec,
    pub up: bool,
    /// The running agent's handle (`None` while it is down), shared with the load's clients.
    pub handle: Arc<Mutex<Option<AgentHandle>>>,
    setup: MachineSetup,
    connector: Connector,
    process: Option<Process>,
}

/// What a machine's own config file says (the simulator's `machine_layer`, as HCL).
/// `CONCORD_REAL_LOG_LEVEL` (say `debug`) adds the agents' log level, for reading a failure's
/// logs; unset, they log at the product's default.
fn machine_hcl() -> String {
    let mut hcl = format!(
        "data_dir = \"{}\"\nraft_snapshot_threshold = {}\n",
        super::DATA_DIR_DEFAULT,
        super::SNAPSHOT_THRESHOLD_ENTRIES_DEFAULT
    );
    if let Ok(level) = std::env::var("CONCORD_REAL_LOG_LEVEL") {
        hcl.push_str(&format!("log_level = {level:?}\n"));
    }
    hcl
}

impl World {
    /// A real world: its network up (leftovers of an earlier run of this world number
    /// swept), its logs followed.
    pub fn new_real(seed: u64, bug: concord_node::PlantedBug, options: RealOptions) -> World {
        let network = Network::new(options.world_index, seed).unwrap_or_else(|e| {
            panic!("cannot set up world {}'s network: {e}", options.world_index)
        });
        let _ = std::fs::remove_dir_all(&options.dir);
        let logs = LogTails::default();
        let backend = RealBackend {
            network,
            world_index: options.world_index,
            dir: options.dir,
            bin: options.bin,
            logs: logs.clone(),
            params: NetParams::default(),
            tailer: tokio::spawn(async {}),
        };
        let mut world = World::with_backend(seed, bug, backend);
        world.time_factor_percent = options.time_factor_percent;
        world.observed = false;
        let (checker, recorder) = (world.checker.clone(), world.recorder.clone());
        world.backend.tailer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(TAIL_POLL_MS)).await;
                logs.poll(&checker, recorder.now_ms());
            }
        });
        world
    }

    /// Machine `index`'s address.
    pub(super) fn machine_address(&self, index: usize) -> Ipv4Addr {
        Network::ip_of(self.backend.world_index, index)
    }

    /// Creates the machine and starts its agent; returns once the agent answers.
    pub async fn start(
        &mut self,
        name: &str,
        spec: NodeSpec,
        machine: super::Machine,
    ) -> Result<(), String> {
        if self.nodes.contains_key(name) {
            return Err(format!("node {name} exists already"));
        }
        let namespace = self
            .backend
            .network
            .add_node(name, machine.ip)
            .map_err(|e| format!("network for {name}: {e}"))?;
        let setup = self.machine_setup(name, namespace.clone(), &spec, &machine)?;
        setup
            .prepare(&machine_hcl())
            .map_err(|e| format!("{}: {e}", setup.root.display()))?;
        self.backend.logs.follow(name, setup.log_path());
        let node = RealNode {
            name: name.to_string(),
            ip: machine.ip,
            spec,
            up: false,
            handle: Arc::default(),
            connector: self.backend.network.connector(&namespace),
            setup,
            process: None,
        };
        self.nodes.insert(name.to_string(), node);
        self.trace.record(&format!("start {name} {}", machine.ip));
        self.launch(name).await
    }

    fn machine_setup(
        &self,
        name: &str,
        namespace: String,
        spec: &NodeSpec,
        machine: &super::Machine,
    ) -> Result<MachineSetup, String> {
        let http = spec
            .http
            .ok_or(format!("{name} has no HTTP address (ports.http = -1?)"))?;
        let mut env = vec![("CONCORD_QUICK_TIMINGS".into(), "1".into())];
        if self.bug != concord_node::PlantedBug::None {
            env.push(("CONCORD_PLANTED_BUG".into(), self.bug.name().into()));
        }
        let limits = format!(
            "{},{}",
            machine.append_entries_max, machine.inflight_messages_max
        );
        env.push(("CONCORD_TEST_RAFT_LIMITS".into(), limits));
        Ok(MachineSetup {
            name: name.to_string(),
            namespace,
            root: self.backend.dir.join(name),
            bin: self.backend.bin.clone(),
            flags: spec.flags.clone(),
            env,
            http,
        })
    }

    /// Starts the node's process and waits until its agent answers.
    async fn launch(&mut self, name: &str) -> Result<(), String> {
        let node = self.nodes.get_mut(name).expect("known node");
        assert!(node.process.is_none(), "{name} is started twice");
        let (process, handle) = node.setup.spawn(&node.connector)?;
        let log = node.setup.log_path();
        let waited = machine::wait_answering(name, &process, &handle, &log).await;
        node.process = Some(process);
        node.up = true;
        *node.handle.lock().expect("slot") = Some(handle);
        waited
    }

    /// Process death: SIGKILL. Unlike the simulator's, unsynced writes survive in the page
    /// cache (no power is lost).
    pub async fn kill(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        *node.handle.lock().expect("slot") = None;
        if let Some(mut process) = node.process.take() {
            process.kill().await;
        }
        node.up = false;
        self.paused.remove(name);
        self.trace.record(&format!("kill {name}"));
    }

    /// The node's process has exited by itself (after a graceful leave).
    pub fn mark_stopped(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        *node.handle.lock().expect("slot") = None;
        node.process = None;
        node.up = false;
    }

    /// Kills the node if it runs, then starts a new process on its directories; returns once
    /// the agent answers. A failed start is a failed run (a panic names the node and log).
    pub async fn restart(&mut self, name: &str) {
        if self.node(name).up {
            self.kill(name).await;
        }
        self.recorder.new_epoch(name);
        if let Err(e) = self.launch(name).await {
            panic!("restart {name}: {e}");
        }
        self.trace.record(&format!("restart {name}"));
    }

    pub fn pause(&mut self, name: &str) {
        if let Some(process) = &self.node(name).process {
            process.pause();
        }
        self.paused.insert(name.to_string());
        self.trace.record(&format!("pause {name}"));
    }

    pub fn resume(&mut self, name: &str) {
        if let Some(process) = &self.node(name).process {
            process.resume();
        }
        self.paused.remove(name);
        self.trace.record(&format!("resume {name}"));
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&mut self, from: &str, to: &str) {
        let (a, b) = (self.node(from).ip, self.node(to).ip);
        self.backend.network.cut(a, b);
    }

    pub fn clog(&mut self, name: &str) {
        self.backend.network.clog(self.node(name).ip);
        self.trace.record(&format!("clog {name}"));
    }

    pub fn unclog(&mut self, name: &str) {
        self.backend.network.unclog(self.node(name).ip);
        self.trace.record(&format!("unclog {name}"));
    }

    /// Ends every partition, cut and clog (loss and latency stay, as in the simulator).
    pub fn heal(&mut self) {
        self.backend.network.heal();
        self.trace.record("heal");
    }

    /// Duplicated and held-back packets (the simulator duplicates and delays whole messages;
    /// here TCP hides both from Raft, and only gossip's UDP sees them).
    pub fn set_chaos(&mut self, duplicate_per_mille: u64, delay_per_mille: u64, delay_ms_max: u64) {
        let params = &mut self.backend.params;
        params.dup_per_mille = duplicate_per_mille;
        params.reorder_per_mille = delay_per_mille;
        params.reorder_ms_max = delay_ms_max;
        self.backend.network.set_params(*params);
        self.trace.record(&format!(
            "chaos duplicate={duplicate_per_mille}/1000 delay={delay_per_mille}/1000 up to {delay_ms_max}ms"
        ));
    }

    /// Packet loss rate and latency range for every link.
    pub fn set_network(&mut self, loss_rate: f64, latency_ms: (u64, u64)) {
        let params = &mut self.backend.params;
        params.loss_per_mille = (loss_rate * 1000.0).round() as u64;
        params.latency_ms = (latency_ms.0, latency_ms.1.max(latency_ms.0));
        self.backend.network.set_params(*params);
        self.trace
            .record(&format!("network loss={loss_rate} latency={latency_ms:?}"));
    }

    pub fn handle(&self, name: &str) -> Option<AgentHandle> {
        self.node(name).handle.lock().expect("slot").clone()
    }

    /// Kills every agent (the world is over); the network goes with the backend.
    pub async fn shut_down(&mut self) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            let node = self.nodes.get_mut(&name).expect("listed");
            if let Some(process) = &node.process {
                process.resume();
            }
            if node.process.is_some() {
                self.kill(&name).await;
            }
        }
        self.backend
            .logs
            .poll(&self.checker, self.recorder.now_ms());
    }

    /// Where the machines' directories are.
    pub fn backend_dir(&self) -> PathBuf {
        self.backend.dir.clone()
    }

    /// The switch's counters, for the run's summary.
    pub fn network_counters(&self) -> String {
        self.backend.network.counters().to_string()
    }
}
