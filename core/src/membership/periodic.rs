//! Timer-driven work: probing (probe.rs), suspicion expiry, gossip rounds, push/pull,
//! serf's reconnect to dead members, and reaping.

use super::member::SwimState;
use super::message::{Channel, GossipBody};
use super::swim::Swim;

/// Above this many members the push/pull interval grows (memberlist pushPullScaleThreshold).
pub const PUSH_PULL_SCALE_THRESHOLD: usize = 32;

/// `ceil(log2(n) - log2(32)) + 1` above 32 members, else 1.
pub fn push_pull_scale(members_n: usize) -> u64 {
    if members_n <= PUSH_PULL_SCALE_THRESHOLD {
        return 1;
    }
    let excess = (members_n as f64).log2() - (PUSH_PULL_SCALE_THRESHOLD as f64).log2();
    excess.ceil() as u64 + 1
}

impl Swim {
    /// Runs whatever is due at `now_ms`; cheap when nothing is.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.last_input_ms) > self.stall_gap_ms() {
            self.after_stall(now_ms);
        }
        self.last_input_ms = self.last_input_ms.max(now_ms);
        self.probe_timers(now_ms);
        self.expire_suspicions(now_ms);
        if now_ms >= self.next_gossip_ms {
            self.next_gossip_ms = now_ms + self.options.gossip_interval_ms;
            self.gossip(now_ms);
        }
        if now_ms >= self.next_push_pull_ms {
            let scale = push_pull_scale(self.members_n());
            self.next_push_pull_ms = now_ms + self.options.push_pull_interval_ms * scale;
            let peer = self.random_members(1, SwimState::Alive, "");
            self.push_pull_with(peer);
        }
        if now_ms >= self.next_reconnect_ms {
            self.next_reconnect_ms = now_ms + self.options.reconnect_interval_ms;
            let peer = self.random_members(1, SwimState::Dead, "");
            self.push_pull_with(peer);
        }
        self.reap(now_ms);
    }

    /// Running normally, we take some input at least every gossip interval (the gossip timer
    /// is always set); a gap of two means the process was stopped (SIGSTOP, a long pause).
    fn stall_gap_ms(&self) -> u64 {
        (2 * self.options.gossip_interval_ms).max(self.options.probe_timeout_ms)
    }

    /// Back from a stall, the acks and refutations that arrived meanwhile are still queued
    /// behind this timeout: judging now would blame others for our own pause (Lifeguard's
    /// point). The probe in flight is dropped unjudged (the next one starts a probe timeout
    /// from now), and no suspicion runs out before a probe timeout has passed.
    fn after_stall(&mut self, now_ms: u64) {
        self.stats.stalls += 1;
        self.probe = None;
        self.next_probe_ms = self
            .next_probe_ms
            .max(now_ms + self.options.probe_timeout_ms);
        let not_before_ms = now_ms + self.options.probe_timeout_ms;
        for suspicion in self.suspicions.values_mut() {
            suspicion.not_before_ms = suspicion.not_before_ms.max(not_before_ms);
        }
        assert!(self.probe.is_none());
    }

    fn push_pull_with(&mut self, peer: Vec<String>) {
        for name in peer {
            let addr = self.members[&name].member.gossip_addr.clone();
            self.join(&addr, None, 0);
        }
    }

    /// Suspicions whose (confirmation-shrunk) timer ran out: the member is dead.
    fn expire_suspicions(&mut self, now_ms: u64) {
        let due: Vec<(String, u64)> = self
            .suspicions
            .iter()
            .filter(|(_, s)| s.deadline_ms() <= now_ms)
            .map(|(n, _)| (n.clone(), self.members[n].member.incarnation))
            .collect();
        let me = self.me.clone();
        for (name, incarnation) in due {
            if self.last_chance_probe(&name, now_ms) {
                continue;
            }
            self.stats.deaths_declared += 1;
            self.apply_dead(&name, incarnation, &me, now_ms);
        }
    }

    /// Queued broadcasts to `gossip_nodes` random members (recently dead ones included, so
    /// they hear of it and refute); nothing is sent when nothing is queued.
    fn gossip(&mut self, now_ms: u64) {
        let dead_ms_max = self.options.gossip_to_the_dead_ms;
        let mut names: Vec<String> = self
            .members
            .iter()
            .filter(|(n, e)| {
                **n != self.me
                    && match e.state {
                        SwimState::Alive | SwimState::Suspect => true,
                        SwimState::Dead => now_ms.saturating_sub(e.state_since_ms) < dead_ms_max,
                        SwimState::Left => false,
                    }
            })
            .map(|(n, _)| n.clone())
            .collect();
        self.shuffle(&mut names);
        names.truncate(self.options.gossip_nodes);
        for name in names {
            if self.broadcasts.is_empty() {
                break;
            }
            let addr = self.members[&name].member.gossip_addr.clone();
            self.send(&addr, Channel::Datagram, GossipBody::Empty, Vec::new());
        }
    }

    /// Left members after the tombstone timeout, dead ones after the reconnect timeout.
    fn reap(&mut self, now_ms: u64) {
        let due: Vec<String> = self
            .members
            .iter()
            .filter(|(_, e)| {
                self.reap_at_ms(e.state, e.state_since_ms)
                    .is_some_and(|at| at <= now_ms)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            self.stats.reaped += 1;
            self.remove_member(&name);
        }
        self.pruned.retain(|_, p| p.expires_ms > now_ms);
    }

    fn reap_at_ms(&self, state: SwimState, since_ms: u64) -> Option<u64> {
        match state {
            SwimState::Left => Some(since_ms + self.options.tombstone_timeout_ms),
            SwimState::Dead => Some(since_ms + self.options.reconnect_timeout_ms),
            SwimState::Alive | SwimState::Suspect => None,
        }
    }

    /// When `handle_timeout` must run next: the earliest of every timer.
    pub fn next_deadline_ms(&self) -> u64 {
        let mut next_ms = self
            .probe_deadline_ms()
            .min(self.next_gossip_ms)
            .min(self.next_push_pull_ms);
        let any_dead = self.members.values().any(|e| e.state == SwimState::Dead);
        if any_dead {
            next_ms = next_ms.min(self.next_reconnect_ms);
        }
        let suspicion_ms = self.suspicions.values().map(|s| s.deadline_ms()).min();
        let reap_ms = self
            .members
            .values()
            .filter_map(|e| self.reap_at_ms(e.state, e.state_since_ms))
            .min();
        let prune_ms = self.pruned.values().map(|p| p.expires_ms).min();
        for candidate in [suspicion_ms, reap_ms, prune_ms].into_iter().flatten() {
            next_ms = next_ms.min(candidate);
        }
        next_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_scale_grows_above_32() {
        assert_eq!(push_pull_scale(1), 1);
        assert_eq!(push_pull_scale(32), 1);
        assert_eq!(push_pull_scale(33), 2);
        assert_eq!(push_pull_scale(64), 2);
        assert_eq!(push_pull_scale(512), 5);
    }
}
