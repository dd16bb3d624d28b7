//! Scenarios: files in `scenarios/` that read like the seed guide and run in the simulator.
//! The cluster and fault commands are listed in the README ("The simulator"); each module
//! below documents its own:
//!
//! - `blocking.rs`: blocking reads, `blocking-get NODE AS KEY [wait=D]`,
//!   `blocking-health NODE AS SERVICE [wait=D]` (`health/service/SERVICE?passing`),
//!   `expect-no-wake AS for=D`, `expect-wakes AS within=D [value=V] [passing=N]`,
//!   `expect-deadline AS within=D`.
//! - `discovery.rs`: an agent's own services, `service-register NODE NAME [id=ID] [port=N]
//!   [ttl=D]`, `service-deregister NODE ID`, `check-pass|check-warn|check-fail NODE CHECK_ID`.
//! - `health.rs`: the catalog's view, `expect-passing NAME count=N [within D] [via NODE]` and
//!   `expect-critical NAME count=N [within D] [via NODE]`.
//! - `coordination.rs`: sessions and locks, `session-create NODE NAME [ttl=D] [lock-delay=D]
//!   [behavior=release|delete] [checks=none] [within D]`,
//!   `session-renew NODE NAME [within D]`, `session-destroy NODE NAME`,
//!   `lock-acquire NODE KEY NAME [within D]`, `lock-try NODE KEY NAME`,
//!   `lock-release NODE KEY NAME`, `expect-lock-free KEY [within D]`,
//!   `expect-lock-holder KEY NAME [within D]`, `expect-session NAME live|gone [within D]`,
//!   and `check-locks` (every lock key is acquirable again within the loads' bound).
//! - `aimed.rs`: faults aimed at the leader. `expect.rs`: `expect ...` lines.
//! - `check-catalog` (`checker/catalog_synced.rs`): every running agent's services and check
//!   statuses are in the catalog, waiting at most anti-entropy's bound for them.
//! - `load-start ... svc%=N` (`load.rs`): N% of the clients' operations are agent services;
//!   `lock%=N txn%=N [lock-delay-ms=N] [session-ttl-s=N]`: locks and transactions.

mod aimed;
mod blocking;
mod coordination;
mod discovery;
mod expect;
mod health;
pub mod parse;
mod run;
mod start_flags;

pub use expect::current_leader;
pub use run::{run_scenario, Failure};
