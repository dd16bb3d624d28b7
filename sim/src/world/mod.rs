//! The world a scenario runs in: named nodes running the real node runtime, faults on them
//! (kill, restart, pause, partitions, one-way cuts, latency, loss), and client requests through
//! the typed request API, recorded in the history. What both worlds share is here; the
//! simulated machines and faults are in `sim.rs` (madsim), with the same method names that a
//! real-process backend will have.

#[cfg(madsim)]
use crate::checker::Checker;
#[cfg(madsim)]
use crate::history::Recorder;
#[cfg(madsim)]
use crate::trace::Trace;
use concord_config::bind::Interface;
use concord_config::layer::ConfigLayer;
use concord_config::plan::HostFacts;
#[cfg(madsim)]
use concord_core::agent::{ApiResult, Request};
use concord_core::membership::Role;
#[cfg(madsim)]
use concord_core::rng::Rng;
#[cfg(madsim)]
use concord_node::transport::chaos::ChaosKnobs;
use concord_node::NodeConfig;
#[cfg(madsim)]
use concord_node::PlantedBug;
#[cfg(madsim)]
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
#[cfg(madsim)]
use std::sync::Arc;
#[cfg(madsim)]
use std::time::Duration;

#[cfg(madsim)]
mod sim;
#[cfg(madsim)]
pub use sim::{Machine, SimNode};

/// A node of this build's world (a madsim node in the simulator).
#[cfg(madsim)]
pub type Node = SimNode;

/// The handle that clients send a node's agent requests through.
pub type Handle = concord_node::NodeHandle;

/// A node as its `start` line configured it (through the configuration library, as
/// `concord agent` configures a real one), before the world adds its own things.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// The library's node configuration (`data_dir` names the simulated disk; `None` is
    /// `-dev`: a memory disk that a restart empties).
    pub config: NodeConfig,
    /// `config.agent.role`, for the checkers.
    pub role: Role,
}

impl NodeSpec {
    pub fn new(config: NodeConfig) -> NodeSpec {
        NodeSpec {
            role: config.agent.role,
            config,
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

#[cfg(madsim)]
pub struct World {
    pub nodes: BTreeMap<String, Node>,
    pub checker: Arc<Checker>,
    pub trace: Arc<Trace>,
    pub recorder: Recorder,
    pub rng: Rng,
    pub bug: PlantedBug,
    clogged: BTreeSet<(String, String)>,
    clogged_nodes: BTreeSet<String>,
    paused: BTreeSet<String>,
    /// Message duplication and reordering, shared by every node's transport.
    #[cfg(madsim)]
    pub chaos: Arc<ChaosKnobs>,
    /// The last client id handed out (0 is the scenario's own client).
    pub next_client: u64,
    pub seed: u64,
    /// The resource the lock clients fence their writes on (`fencing.rs`).
    pub fencing: crate::fencing::SharedResource,
    /// How long a lock abandoned by a load's client may stay held: 2 x its session TTL plus
    /// its lock-delay, the largest of every load so far (`check-locks` waits that and more).
    pub lock_bound_ms: u64,
}

#[cfg(madsim)]
impl World {
    pub fn new(seed: u64, bug: PlantedBug) -> World {
        let trace = Arc::new(Trace::new());
        World {
            nodes: BTreeMap::new(),
            checker: Arc::new(Checker::new(trace.clone())),
            recorder: Recorder::new(trace.clone()),
            trace,
            rng: Rng::new(seed ^ 0x5eed),
            bug,
            clogged: BTreeSet::new(),
            clogged_nodes: BTreeSet::new(),
            paused: BTreeSet::new(),
            #[cfg(madsim)]
            chaos: Arc::default(),
            next_client: 0,
            seed,
            fencing: Arc::default(),
            lock_bound_ms: 0,
        }
    }

    /// Simulated milliseconds since the world began (the recorder's clock, so history and
    /// scenario times agree).
    pub fn now_ms(&self) -> u64 {
        self.recorder.now_ms()
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

    pub fn node(&self, name: &str) -> &SimNode {
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
