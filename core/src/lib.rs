//! Concord's sans-IO core: Raft, membership, KV and bootstrap as pure state machines.
//!
//! Nothing here does I/O, reads a clock, or draws unseeded randomness: time comes in with each
//! event (`now_ms`), a seeded PRNG at construction, and output is an ordered list of actions.

pub mod agent;
pub mod catalog;
pub mod digest;
pub mod duration;
pub mod kv;
pub mod membership;
pub mod ports;
pub mod raft;
pub mod rng;
pub mod session;
pub mod state;
