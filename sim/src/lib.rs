//! Concord's two worlds for one scenario language. With `--cfg madsim` (`cargo xtask sim ...`):
//! the deterministic simulator, the real node runtime under madsim, with scenarios, faults,
//! checkers and a fuzzer. Without madsim (`cargo xtask real ...`): the same scenarios, fuzz
//! schedules, loads and history checkers against real `concord agent` processes in network
//! namespaces (`real/`, `world/real.rs`).

pub mod checker;
/// The fenced resource of the lock workload (no madsim in it).
pub mod fencing;
pub mod fuzz;
/// Runs without madsim: it drives the SWIM machines of concord-core directly.
pub mod gossip_bench;
pub mod history;
pub mod linearizability;
pub mod load;
pub mod locks;
#[cfg(not(madsim))]
pub mod real;
#[cfg(madsim)]
pub mod runner;
pub mod scenario;
pub mod services;
pub mod timeline;
pub mod trace;
pub mod txn_load;
pub mod world;
