//! Concord's node runtime: drives `concord-core` over tokio. Builds with `--cfg madsim` too,
//! so the simulator runs this very code; the HTTP front end is left out of that build.

pub mod api_types;
pub mod bounds;
#[cfg(not(madsim))]
pub mod checks;
pub mod config;
pub mod dns;
pub mod handle;
pub mod log_level;
/// The agent's log lines for `/v1/agent/monitor` (per process, like the tracing subscriber).
#[cfg(not(madsim))]
pub mod log_stream;
pub mod metrics;
pub mod runtime;
pub mod storage;
pub mod time_fmt;
pub mod transport;

#[cfg(not(madsim))]
pub mod http;

pub use config::NodeConfig;
pub use handle::{NodeHandle, NodeInfo};
pub use metrics::{Metrics, RaftStatus};
pub use runtime::{start, start_with, Clock, Hooks, Observer, PlantedBug, StartError};
