//! What it takes to start a node.

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
    /// How often the driver ticks the agent.
    pub tick_interval_ms: u64,
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
            retry_interval_ms: 30_000,
            tick_interval_ms: 10,
        }
    }
}
