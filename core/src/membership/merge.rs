//! The rules for news (memberlist's aliveNode/suspectNode/deadNode, serf's leave intents):
//! Alive wins over Suspect/Dead only at a strictly higher incarnation; Suspect over Alive and
//! Dead over Alive/Suspect at >= incarnation; announced Leaving/Left ride inside Alive and at
//! the same incarnation Left > Leaving > Alive. Left is final until the member rejoins with a
//! higher incarnation. News that loses is dropped and counted; news that wins is re-broadcast.

use super::member::{status_rank, Member, MemberStatus, SwimState};
use super::message::{MemberRecord, Update};
use super::suspicion::{confirmations_needed, suspicion_min_ms, Suspicion};
use super::swim::{Entry, MemberEvent, Pruned, Swim, PRUNED_MAX};

/// The highest incarnation news may carry. A member raises its own by one per refutation or
/// change (it starts at the agent's start time in ms, about 2^41), so half of `u64` is never
/// reached honestly; news above it is dropped, so that no packet can push an incarnation to
/// where raising it overflows (and the member could never refute again).
pub const INCARNATION_MAX: u64 = u64::MAX / 2;

impl Swim {
    pub(crate) fn apply_update(&mut self, update: Update, now_ms: u64) {
        if update_incarnation(&update) > INCARNATION_MAX {
            self.stats.dropped_malformed += 1;
            return;
        }
        match update {
            Update::Alive(member) => self.apply_alive(member, now_ms),
            Update::Suspect {
                name,
                incarnation,
                from,
            } => self.apply_suspect(&name, incarnation, &from, now_ms),
            Update::Dead {
                name,
                incarnation,
                from,
            } => self.apply_dead(&name, incarnation, &from, now_ms),
            Update::Prune { name, incarnation } => self.apply_prune(&name, incarnation, now_ms),
        }
    }

    /// Someone claims something about us at `claimed` >= our incarnation: we outbid it.
    pub(crate) fn refute(&mut self, claimed: u64) {
        assert!(
            claimed <= INCARNATION_MAX,
            "claims above the bound are dropped"
        );
        let me = self
            .members
            .get_mut(&self.me)
            .expect("we are always a member");
        me.member.incarnation = me.member.incarnation.max(claimed) + 1;
        let alive = me.member.clone();
        self.stats.refutations += 1;
        self.apply_health_delta(1);
        self.enqueue(Update::Alive(alive));
    }

    pub(crate) fn apply_alive(&mut self, member: Member, now_ms: u64) {
        if member.name == self.me {
            let mine = self.me();
            let differs = member != *mine;
            if member.incarnation > mine.incarnation
                || (differs && member.incarnation == mine.incarnation)
            {
                self.refute(member.incarnation);
            }
            return;
        }
        if self.is_pruned(&member.name, member.incarnation) {
            self.stats.dropped_pruned += 1;
            return;
        }
        let Some(entry) = self.members.get(&member.name) else {
            // News that a member we never knew left introduces nobody (memberlist creates
            // no member from a leave): otherwise two agents that reap it a push/pull apart
            // hand it back to each other forever.
            if member.announced == MemberStatus::Left {
                self.stats.dropped_unknown += 1;
                return;
            }
            return self.add_member(member, now_ms);
        };
        if !alive_wins(entry, &member) {
            self.stats.dropped_stale += 1;
            return;
        }
        let state = if member.announced == MemberStatus::Left {
            SwimState::Left
        } else {
            SwimState::Alive
        };
        self.set_member(member.clone(), state, now_ms);
        self.enqueue(Update::Alive(member));
    }

    fn add_member(&mut self, member: Member, now_ms: u64) {
        if self.members.len() >= self.options.members_max {
            self.stats.dropped_over_members_max += 1;
            return;
        }
        let name = member.name.clone();
        let state = if member.announced == MemberStatus::Left {
            SwimState::Left
        } else {
            SwimState::Alive
        };
        let entry = Entry {
            member: member.clone(),
            state,
            state_since_ms: now_ms,
        };
        self.members.insert(name.clone(), entry);
        let at = self.rng.range(0, self.probe_order.len() as u64 + 1) as usize;
        self.probe_order.insert(at, name.clone());
        self.event(&name, state);
        self.enqueue(Update::Alive(member));
    }

