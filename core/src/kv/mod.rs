//! The key/value state machine with Consul's semantics.

mod graveyard;
pub mod lock;
pub(crate) mod overlay;
mod prefix;
pub mod store;
pub mod txn;
pub mod types;
pub mod validate;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

pub use lock::LockChange;
pub use store::*;
pub use types::*;
pub use validate::validate;
