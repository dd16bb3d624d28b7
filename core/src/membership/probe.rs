//! The probe loop with Lifeguard: one member per (health-scaled) probe interval in randomized
//! round-robin order; no ack within the probe timeout -> ping-reqs through other members plus a
//! direct ping over the stream; no ack by the end of the interval -> suspect. Helpers serving
//! a ping-req nack when the target is silent, so a requester whose own link is fine (nacks
//! arrive) does not count the failure against its health.

use super::member::SwimState;
use super::message::{Channel, GossipBody, Update};
use super::swim::Swim;

/// The most ping-reqs we serve at once; more are dropped and counted.
pub const HELPING_MAX: usize = 256;
/// A helper nacks after this share of the probe timeout, so the nack reaches the requester
/// before its probe interval ends (memberlist's full timeout lands it just after at LAN
/// defaults: ping-req sent at 500 ms, nack at 1000 ms = the deadline).
pub const NACK_AFTER_PERCENT: u64 = 80;

/// Our own probe in flight (one at a time: the pending-probe table is bounded by one).
#[derive(Clone, Debug)]
pub struct Probe {
    pub seq: u64,
    pub target: String,
    pub target_addr: String,
    /// The target's incarnation when probed: a failed probe suspects exactly that one.
    pub incarnation: u64,
    /// When the direct ping times out and ping-reqs go out.
    pub indirect_at_ms: u64,
    /// The end of the scaled probe interval: no ack by then means suspect.
    pub deadline_ms: u64,
    pub indirect_sent: bool,
    pub nacks_expected: u32,
    pub nacks_received: u32,
}

/// A ping-req we serve: our ping to the target under our own seq, on behalf of a requester.
/// The nack goes at `nack_at_ms`; a late ack is still forwarded until `expires_ms` (the full
/// probe timeout, as memberlist keeps its ack handler).
#[derive(Clone, Debug)]
pub struct Helping {
    pub requester_addr: String,
    pub requester_seq: u64,
    pub nack_at_ms: u64,
    pub nack_sent: bool,
    pub expires_ms: u64,
}

