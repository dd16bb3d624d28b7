//! Sessions, transactions and snapshots on the agent (T2 splits this into sessions.rs,
//! session_timers.rs, lock_delay.rs, txn.rs, snapshot_ops.rs).

use super::api::{ApiError, Request};
use super::pending::Origin;
use super::Agent;
use crate::state::LockChange;

impl Agent {
    /// Serves the session writes, transactions and snapshot requests (`serve` selects them).
    pub(super) fn serve_coordination(&mut self, origin: Origin, request: Request) {
        let why = format!("{} is not built yet", request.kind());
        self.reply(origin, Err(ApiError::Unavailable(why)));
    }

    /// Lock changes applied since the last call, with the index each applied at (empty
    /// unless the apply journal is enabled): the simulator's lock checker reads them.
    pub fn take_lock_changes(&mut self) -> Vec<(u64, LockChange)> {
        Vec::new()
    }
}
