//! What it takes to start a node. `concord-config` makes it from flags and config files, for
//! the binary and the simulator alike; the defaults here are the defaults of both.

use crate::transport::InboundLimits;
use concord_core::agent::local::LocalOptions;
use concord_core::agent::AgentConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub agent: AgentConfig,
    /// Where state lives; `None` keeps everything in memory (`-dev`).
    pub data_dir: Option<PathBuf>,
    /// Seeds the agent's PRNG (election timeouts, gossip targets).
    pub seed: u64,
    /// Listeners for other agents (server RPC and gossip); both take every kind of message.
    pub rpc_listen: SocketAddr,
    pub gossip_listen: SocketAddr,
    /// `-join`: addresses to join at start; failure is fatal, as in Consul.
    pub join: Vec<String>,
    /// `-retry-join`: addresses to keep trying every `retry_interval_ms` until one answers.
    pub retry_join: Vec<String>,
    pub retry_interval_ms: u64,
    /// What peers may hold on the cluster ports (`limits.rpc_max_conns_per_client`, buffers).
    pub inbound: InboundLimits,
    /// What HTTP clients may hold (`limits.http_max_conns_per_client`, idle timeout).
    pub http: HttpLimits,
    /// `enable_script_checks`: script checks may be registered (refused otherwise).
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: script checks of config files only.
    pub enable_local_script_checks: bool,
    /// `check_update_interval`: how long a check's output-only change may wait before it
    /// is synced to the catalog (0: synced at once).
    pub check_update_interval_ms: u64,
    /// `service`/`services` of config files (with their checks), registered at start.
    pub services: Vec<concord_core::agent::LocalRequest>,
}

/// Consul's `retry_interval` default.
pub const RETRY_INTERVAL_MS_DEFAULT: u64 = 30_000;

/// Consul's `limits.http_max_conns_per_client` default.
pub const HTTP_MAX_CONNS_PER_CLIENT: usize = 200;
/// A keep-alive connection with no request for this long is closed (Concord's
/// `limits.http_idle_timeout`; longer than the 90s idle timeout of Go's HTTP clients, so they
/// normally close first).
pub const HTTP_IDLE_TIMEOUT_MS: u64 = 120_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections from one client address at once; the excess is answered 429 and closed.
    pub http_max_conns_per_client: usize,
    /// Also bounds how long a client may take to send a request's headers.
    pub idle_timeout_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            http_max_conns_per_client: HTTP_MAX_CONNS_PER_CLIENT,
            idle_timeout_ms: HTTP_IDLE_TIMEOUT_MS,
        }
    }
}

impl NodeConfig {
    pub fn new(
        agent: AgentConfig,
        rpc_listen: SocketAddr,
        gossip_listen: SocketAddr,
    ) -> NodeConfig {
        NodeConfig {
            agent,
            data_dir: None,
            seed: 0,
            rpc_listen,
            gossip_listen,
            join: Vec::new(),
            retry_join: Vec::new(),
            retry_interval_ms: RETRY_INTERVAL_MS_DEFAULT,
            inbound: InboundLimits::default(),
            http: HttpLimits::default(),
            enable_script_checks: false,
            enable_local_script_checks: false,
            check_update_interval_ms: LocalOptions::default().check_update_interval_ms,
            services: Vec::new(),
        }
    }
}
