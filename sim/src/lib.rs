//! Concord's deterministic simulator: the real node runtime under madsim, with scenarios,
//! faults, checkers and a fuzzer. Build it with `--cfg madsim` (`cargo xtask sim ...`).

#[cfg(madsim)]
pub mod checker;
/// The fenced resource of the lock workload (no madsim in it).
pub mod fencing;
#[cfg(madsim)]
pub mod fuzz;
/// Runs without madsim: it drives the SWIM machines of concord-core directly.
pub mod gossip_bench;
#[cfg(madsim)]
pub mod history;
pub mod linearizability;
#[cfg(not(madsim))]
pub mod real;
#[cfg(madsim)]
pub mod load;
#[cfg(madsim)]
pub mod locks;
#[cfg(madsim)]
pub mod runner;
#[cfg(madsim)]
pub mod scenario;
#[cfg(madsim)]
pub mod services;
#[cfg(madsim)]
pub mod timeline;
#[cfg(madsim)]
pub mod trace;
#[cfg(madsim)]
pub mod txn_load;
pub mod world;