impl Swim {
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq_next += 1;
        self.seq_next
    }

    pub(crate) fn is_probeable(&self, name: &str) -> bool {
        name != self.me
            && self
                .members
                .get(name)
                .is_some_and(|e| matches!(e.state, SwimState::Alive | SwimState::Suspect))
    }

    /// Runs the probe timers that are due.
    pub(crate) fn probe_timers(&mut self, now_ms: u64) {
        if self
            .probe
            .as_ref()
            .is_some_and(|p| !p.indirect_sent && now_ms >= p.indirect_at_ms)
        {
            self.send_indirect();
        }
        if self.probe.as_ref().is_some_and(|p| now_ms >= p.deadline_ms) {
            self.probe_failed(now_ms);
        }
        if now_ms >= self.next_probe_ms {
            self.start_probe(now_ms);
        }
        self.helping_timers(now_ms);
    }

    /// Nacks that are due go out; ping-reqs past the full probe timeout are forgotten.
    fn helping_timers(&mut self, now_ms: u64) {
        let due: Vec<u64> = self
            .helping
            .iter()
            .filter(|(_, h)| !h.nack_sent && h.nack_at_ms <= now_ms)
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let helping = self.helping.get_mut(&seq).expect("listed above");
            helping.nack_sent = true;
            let (addr, requester_seq) = (helping.requester_addr.clone(), helping.requester_seq);
            self.stats.nacks_sent += 1;
            let body = GossipBody::Nack { seq: requester_seq };
            self.send(&addr, Channel::Datagram, body, Vec::new());
        }
        self.helping.retain(|_, h| h.expires_ms > now_ms);
        debug_assert!(self.helping.len() <= HELPING_MAX);
    }

    fn start_probe(&mut self, now_ms: u64) {
        debug_assert!(
            self.probe.is_none(),
            "the previous probe ends at its deadline"
        );
        self.next_probe_ms = now_ms + self.probe_interval_scaled_ms();
        let Some(target) = self.next_probe_target() else {
            return;
        };
        let entry = &self.members[&target];
        let (incarnation, addr, state) = (
            entry.member.incarnation,
            entry.member.gossip_addr.clone(),
            entry.state,
        );
        let seq = self.next_seq();
        // A suspect target gets the suspicion in the same packet, so it can refute at once.
        let first = if state == SwimState::Suspect {
            vec![Update::Suspect {
                name: target.clone(),
                incarnation,
                from: self.me.clone(),
            }]
        } else {
            Vec::new()
        };
        let body = GossipBody::Ping {
            seq,
            target: target.clone(),
        };
        self.send(&addr, Channel::Datagram, body, first);
        self.stats.probes_sent += 1;
        self.probe = Some(Probe {
            seq,
            target,
            target_addr: addr,
            incarnation,
            indirect_at_ms: now_ms + self.options.probe_timeout_ms,
            deadline_ms: self.next_probe_ms,
            indirect_sent: false,
            nacks_expected: 0,
            nacks_received: 0,
        });
    }

    /// The next member in the randomized round-robin; reshuffles at the end of a pass.
    fn next_probe_target(&mut self) -> Option<String> {
        for _ in 0..2 {
            while self.probe_index < self.probe_order.len() {
                let name = self.probe_order[self.probe_index].clone();
                self.probe_index += 1;
                if self.is_probeable(&name) {
                    return Some(name);
                }
            }
            let mut order: Vec<String> = self
                .members
                .keys()
                .filter(|n| self.is_probeable(n))
                .cloned()
                .collect();
            self.shuffle(&mut order);
            self.probe_order = order;
            self.probe_index = 0;
        }
        None
    }

    /// Fisher-Yates with our seeded rng.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.range(0, i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// Up to `count` random members in `state`, except us and `except`.
    pub(crate) fn random_members(
        &mut self,
        count: usize,
        state: SwimState,
        except: &str,
    ) -> Vec<String> {
        let mut names: Vec<String> = self
            .members
            .iter()
            .filter(|(n, e)| e.state == state && **n != self.me && n.as_str() != except)
            .map(|(n, _)| n.clone())
            .collect();
        self.shuffle(&mut names);
        names.truncate(count);
        names
    }

    fn send_indirect(&mut self) {
        let probe = self
            .probe
            .as_ref()
            .expect("caller checked a probe is pending")
            .clone();
        let helpers = self.random_members(
            self.options.indirect_checks,
            SwimState::Alive,
            &probe.target,
        );
        for helper in &helpers {
            let addr = self.members[helper].member.gossip_addr.clone();
            let body = GossipBody::PingReq {
                seq: probe.seq,
                target: probe.target.clone(),
                target_addr: probe.target_addr.clone(),
            };
            self.send(&addr, Channel::Datagram, body, Vec::new());
            self.stats.ping_reqs_sent += 1;
        }
        // memberlist's TCP fallback: a lossy UDP path must not alone make a member suspect.
        let body = GossipBody::Ping {
            seq: probe.seq,
            target: probe.target.clone(),
        };
        self.send(&probe.target_addr, Channel::Stream, body, Vec::new());
        let pending = self.probe.as_mut().expect("still pending");
        pending.indirect_sent = true;
        pending.nacks_expected = helpers.len() as u32;
    }

    /// No ack by the end of the interval: health rises by the missing nacks (or by one when
    /// nobody could help), and the target becomes suspect at the probed incarnation.
    fn probe_failed(&mut self, now_ms: u64) {
        let probe = self
            .probe
            .take()
            .expect("caller checked a probe is pending");
        self.stats.probes_failed += 1;
        // Missing nacks count only when they could have come back within the interval (a
        // probe timeout near the interval leaves them no time: then it is one failure).
        let nack_due_ms =
            probe.indirect_at_ms + self.options.probe_timeout_ms * NACK_AFTER_PERCENT / 100;
        let delta = if probe.nacks_expected > 0 && nack_due_ms < probe.deadline_ms {
            probe.nacks_expected.saturating_sub(probe.nacks_received)
        } else {
            1
        };
        self.apply_health_delta(i64::from(delta));
        let me = self.me.clone();
        if self.is_probeable(&probe.target) {
            self.apply_suspect(&probe.target, probe.incarnation, &me, now_ms);
        }
    }

    /// Answers a ping. A ping that carried a suspicion of us (even a stale one: the prober
    /// may have missed our refutation) gets our alive record first in the ack.
    pub(crate) fn on_ping(
        &mut self,
        seq: u64,
        target: &str,
        from_addr: &str,
        (channel, suspects_me): (Channel, bool),
    ) {
        if target != self.me || from_addr.is_empty() {
            self.stats.dropped_malformed += 1;
            return;
        }
        let first = if suspects_me {
            vec![Update::Alive(self.me().clone())]
        } else {
            Vec::new()
        };
        self.send(from_addr, channel, GossipBody::Ack { seq }, first);
    }

    /// Before a suspicion nobody confirmed runs out, one last ping (datagram and stream)
    /// carrying it, so a live member whose refutation we missed answers with its record;
    /// the verdict waits a probe interval. Returns whether the ping went out (then not dead
    /// yet). A lone suspector is the case where loss, not death, is the likelier cause.
    pub(crate) fn last_chance_probe(&mut self, name: &str, now_ms: u64) -> bool {
        let interval_ms = self.options.probe_interval_ms;
        let Some(suspicion) = self.suspicions.get_mut(name) else {
            return false;
        };
        if suspicion.last_chance_sent || suspicion.confirmations() > 0 {
            return false;
        }
        suspicion.last_chance_sent = true;
        suspicion.not_before_ms = suspicion.not_before_ms.max(now_ms + interval_ms);
        let entry = &self.members[name];
        let (addr, incarnation) = (entry.member.gossip_addr.clone(), entry.member.incarnation);
        let suspect = Update::Suspect {
            name: name.to_string(),
            incarnation,
            from: self.me.clone(),
        };
        for channel in [Channel::Datagram, Channel::Stream] {
            let seq = self.next_seq();
            let body = GossipBody::Ping {
                seq,
                target: name.to_string(),
            };
            self.send(&addr, channel, body, vec![suspect.clone()]);
        }
        self.stats.last_chance_probes += 1;
        true
    }

    pub(crate) fn on_ack(&mut self, seq: u64) {
        if self.probe.as_ref().is_some_and(|p| p.seq == seq) {
            self.probe = None;
            self.stats.acks_received += 1;
            self.apply_health_delta(-1);
        } else if let Some(helping) = self.helping.remove(&seq) {
            let body = GossipBody::Ack {
                seq: helping.requester_seq,
            };
            self.send(&helping.requester_addr, Channel::Datagram, body, Vec::new());
        } else {
            self.stats.dropped_stale += 1;
        }
    }

    pub(crate) fn on_nack(&mut self, seq: u64) {
        match self.probe.as_mut() {
            Some(p) if p.seq == seq && p.nacks_received < p.nacks_expected => {
                p.nacks_received += 1;
                self.stats.nacks_received += 1;
            }
            _ => self.stats.dropped_stale += 1,
        }
    }

    pub(crate) fn on_ping_req(
        &mut self,
        seq: u64,
        target: &str,
        target_addr: &str,
        from_addr: &str,
        now_ms: u64,
    ) {
        if target == self.me || from_addr.is_empty() || target_addr.is_empty() {
            self.stats.dropped_malformed += 1;
            return;
        }
        if self.helping.len() >= HELPING_MAX {
            self.stats.ping_reqs_dropped_pending_max += 1;
            return;
        }
        let own_seq = self.next_seq();
        let nack_at_ms = now_ms + self.options.probe_timeout_ms * NACK_AFTER_PERCENT / 100;
        let helping = Helping {
            requester_addr: from_addr.to_string(),
            requester_seq: seq,
            nack_at_ms,
            nack_sent: false,
            expires_ms: now_ms + self.options.probe_timeout_ms,
        };
        self.helping.insert(own_seq, helping);
        self.stats.ping_reqs_served += 1;
        let body = GossipBody::Ping {
            seq: own_seq,
            target: target.to_string(),
        };
        self.send(target_addr, Channel::Datagram, body, Vec::new());
    }

    pub(crate) fn probe_deadline_ms(&self) -> u64 {
        let mut next_ms = self.next_probe_ms;
        if let Some(p) = &self.probe {
            next_ms = next_ms.min(p.deadline_ms);
            if !p.indirect_sent {
                next_ms = next_ms.min(p.indirect_at_ms);
            }
        }
        let helping_ms = self
            .helping
            .values()
            .map(|h| {
                if h.nack_sent {
                    h.expires_ms
                } else {
                    h.nack_at_ms
                }
            })
            .min();
        helping_ms.map_or(next_ms, |h| next_ms.min(h))
    }
}
