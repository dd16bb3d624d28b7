//! The real-process world (issue 16): the simulator's scenarios against real `concord`
//! agents. Built without madsim only. So far: `client`, the typed requests over HTTP.

mod answers;
mod catalog;
pub mod client;
mod errors;
pub mod net;
mod wire;

#[cfg(test)]
mod client_tests;

pub use client::{Client, CLIENT_TIMEOUT_MS};
