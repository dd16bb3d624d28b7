//! Inputs from the outside: packets, joins, and our own record changing (leave, tags).

use super::member::{Member, MemberStatus, SwimState};
use super::message::{Channel, GossipBody, GossipPacket, MemberRecord, Update};
use super::swim::{ForceLeaveError, MemberEvent, Swim};

impl Swim {
    /// One packet from the network. Piggybacked updates are applied first (a suspect ping
    /// carries its suspicion so we refute before acking). Bad input is dropped and counted.
    pub fn handle_packet(&mut self, packet: GossipPacket, channel: Channel, now_ms: u64) {
        let GossipPacket {
            from,
            from_addr,
            body,
            updates,
        } = packet;
        self.last_input_ms = self.last_input_ms.max(now_ms);
        if from == self.me || updates.len() > self.options.members_max {
            self.stats.dropped_malformed += 1;
            return;
        }
        let suspects_me = updates.iter().any(|u| match u {
            Update::Suspect { name, .. } | Update::Dead { name, .. } => *name == self.me,
            _ => false,
        });
        for update in updates {
            self.apply_update(update, now_ms);
        }
        match body {
            GossipBody::Ping { seq, target } => {
                self.on_ping(seq, &target, &from_addr, (channel, suspects_me))
            }
            GossipBody::Ack { seq } => self.on_ack(seq),
            GossipBody::PingReq {
                seq,
                target,
                target_addr,
            } => self.on_ping_req(seq, &target, &target_addr, &from_addr, now_ms),
            GossipBody::Nack { seq } => self.on_nack(seq),
            GossipBody::PushPull {
                records,
                reply_wanted,
                join_id,
            } => self.on_push_pull(records, reply_wanted, join_id, (&from, &from_addr), now_ms),
            GossipBody::Empty => {}
        }
    }

    fn on_push_pull(
        &mut self,
        records: Vec<MemberRecord>,
        reply_wanted: bool,
        join_id: Option<u64>,
        (from, from_addr): (&str, &str),
        now_ms: u64,
    ) {
        if records.len() > self.options.members_max || (reply_wanted && from_addr.is_empty()) {
            self.stats.dropped_malformed += 1;
            return;
        }
        self.merge_records(records, from, now_ms);
        if reply_wanted {
            let body = GossipBody::PushPull {
                records: self.records(),
                reply_wanted: false,
                join_id,
            };
            self.send(from_addr, Channel::Stream, body, Vec::new());
        } else if let Some(join_id) = join_id {
            self.events.push_back(MemberEvent::JoinAnswered { join_id });
        }
    }

    /// Our whole table as push/pull records (bounded by `members_max`, as the table is).
    pub(crate) fn records(&self) -> Vec<MemberRecord> {
        let records: Vec<MemberRecord> = self
            .members
            .values()
            .map(|e| MemberRecord {
                member: e.member.clone(),
                state: e.state,
            })
            .collect();
        debug_assert!(records.len() <= self.options.members_max);
        records
    }

    /// Joins through `addr`: a push/pull over the stream; the answer echoes `join_id`.
    pub fn join(&mut self, addr: &str, join_id: Option<u64>, _now_ms: u64) {
        let body = GossipBody::PushPull {
            records: self.records(),
            reply_wanted: true,
            join_id,
        };
        self.stats.push_pulls_sent += 1;
        self.send(addr, Channel::Stream, body, Vec::new());
    }

    /// Changes our own record (tags, Leaving/Left); the incarnation rises so the change wins
    /// everywhere, and it is broadcast. The name cannot change.
    pub fn update_me(&mut self, change: impl FnOnce(&mut Member)) {
        let me = self
            .members
            .get_mut(&self.me)
            .expect("we are always a member");
        let before_incarnation = me.member.incarnation;
        change(&mut me.member);
        me.member.name = self.me.clone();
        me.member.incarnation = me.member.incarnation.max(before_incarnation + 1);
        let alive = me.member.clone();
        self.enqueue(Update::Alive(alive));
    }

    /// Our record to every member not left, now, by datagram and by stream (a leave must
    /// survive loss: the agent shuts down right after).
    pub fn announce_to_all(&mut self) {
        let me = self.me().clone();
        let targets: Vec<String> = self
            .members
            .iter()
            .filter(|(n, e)| **n != self.me && e.state != SwimState::Left)
            .map(|(_, e)| e.member.gossip_addr.clone())
            .collect();
        for addr in targets {
            let first = vec![Update::Alive(me.clone())];
            self.send(&addr, Channel::Datagram, GossipBody::Empty, first.clone());
            self.send(&addr, Channel::Stream, GossipBody::Empty, first);
        }
    }

    /// `consul force-leave`: a dead member is marked left (or, with `prune`, forgotten now
    /// and remembered as pruned so stale news of it cannot bring it back).
    pub fn force_leave(
        &mut self,
        name: &str,
        prune: bool,
        now_ms: u64,
    ) -> Result<(), ForceLeaveError> {
        let entry = self.members.get(name).ok_or(ForceLeaveError::Unknown)?;
        let allowed = entry.state == SwimState::Dead || (prune && entry.state == SwimState::Left);
        if name == self.me || !allowed {
            return Err(ForceLeaveError::NotFailed);
        }
        let incarnation = entry.member.incarnation;
        if prune {
            self.remember_prune(name, incarnation, now_ms);
            self.remove_member(name);
            self.enqueue(Update::Prune {
                name: name.to_string(),
                incarnation,
            });
            return Ok(());
        }
        let mut member = entry.member.clone();
        member.announced = MemberStatus::Left;
        let entry = self.members.get_mut(name).expect("checked above");
        entry.member = member.clone();
        entry.state = SwimState::Left;
        entry.state_since_ms = now_ms;
        self.suspicions.remove(name);
        self.event(name, SwimState::Left);
        self.enqueue(Update::Alive(member));
        Ok(())
    }
}
