//! The world a scenario runs in: named nodes running the real node runtime, faults on them
//! (kill, restart, pause, partitions, one-way cuts, latency, loss), and client requests through
//! the typed request API, recorded in the history. What both worlds share is here; the
//! machines and faults are in `sim.rs` (madsim nodes) and `real.rs` (real processes), with the
//! same method names, so every scenario verb reaches both through one `match`.

use crate::checker::Checker;
use crate::history::Recorder;
use crate::trace::Trace;
use concord_config::bind::Interface;
use concord_config::layer::ConfigLayer;
use concord_config::plan::HostFacts;
use concord_core::agent::{ApiResult, Request};
use concord_core::membership::Role;
use concord_core::rng::Rng;
use concord_node::NodeConfig;
use concord_node::PlantedBug;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(madsim))]
mod real;
#[cfg(madsim)]
mod sim;
#[cfg(not(madsim))]
pub use real::{RealBackend, RealNode, RealOptions};
#[cfg(madsim)]
pub use sim::{SimFaults, SimNode};

/// A node of this build's world (a madsim node in the simulator, a process in the real one).
#[cfg(madsim)]
pub type Node = SimNode;
#[cfg(not(madsim))]
pub type Node = RealNode;

/// The handle that clients send a node's agent requests through.
#[cfg(madsim)]
pub type Handle = concord_node::NodeHandle;
#[cfg(not(madsim))]
pub type Handle = crate::real::machine::AgentHandle;

/// What this build's world holds besides the shared things.
#[cfg(madsim)]
type Backend = SimFaults;
#[cfg(not(madsim))]
type Backend = RealBackend;

/// A node as its `start` line configured it (through the configuration library, as
/// `concord agent` configures a real one), before the world adds its own things.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// The library's node configuration (`data_dir` names the simulated disk; `None` is
    /// `-dev`: a memory disk that a restart empties).
    pub config: NodeConfig,
    /// `config.agent.role`, for the checkers.
    pub role: Role,
    /// The `start` line's flags, word for word (a real machine runs `concord agent` with them).
    pub flags: Vec<String>,
    /// Where the agent's HTTP API listens (its first address).
    pub http: Option<std::net::SocketAddr>,
}

impl NodeSpec {
    pub fn new(config: NodeConfig) -> NodeSpec {
        NodeSpec {
            role: config.agent.role,
            config,
            flags: Vec::new(),
            http: None,
        }
    }

    /// `-dev`: nothing survives the process.
    pub fn in_memory(&self) -> bool {
        self.config.data_dir.is_none()
    }
}

/// The simulator's snapshot threshold when a node's `start` line names none (a machine
/// setting, as if in the machine's config file: small, so that runs snapshot).
pub const SNAPSHOT_THRESHOLD_ENTRIES_DEFAULT: u64 = 64;
/// Every simulated machine's data dir unless `-data-dir` says otherwise (as a packaged
/// agent's config file would set it).
pub const DATA_DIR_DEFAULT: &str = "/var/lib/concord";

/// What every simulated machine's own config file says, under the `start` line's flags.
pub fn machine_layer() -> ConfigLayer {
    ConfigLayer {
        data_dir: Some(DATA_DIR_DEFAULT.to_string()),
        raft_snapshot_threshold: Some(SNAPSHOT_THRESHOLD_ENTRIES_DEFAULT),
        ..ConfigLayer::default()
    }
}

/// What a simulated machine tells the configuration library: its name is its hostname, and
/// it has one network interface.
pub fn host_facts(name: &str, ip: Ipv4Addr, seed: u64) -> HostFacts {
    HostFacts {
        hostname: name.to_string(),
        interfaces: vec![Interface {
            name: "eth0".to_string(),
            ip: IpAddr::V4(ip),
        }],
        seed,
        quick_timings: true,
    }
}

/// A machine about to run a node (from `World::next_machine`).
#[derive(Clone, Debug)]
pub struct Machine {
    pub ip: Ipv4Addr,
    pub seed: u64,
    pub append_entries_max: usize,
    pub inflight_messages_max: usize,
}

