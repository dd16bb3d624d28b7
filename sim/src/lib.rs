//! Concord's deterministic simulator: the real node runtime under madsim, with scenarios,
//! faults, checkers and a fuzzer. Build it with `--cfg madsim` (`cargo xtask sim ...`).
//! Without madsim the crate is where the real-process runner grows: the scenario parser, the
//! fuzz schedule generator, the checkers over histories and the world's shared half compile
//! there too; what drives a world (the world's machines, the runner, the scenario commands,
//! the loads) is madsim's until the real backend gives it the same methods.

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
