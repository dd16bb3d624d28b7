//! An agent's settings, as the CLI and the simulator give them.

use super::autopilot::AutopilotOptions;
use crate::membership::{MembershipOptions, Role};
use crate::ports::{SERF_LAN_PORT_DEFAULT, SERVER_PORT_DEFAULT};
use crate::raft::RaftOptions;
use crate::state::StateBug;

/// Default of `AgentConfig::forward_bytes_max`: the node's frame maximum (8 MiB) less room
/// for the envelope (64 KiB). The node sets it from its transport's own constants.
pub const FORWARD_BYTES_MAX_DEFAULT: usize = 8 * 1024 * 1024 - 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    pub node_name: String,
    pub datacenter: String,
    pub role: Role,
    /// Where other agents gossip with us (`-bind`:`-serf-lan-port`).
    pub gossip_addr: String,
    /// Where Raft, forwarded requests and replies reach us (`-bind`:`-server-port`).
    pub rpc_addr: String,
    /// `-bootstrap-expect` (0: never bootstrap; wait to be added to an existing cluster).
    pub bootstrap_expect: u32,
    pub build: String,
    pub raft: RaftOptions,
    pub membership: MembershipOptions,
    /// How often the bootstrap handshake and the leader's reconciles (voters, autopilot, the
    /// catalog's serfHealth) run; failure detection has its own timers.
    pub reconcile_interval_ms: u64,
    /// A request not answered by then fails with `Timeout`.
    pub request_timeout_ms: u64,
    /// How long a request waits for a leader to be elected before "No cluster leader".
    pub leader_wait_ms: u64,
    /// How long a leaving server waits to be removed from the voters.
    pub leave_timeout_ms: u64,
    /// Applied entries after which the log is compacted into a snapshot (Consul's
    /// `raft_snapshot_threshold`, 16384 by default).
    pub snapshot_threshold_entries: u64,
    /// The least time between two snapshots taken by count (Consul's `raft_snapshot_interval`,
    /// 30 s): each snapshot serializes the whole state, so under a heavy write load a count
    /// alone would stall the Raft loop every fraction of a second. The byte threshold below
    /// ignores it: memory stays bounded.
    pub snapshot_interval_ms: u64,
    /// Bytes of log in memory after which it is compacted, whatever the count of entries;
    /// well under `RaftOptions::log_bytes_max`, so compaction comes before refusals.
    pub snapshot_threshold_bytes: usize,
    /// Requests in progress at once on this agent; more are refused.
    pub pending_requests_max: usize,
    /// How often the "No cluster leader" and "no known peers" complaints repeat.
    pub complaint_interval_ms: u64,
    /// Autopilot's local defaults, used until a configuration is stored through Raft.
    pub autopilot: AutopilotOptions,
    /// A state-machine bug planted on purpose, to prove the simulator's checkers catch it.
    /// Always `None` in the product.
    pub planted_state_bug: Option<StateBug>,
    /// Most snapshot state bytes one forwarded request or reply may carry: the transport
    /// drops larger frames, so a snapshot over it is refused with `ApiError::TooLarge`
    /// instead of waiting for an answer that cannot come.
    pub forward_bytes_max: usize,
}

impl AgentConfig {
    /// Production defaults for a server or client called `node_name` at `ip`.
    pub fn new(node_name: &str, ip: &str, role: Role) -> AgentConfig {
        AgentConfig {
            node_name: node_name.to_string(),
            datacenter: "dc1".to_string(),
            role,
            gossip_addr: format!("{ip}:{SERF_LAN_PORT_DEFAULT}"),
            rpc_addr: format!("{ip}:{SERVER_PORT_DEFAULT}"),
            bootstrap_expect: 0,
            build: env!("CARGO_PKG_VERSION").to_string(),
            raft: agent_raft_options(RaftOptions::default()),
            membership: MembershipOptions::default(),
            reconcile_interval_ms: 200,
            request_timeout_ms: 10_000,
            leader_wait_ms: 5_000,
            leave_timeout_ms: 5_000,
            snapshot_threshold_entries: 16_384,
            snapshot_interval_ms: 30_000,
            snapshot_threshold_bytes: 64 * 1024 * 1024,
            pending_requests_max: 8192,
            complaint_interval_ms: 10_000,
            autopilot: AutopilotOptions::default(),
            planted_state_bug: None,
            forward_bytes_max: FORWARD_BYTES_MAX_DEFAULT,
        }
    }

    /// The quick timings of `-dev` and of the simulator.
    pub fn fast(mut self) -> AgentConfig {
        self.raft = agent_raft_options(RaftOptions::fast());
        // Every timing here is quick (Raft heartbeats of 30 ms, a dead member failed within
        // seconds): a new server is healthy within a few rounds, so 10 s of stabilization
        // would only slow tests.
        self.autopilot.server_stabilization_time_ms = 2_000;
        self.membership = self.membership.fast();
        self.reconcile_interval_ms = 100;
        self.leader_wait_ms = 2_000;
        self.request_timeout_ms = 5_000;
        self.leave_timeout_ms = 3_000;
        self.complaint_interval_ms = 5_000;
        // Tests and the simulator compact as soon as the count is reached.
        self.snapshot_interval_ms = 0;
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.node_name.is_empty() {
            return Err("node name must not be empty".into());
        }
        if self.role == Role::Client && self.bootstrap_expect > 0 {
            return Err("bootstrap_expect is for servers only".into());
        }
        if self.forward_bytes_max == 0 {
            return Err("forward_bytes_max must be above 0".into());
        }
        if self.snapshot_threshold_bytes > self.raft.log_bytes_max / 2 {
            return Err("snapshot_threshold_bytes must be at most half of log_bytes_max".into());
        }
        self.raft.validate()
    }
}

/// In an agent, autopilot promotes learners (once stable), not Raft on catch-up.
fn agent_raft_options(raft: RaftOptions) -> RaftOptions {
    RaftOptions {
        promote_caught_up_learners: false,
        ..raft
    }
}
