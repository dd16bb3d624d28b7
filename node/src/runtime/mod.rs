//! Starting a node: recover storage, build the agent, open listeners, spawn the driver.

mod clock;
mod driver;
pub mod local_disk;

pub use clock::{Clock, DRIFT_PPM_MAX};

use crate::config::NodeConfig;
use crate::handle::{NodeHandle, NodeInfo, REQUEST_QUEUE_MAX};
use crate::storage::{Disk, FileDisk, MemDisk, RaftStorage, StorageError};
use crate::transport::{self, TransportStats, INBOX_MAX};
use concord_core::agent::local::LocalOptions;
use concord_core::agent::{Agent, LocalRequest, Request};
use concord_core::raft::RaftRestore;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Bugs that tests plant on purpose, to prove the simulator catches them. Never set in product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlantedBug {
    #[default]
    None,
    /// A vote (hard state without entries) is not made durable before the vote reply goes out.
    VoteNotDurable,
    /// A bug planted in the Raft core.
    Raft(concord_core::raft::RaftBug),
    /// A bug planted in the state machine (`AgentConfig.planted_state_bug`).
    State(concord_core::state::StateBug),
}

impl PlantedBug {
    /// Every bug that can be planted, by its command-line name.
    pub fn all() -> Vec<PlantedBug> {
        let mut all = vec![PlantedBug::VoteNotDurable];
        all.extend(
            concord_core::raft::RaftBug::ALL
                .into_iter()
                .map(PlantedBug::Raft),
        );
        all.push(PlantedBug::State(
            concord_core::state::StateBug::LockStealAfterLeaderChange,
        ));
        all
    }

    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::None => "none",
            PlantedBug::VoteNotDurable => "vote-not-durable",
            PlantedBug::Raft(bug) => bug.name(),
            PlantedBug::State(concord_core::state::StateBug::LockStealAfterLeaderChange) => {
                "lock-steal-after-leader-change"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<PlantedBug> {
        PlantedBug::all().into_iter().find(|b| b.name() == name)
    }
}

#[derive(Debug)]
pub enum StartError {
    Storage(StorageError),
    Io(String),
    Join(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Storage(e) => write!(f, "cannot recover the data dir: {e}"),
            StartError::Io(e) => write!(f, "{e}"),
            StartError::Join(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts a node with storage in `config.data_dir` (or in memory) and the real clock.
pub async fn start(config: NodeConfig) -> Result<NodeHandle, StartError> {
    let disk: Box<dyn Disk> = match &config.data_dir {
        Some(dir) => Box::new(
            FileDisk::open(dir)
                .map_err(|e| StartError::Io(format!("data dir {}: {e}", dir.display())))?,
        ),
        None => Box::new(MemDisk::new()),
    };
    start_with(config, disk, Hooks::real()).await
}

/// Sees the agent after every round of the driver: the simulator's checkers. Must not block.
pub trait Observer: Send + Sync + 'static {
    fn after_round(&self, agent: &mut Agent);
    /// A message left for `to` (an address). The default ignores it.
    fn on_send(&self, _node: &str, _to: &str, _kind: &str) {}
    /// A message arrived from `from` (the sender's address). The default ignores it.
    fn on_receive(&self, _node: &str, _from: &str, _kind: &str) {}
}

/// What the simulator changes about a node besides the world: its clock, planted bugs, and
/// who watches it.
pub struct Hooks {
    pub clock: Clock,
    pub bug: PlantedBug,
    pub observer: Option<Arc<dyn Observer>>,
    /// Duplicates and reorders messages (the simulator's network faults).
    pub chaos: Option<Arc<crate::transport::chaos::ChaosKnobs>>,
}

impl Hooks {
    pub fn real() -> Hooks {
        Hooks {
            clock: Clock::real(),
            bug: PlantedBug::None,
            observer: None,
            chaos: None,
        }
    }
}

/// Starts a node on the given disk with the given hooks (the simulator's way in).
pub async fn start_with(
    mut config: NodeConfig,
    disk: Box<dyn Disk>,
    hooks: Hooks,
) -> Result<NodeHandle, StartError> {
    let Hooks {
        clock,
        bug,
        observer,
        chaos,
    } = hooks;
    match bug {
        PlantedBug::Raft(raft_bug) => config.agent.raft.planted_bug = Some(raft_bug),
        PlantedBug::State(state_bug) => config.agent.planted_state_bug = Some(state_bug),
        PlantedBug::None | PlantedBug::VoteNotDurable => {}
    }
    crate::bounds::check(&config.agent.raft).map_err(StartError::Io)?;
    // What the transport carries in one frame, less the envelope: a larger snapshot is refused.
    config.agent.forward_bytes_max =
        transport::frame::FRAME_SIZE_BYTES_MAX - crate::bounds::ENVELOPE_OVERHEAD_BYTES_MAX;
    let disk: Arc<dyn Disk> = Arc::from(disk);
    let shared = Box::new(local_disk::SharedDisk(disk.clone()));
    let (storage, recovered) = RaftStorage::recover(shared).map_err(StartError::Storage)?;
    if recovered.torn_tail_truncated_bytes > 0 {
        tracing::warn!(target: "concord", "storage: truncated a torn write of {} bytes at the end of the log", recovered.torn_tail_truncated_bytes);
    }
    let restore = RaftRestore {
        hard_state: recovered.hard_state,
        snapshot: recovered.snapshot,
        entries: recovered.entries,
    };
    let mut agent = Agent::new(config.agent.clone(), config.seed, clock.now_ms(), restore);
    if observer.is_some() {
        agent.enable_apply_journal();
    }
    restore_local(&mut agent, &config, disk.as_ref())?;
    let stats = Arc::new(TransportStats::default());
    let (inbox_tx, inbox_rx) = mpsc::channel(INBOX_MAX);
    let datagrams = bind_listeners(&config, &inbox_tx, &stats).await?;
    let (requests_tx, requests_rx) = mpsc::channel(REQUEST_QUEUE_MAX);
    let (running_tx, running_rx) = watch::channel(true);
    let info = Arc::new(node_info(&config));
    let chaos = chaos.map(|knobs| transport::chaos::Chaos::new(knobs, config.seed));
    let transport = transport::Transport::new(stats, chaos).with_datagrams(datagrams);
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let raft_status = crate::metrics::RaftStatusCell::default();
    let mut driver = driver::Driver::new(agent, (storage, disk), clock, transport, bug, observer);
    driver.publish_to(metrics.clone(), raft_status.clone());
    spawn_driver(driver.run(inbox_rx, requests_rx, running_tx));
    let handle = NodeHandle {
        requests: requests_tx,
        running: running_rx,
        info,
        queued_bytes: Arc::default(),
        metrics,
        raft_status,
    };
    #[cfg(not(madsim))]
    tokio::spawn(crate::checks::supervise(handle.clone()));
    register_config_services(&handle, &config).await?;
    join_at_start(&handle, &config).await?;
    Ok(handle)
}

/// Runs the driver on a thread of its own in a multi-threaded runtime: its rounds (apply,
/// fsync, a snapshot) never hold up the HTTP and transport tasks queued on a worker, and a
/// reply it wakes is not parked behind it in that worker's LIFO slot. Elsewhere (tests on a
/// current-thread runtime, the simulator) it is an ordinary task.
fn spawn_driver(run: impl std::future::Future<Output = ()> + Send + 'static) {
    #[cfg(not(madsim))]
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let handle = Handle::current();
        if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            let thread = std::thread::Builder::new().name("concord-driver".into());
            thread
                .spawn(move || handle.block_on(run))
                .expect("cannot start the driver's thread");
            return;
        }
    }
    tokio::spawn(run);
}

/// Binds the RPC and gossip stream listeners (one when they share an address) and the gossip
/// datagram socket, each feeding `inbox`; an address that cannot be bound is named.
async fn bind_listeners(
    config: &NodeConfig,
    inbox: &mpsc::Sender<transport::Received>,
    stats: &Arc<TransportStats>,
) -> Result<transport::datagram::Outbox, StartError> {
    let inbound = transport::Inbound::new(config.inbound.clone());
    let listen = |addr| transport::listen(addr, inbox.clone(), stats.clone(), inbound.clone());
    let rpc_local = listen(config.rpc_listen)
        .await
        .map_err(|e| StartError::Io(format!("cannot listen on {}: {e}", config.rpc_listen)))?;
    let mut gossip_local = rpc_local;
    if config.gossip_listen != config.rpc_listen {
        gossip_local = listen(config.gossip_listen).await.map_err(|e| {
            StartError::Io(format!("cannot listen on {}: {e}", config.gossip_listen))
        })?;
    }
    // UDP on the gossip listener's own port (Consul's 8301 serves both), even when it was
    // asked for port 0.
    transport::datagram::bind(gossip_local, inbox.clone(), stats.clone())
        .await
        .map_err(|e| {
            StartError::Io(format!(
                "cannot listen on {} (udp): {e}",
                config.gossip_listen
            ))
        })
}

/// The agent's own services and checks as the last run left them. Anti-entropy runs as in
/// the product, in the simulator too (its discovery scenarios and checker depend on it).
fn restore_local(
    agent: &mut Agent,
    config: &NodeConfig,
    disk: &dyn Disk,
) -> Result<(), StartError> {
    let options = LocalOptions {
        node_id: node_id(&config.agent.node_name, &config.agent.rpc_addr),
        sync_enabled: true,
        enable_script_checks: config.enable_script_checks,
        enable_local_script_checks: config.enable_local_script_checks,
        check_update_interval_ms: config.check_update_interval_ms,
        config_service_ids: config_definition_ids(&config.services, true),
        config_check_ids: config_definition_ids(&config.services, false),
        ..LocalOptions::default()
    };
    agent.set_local_options(options);
    let file = local_disk::LOCAL_STATE_FILE;
    let where_ = || match &config.data_dir {
        Some(dir) => dir.join(file).display().to_string(),
        None => file.to_string(),
    };
    let bytes = disk
        .read(file)
        .map_err(|e| StartError::Io(format!("cannot read {}: {e}", where_())))?;
    if let Some(bytes) = bytes {
        agent
            .restore_local(&bytes)
            .map_err(|e| StartError::Io(format!("{}: {e}", where_())))?;
    }
    Ok(())
}

fn node_info(config: &NodeConfig) -> NodeInfo {
    let agent = &config.agent;
    NodeInfo {
        node_name: agent.node_name.clone(),
        node_id: node_id(&agent.node_name, &agent.rpc_addr),
        datacenter: agent.datacenter.clone(),
        role: agent.role,
        rpc_addr: agent.rpc_addr.clone(),
        gossip_addr: agent.gossip_addr.clone(),
        version: agent.build.clone(),
    }
}

/// A stable UUID-shaped id derived from the node's name and address.
fn node_id(name: &str, addr: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes().chain(addr.bytes()) {
        h = (h ^ b as u128).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The ids of the config files' services (`services`) or node-level checks, as the agent
/// will default them (a service's id is its name, a check's its name).
fn config_definition_ids(definitions: &[LocalRequest], services: bool) -> BTreeSet<String> {
    let or = |id: &str, name: &str| if id.is_empty() { name } else { id }.to_string();
    let ids = definitions.iter().filter_map(|d| match d {
        LocalRequest::RegisterService { service, .. } if services => {
            Some(or(&service.id, &service.name))
        }
        LocalRequest::RegisterCheck { check } if !services => {
            Some(or(&check.check.check_id, &check.check.name))
        }
        _ => None,
    });
    ids.collect()
}

/// The services of config files, registered as if by `agent/service/register` (a restart
/// registers them again; their checks keep the status the agent persisted).
async fn register_config_services(
    handle: &NodeHandle,
    config: &NodeConfig,
) -> Result<(), StartError> {
    for request in &config.services {
        let request = Request::Local(LocalRequest::FromConfig(Box::new(request.clone())));
        if let Err(e) = handle.request(request).await {
            return Err(StartError::Io(format!("service definition refused: {e}")));
        }
    }
    Ok(())
}

/// `-join` at start must reach someone (Consul exits otherwise); `-retry-join` keeps trying.
async fn join_at_start(handle: &NodeHandle, config: &NodeConfig) -> Result<(), StartError> {
    let mut joined = config.join.is_empty();
    for addr in &config.join {
        joined |= handle
            .request(Request::Join { addr: addr.clone() })
            .await
            .is_ok();
    }
    if !joined {
        return Err(StartError::Join(format!(
            "Failed to join any nodes: {}",
            config.join.join(", ")
        )));
    }
    if !config.retry_join.is_empty() {
        tokio::spawn(retry_join(
            handle.clone(),
            config.retry_join.clone(),
            config.retry_interval_ms,
        ));
    }
    Ok(())
}

async fn retry_join(handle: NodeHandle, addrs: Vec<String>, interval_ms: u64) {
    loop {
        for addr in &addrs {
            match handle.request(Request::Join { addr: addr.clone() }).await {
                Ok(_) => {
                    tracing::info!(target: "concord", "agent: joined cluster through {addr}");
                    return;
                }
                Err(e) => tracing::warn!(target: "concord", "agent: retry-join {addr}: {e}"),
            }
        }
        if !handle.is_running() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::state::StateBug;

    #[test]
    fn every_planted_bug_has_its_own_name() {
        let steal = PlantedBug::from_name("lock-steal-after-leader-change");
        assert_eq!(
            steal,
            Some(PlantedBug::State(StateBug::LockStealAfterLeaderChange))
        );
        let all = PlantedBug::all();
        for bug in &all {
            assert_eq!(PlantedBug::from_name(bug.name()), Some(*bug));
        }
    }
}