pub struct World {
    pub nodes: BTreeMap<String, Node>,
    pub checker: Arc<Checker>,
    pub trace: Arc<Trace>,
    pub recorder: Recorder,
    pub rng: Rng,
    pub bug: PlantedBug,
    paused: BTreeSet<String>,
    /// The last client id handed out (0 is the scenario's own client).
    pub next_client: u64,
    pub seed: u64,
    /// The resource the lock clients fence their writes on (`fencing.rs`).
    pub fencing: crate::fencing::SharedResource,
    /// How long a lock abandoned by a load's client may stay held: 2 x its session TTL plus
    /// its lock-delay, the largest of every load so far (`check-locks` waits that and more).
    pub lock_bound_ms: u64,
    /// Deadlines (`within D`) are scaled by this, in percent: 100 in the simulator.
    pub time_factor_percent: u64,
    /// Whether the checkers see inside every node (the simulator's observer) or only the
    /// history and the agents' logs (the real world).
    pub observed: bool,
    /// The scenario line running now, and how long each `expect ... within D` line took to
    /// pass: (line, milliseconds, the bound after scaling). Not traced, so a run's trace is
    /// the same with or without them; `--margins` prints them (the model against reality).
    pub line: usize,
    pub margins: Vec<Margin>,
    backend: Backend,
}

/// How long one `expect ... within D` took to pass.
#[derive(Clone, Debug)]
pub struct Margin {
    pub line: usize,
    pub took_ms: u64,
    pub bound_ms: u64,
}

impl World {
    fn with_backend(seed: u64, bug: PlantedBug, backend: Backend) -> World {
        let trace = Arc::new(Trace::new());
        World {
            nodes: BTreeMap::new(),
            checker: Arc::new(Checker::new(trace.clone())),
            recorder: Recorder::new(trace.clone()),
            trace,
            rng: Rng::new(seed ^ 0x5eed),
            bug,
            paused: BTreeSet::new(),
            next_client: 0,
            seed,
            fencing: Arc::default(),
            lock_bound_ms: 0,
            time_factor_percent: 100,
            observed: true,
            line: 0,
            margins: Vec::new(),
            backend,
        }
    }

    /// The next machine: its address, and the draws of the world's PRNG for its node (in
    /// the order they have always been drawn, so that seeds keep their runs).
    pub fn next_machine(&mut self) -> Machine {
        let ip = self.machine_address(self.nodes.len());
        // The configuration is fuzzed too: small batches and pipelines make for more
        // interleavings (and are settings a user may choose).
        let append_entries_max = [1, 2, 4, 64, 256][self.rng.range(0, 5) as usize];
        let inflight_messages_max = [1, 2, 8][self.rng.range(0, 3) as usize];
        Machine {
            ip,
            seed: self.rng.next_u64(),
            append_entries_max,
            inflight_messages_max,
        }
    }

    /// A scenario's time bound in this world (`within D`): scaled by the time factor, since
    /// real processes are slower than simulated ones. Waits and TTLs are the scenario, not
    /// a tolerance, and are never scaled.
    pub fn deadline(&self, bound: Duration) -> Duration {
        bound * self.time_factor_percent as u32 / 100
    }

    /// Simulated milliseconds since the world began (the recorder's clock, so history and
    /// scenario times agree).
    pub fn now_ms(&self) -> u64 {
        self.recorder.now_ms()
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .get(name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }

    /// Cuts every link between different groups, both ways.
    pub fn partition(&mut self, groups: &[Vec<String>]) {
        self.heal();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i == j {
                    continue;
                }
                for x in a {
                    for y in b {
                        self.cut(x, y);
                    }
                }
            }
        }
        self.trace.record(&format!("partition {groups:?}"));
    }

    /// Sends a request to `name`'s agent as the scenario's own client (client 0).
    pub async fn request(&mut self, name: &str, request: Request) -> ApiResult {
        let handle = self.handle(name);
        self.recorder.call(0, name, handle, request).await
    }

    /// Restarts every node that is down and resumes every paused one (the liveness phase).
    pub async fn revive_all(&mut self) {
        let paused: Vec<String> = std::mem::take(&mut self.paused).into_iter().collect();
        for name in paused {
            self.resume(&name);
        }
        let down: Vec<String> = self
            .nodes
            .values()
            .filter(|n| !n.up)
            .map(|n| n.name.clone())
            .collect();
        for name in down {
            self.restart(&name).await;
        }
    }

    /// Where to join `name` (its gossip address, with the port its flags chose).
    pub fn gossip_addr(&self, name: &str) -> String {
        self.node(name).spec.config.agent.gossip_addr.clone()
    }

    /// Nodes running and not paused: the ones that can answer now.
    pub fn nodes_answering(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.up && !self.paused.contains(&n.name))
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn servers_up(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.up && n.spec.role == Role::Server)
            .map(|n| n.name.clone())
            .collect()
    }
}