    /// Replaces a known member's record and state; clears its suspicion; reports a change.
    fn set_member(&mut self, member: Member, state: SwimState, now_ms: u64) {
        let name = member.name.clone();
        let entry = self
            .members
            .get_mut(&name)
            .expect("caller checked the member is known");
        let changed = entry.state != state;
        entry.member = member;
        entry.state = state;
        if changed {
            entry.state_since_ms = now_ms;
            self.suspicions.remove(&name);
            self.event(&name, state);
        }
    }

    /// What a suspicion and a death share: one about us is refuted; one about a member we
    /// do not know, or hold at a newer incarnation, or already dead or left, is dropped and
    /// counted. Returns whether the claim is to be applied.
    fn accusation_applies(&mut self, name: &str, incarnation: u64) -> bool {
        if name == self.me {
            if incarnation >= self.me().incarnation {
                self.refute(incarnation);
            }
            return false;
        }
        let Some(entry) = self.members.get(name) else {
            self.stats.dropped_unknown += 1;
            return false;
        };
        if incarnation < entry.member.incarnation
            || matches!(entry.state, SwimState::Dead | SwimState::Left)
        {
            self.stats.dropped_stale += 1;
            return false;
        }
        true
    }

    pub(crate) fn apply_suspect(&mut self, name: &str, incarnation: u64, from: &str, now_ms: u64) {
        if !self.accusation_applies(name, incarnation) {
            return;
        }
        let update = Update::Suspect {
            name: name.into(),
            incarnation,
            from: from.into(),
        };
        if let Some(suspicion) = self.suspicions.get_mut(name) {
            if suspicion.confirm(from) {
                self.stats.suspicion_confirmations += 1;
                self.enqueue(update);
            }
            return;
        }
        self.start_suspicion(name, incarnation, from, now_ms);
        self.enqueue(update);
    }

    fn start_suspicion(&mut self, name: &str, incarnation: u64, from: &str, now_ms: u64) {
        let n = self.members_n();
        let min_ms = suspicion_min_ms(
            self.options.suspicion_mult,
            n,
            self.options.probe_interval_ms,
        );
        let max_ms = min_ms * u64::from(self.options.suspicion_max_timeout_mult.max(1));
        let needed = confirmations_needed(self.options.suspicion_mult, n);
        let entry = self
            .members
            .get_mut(name)
            .expect("caller checked the member is known");
        entry.member.incarnation = incarnation;
        entry.state = SwimState::Suspect;
        entry.state_since_ms = now_ms;
        let suspicion = Suspicion::new(from, min_ms, max_ms, needed, now_ms);
        self.suspicions.insert(name.to_string(), suspicion);
        self.stats.suspicions_started += 1;
        self.event(name, SwimState::Suspect);
    }

    pub(crate) fn apply_dead(&mut self, name: &str, incarnation: u64, from: &str, now_ms: u64) {
        if !self.accusation_applies(name, incarnation) {
            return;
        }
        let mut member = self.members[name].member.clone();
        member.incarnation = incarnation;
        self.set_member(member, SwimState::Dead, now_ms);
        self.enqueue(Update::Dead {
            name: name.into(),
            incarnation,
            from: from.into(),
        });
    }

