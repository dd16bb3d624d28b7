//! The real-process world (issue 16): the simulator's scenarios against real `concord`
//! agents, built without madsim. `client`: the typed requests over HTTP; `net`: namespaces
//! and the userspace switch; `machine`: an agent process; `logs`: what checkers read in the
//! agents' logs; `run`: a run of a scenario or a fuzz seed (the world is `world/real.rs`).

mod answers;
mod catalog;
pub mod client;
mod errors;
pub mod logs;
pub mod machine;
pub mod net;
pub mod run;
mod wire;

#[cfg(test)]
mod client_tests;

pub use client::{Client, CLIENT_TIMEOUT_MS};
