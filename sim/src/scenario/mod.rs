//! Scenarios: files in `scenarios/` that read like the seed guide and run in the simulator.

mod aimed;
mod blocking;
mod expect;
pub mod parse;
mod run;
mod start_flags;

pub use run::{run_scenario, Failure};
