//! Consul's DNS interface: `NAME.service.consul`, `TAG.NAME.service.consul`,
//! `_NAME._TAG.service.consul`, `NODE.node.consul` and `HEX.addr.consul`, answered from the
//! catalog through `NodeHandle::request`, as the HTTP API reads it.
//!
//! One concern per file: `config` (what `dns_config` and `domain` set; built in every build,
//! since `concord-config` plans it for the simulator too), `name` (query name to lookup),
//! `records` (catalog entries to resource records), `limits` (Consul's answer limits and
//! trimming), `soa`, `shuffle`, `handler` (one query to one reply; hickory's `RequestHandler`),
//! `tcp` (the bounded TCP listener) and `server` (binding, and hickory's UDP server). Only `config` is in the madsim build: the rest uses real
//! sockets.

pub mod config;

#[cfg(not(madsim))]
pub mod handler;
#[cfg(not(madsim))]
pub mod limits;
#[cfg(not(madsim))]
pub mod name;
#[cfg(not(madsim))]
pub mod records;
#[cfg(not(madsim))]
pub mod server;
#[cfg(not(madsim))]
pub mod shuffle;
#[cfg(not(madsim))]
pub mod soa;
#[cfg(not(madsim))]
pub mod tcp;

#[cfg(all(test, not(madsim)))]
mod tests;

pub use config::DnsConfig;
#[cfg(not(madsim))]
pub use server::{bind, serve, DnsSockets};
