//! The service catalog with Consul's semantics: nodes, the service instances on them and
//! their health checks, as one replicated table set (`TableId::Nodes`, `Services`, `Checks`).
//!
//! `command.rs` is what travels through the log, `validate.rs` what is checked before it is
//! proposed, `store.rs` how it applies, `indexes.rs` the per-service and per-node indexes
//! blocking reads wait on, `read.rs` the reads, `invariants.rs` what a snapshot must satisfy.

pub mod command;
pub mod indexes;
mod invariants;
mod read;
pub mod store;
pub mod types;
pub mod validate;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use command::*;
pub use store::{Applied, CatalogStore};
pub use types::*;
pub use validate::*;