    /// A `force-leave -prune` from elsewhere: a member we hold dead or left is forgotten (and
    /// the prune passed on); one alive or suspect here is kept (it answers us, so the prune
    /// was made on a wrong view, as from across a partition); one we never knew is only
    /// remembered, so a stale record cannot introduce it, and not passed on.
    pub(crate) fn apply_prune(&mut self, name: &str, incarnation: u64, now_ms: u64) {
        if name == self.me {
            if incarnation >= self.me().incarnation {
                self.refute(incarnation);
            }
            return;
        }
        let Some(entry) = self.members.get(name) else {
            self.remember_prune(name, incarnation, now_ms);
            self.stats.dropped_unknown += 1;
            return;
        };
        let gone = matches!(entry.state, SwimState::Dead | SwimState::Left);
        if entry.member.incarnation > incarnation || !gone {
            self.stats.dropped_stale += 1;
            return;
        }
        self.remember_prune(name, incarnation, now_ms);
        self.remove_member(name);
        self.enqueue(Update::Prune {
            name: name.into(),
            incarnation,
        });
    }

    /// Returns whether this prune is news to us.
    pub(crate) fn remember_prune(&mut self, name: &str, incarnation: u64, now_ms: u64) -> bool {
        let expires_ms = now_ms + self.options.tombstone_timeout_ms;
        if self
            .pruned
            .get(name)
            .is_some_and(|p| p.incarnation >= incarnation)
        {
            return false;
        }
        if !self.pruned.contains_key(name) && self.pruned.len() >= PRUNED_MAX {
            let oldest = self
                .pruned
                .iter()
                .min_by_key(|(_, p)| p.expires_ms)
                .map(|(k, _)| k.clone());
            oldest.map(|k| self.pruned.remove(&k));
        }
        self.pruned.insert(
            name.to_string(),
            Pruned {
                incarnation,
                expires_ms,
            },
        );
        true
    }

    fn is_pruned(&mut self, name: &str, incarnation: u64) -> bool {
        match self.pruned.get(name) {
            Some(p) if incarnation <= p.incarnation => true,
            Some(_) => {
                // It really came back (a higher incarnation): forget the prune.
                self.pruned.remove(name);
                false
            }
            None => false,
        }
    }

    pub(crate) fn remove_member(&mut self, name: &str) {
        assert_ne!(name, self.me, "we never remove ourselves");
        if self.members.remove(name).is_some() {
            self.suspicions.remove(name);
            self.probe_order.retain(|n| n != name);
            self.events.push_back(MemberEvent::Reaped {
                name: name.to_string(),
            });
        }
    }

    /// Push/pull records: Alive/Left as alive news; Suspect/Dead as a suspicion (memberlist
    /// verifies a remote death itself rather than trusting it), refuted if about us.
    pub(crate) fn merge_records(&mut self, records: Vec<MemberRecord>, from: &str, now_ms: u64) {
        for record in records {
            let MemberRecord { mut member, state } = record;
            if member.incarnation > INCARNATION_MAX {
                self.stats.dropped_malformed += 1;
                continue;
            }
            match state {
                SwimState::Alive => self.apply_alive(member, now_ms),
                SwimState::Left => {
                    member.announced = MemberStatus::Left;
                    self.apply_alive(member, now_ms)
                }
                SwimState::Suspect | SwimState::Dead => {
                    self.apply_suspect(&member.name, member.incarnation, from, now_ms)
                }
            }
        }
    }
}

fn update_incarnation(update: &Update) -> u64 {
    match update {
        Update::Alive(member) => member.incarnation,
        Update::Suspect { incarnation, .. }
        | Update::Dead { incarnation, .. }
        | Update::Prune { incarnation, .. } => *incarnation,
    }
}

/// Whether alive news `member` wins over what we hold in `entry`.
fn alive_wins(entry: &Entry, member: &Member) -> bool {
    let held = &entry.member;
    if member.incarnation != held.incarnation {
        return member.incarnation > held.incarnation;
    }
    let rank_up = status_rank(member.announced) > status_rank(held.announced);
    // At the same incarnation a change of tags cannot be told from a stale copy: only a
    // stronger announcement wins, and over a suspect or dead member only force-leave's Left.
    match entry.state {
        SwimState::Left => false,
        SwimState::Alive => rank_up,
        SwimState::Suspect | SwimState::Dead => rank_up && member.announced == MemberStatus::Left,
    }
}
