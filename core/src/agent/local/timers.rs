//! What time does to the local state, on every tick: TTL checks expire, the reaper removes
//! services critical for too long, the periodic full sync starts, and what changed is synced.

use super::check::Change;
use super::REAP_INTERVAL_MS;
use crate::agent::{Agent, LogLevel};

impl Agent {
    pub(crate) fn tick_local(&mut self) {
        let now_ms = self.now_ms;
        let mut changed = Vec::new();
        for check in self.local.checks.values_mut() {
            match check.expire_ttl(now_ms) {
                Change::None => {}
                change => changed.push((check.id().to_string(), change)),
            }
        }
        self.local.persist_wanted |= !changed.is_empty();
        // An expiry that only changes the output (the check was critical already) waits
        // like any output-only change.
        for (id, change) in changed {
            self.on_check_change(&id, change);
        }
        if now_ms >= self.local.sync.reap_at_ms {
            self.local.sync.reap_at_ms = now_ms + REAP_INTERVAL_MS;
            self.reap_critical_services();
        }
        if !self.local.options.sync_enabled {
            return;
        }
        if now_ms >= self.local.sync.full_sync_at_ms && self.servers_reachable() {
            // Pushed back until the read answers (or fails and sets its retry).
            self.local.sync.full_sync_at_ms = u64::MAX;
            self.start_full_sync();
        }
        self.local_sync_changes();
    }

    /// When `tick_local` acts next: a TTL check expires, the reaper's round, the full sync
    /// (once a server is reachable: a gossip message moves this), or the changes' sync.
    pub(crate) fn local_deadline_ms(&self) -> u64 {
        let checks = self.local.checks.values();
        let ttl_ms = checks.filter_map(|c| c.ttl_deadline_ms).min();
        let mut next_ms = ttl_ms.map_or(self.local.sync.reap_at_ms, |t| {
            t.min(self.local.sync.reap_at_ms)
        });
        if !self.local.options.sync_enabled {
            return next_ms;
        }
        if self.servers_reachable() {
            next_ms = next_ms.min(self.local.sync.full_sync_at_ms);
        }
        self.sync_deadline_ms().map_or(next_ms, |s| next_ms.min(s))
    }

    /// `deregister_critical_service_after`: a service with a check critical that long goes.
    fn reap_critical_services(&mut self) {
        let now_ms = self.now_ms;
        let due: std::collections::BTreeSet<String> = self
            .local
            .checks
            .values()
            .filter(|c| c.reap_due(now_ms) && !c.input.check.service_id.is_empty())
            .map(|c| c.input.check.service_id.clone())
            .collect();
        for id in due {
            if self.local.remove_service(&id).is_ok() {
                let message = format!(
                    "agent: Check critical for longer than its deregister_critical_service_after; removed service {id:?}"
                );
                self.log(LogLevel::Info, message);
            }
        }
    }
}
