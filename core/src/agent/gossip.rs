//! The agent's side of membership: it hands the SWIM detector (`crate::membership`) time and
//! packets, sends what the detector asks (probes as datagrams, full syncs as streams), and
//! acts on what it reports: joins answered, members failing, leaving, or reaped.

use super::api::Response;
use super::pending::{Origin, Pending, Waiting};
use super::wire::WireMessage;
use super::{Agent, LogLevel};
use crate::membership::{Channel, GossipPacket, MemberEvent, SwimState};
use std::collections::BTreeMap;

/// Reaped members remembered so the leader can take their nodes out of the catalog; more are
/// forgotten oldest first (a node left behind is still deregistered by `force-leave`).
pub const REAPED_REMEMBERED_MAX: usize = 1024;
/// The longest a `join` waits for its answer (`request_timeout_ms` if shorter).
pub const JOIN_TIMEOUT_MS: u64 = 5_000;
/// How often an unanswered join pushes again, within its timeout.
pub const JOIN_RESEND_INTERVAL_MS: u64 = 1_000;
const _: () = assert!(JOIN_RESEND_INTERVAL_MS < JOIN_TIMEOUT_MS);

impl Agent {
    /// Runs the detector's timers when one is due, then sends what it asks for.
    pub(super) fn tick_membership(&mut self) {
        if self.now_ms >= self.membership.next_deadline_ms() {
            self.membership.handle_timeout(self.now_ms);
        }
        self.drain_membership();
    }

    pub(super) fn on_gossip(&mut self, packet: GossipPacket, channel: Channel) {
        let sender_addr = packet.from_addr.clone();
        self.membership.handle_packet(packet, channel, self.now_ms);
        self.join_sender_if_alone(&sender_addr);
        self.drain_membership();
    }

    /// A restarted agent knows nobody (membership is not kept on disk) while the others still
    /// gossip to it, as to any member dead for less than `gossip_to_the_dead_ms`: it answers
    /// the first of them with a full state exchange, at most once a reconcile interval.
    fn join_sender_if_alone(&mut self, sender_addr: &str) {
        let alone = self.membership.members_n() <= 1;
        let due = self.now_ms >= self.alone_join_deadline_ms;
        if !alone || !due || sender_addr == self.config.gossip_addr {
            return;
        }
        self.alone_join_deadline_ms = self.now_ms + self.config.reconcile_interval_ms;
        self.membership.join(sender_addr, None, self.now_ms);
    }

    /// Sends the detector's packets and acts on its events, in the order it produced them.
    pub(super) fn drain_membership(&mut self) {
        while let Some(transmit) = self.membership.poll_transmit() {
            let channel = transmit.channel;
            let msg = WireMessage::Gossip {
                packet: transmit.packet,
                channel,
            };
            match channel {
                Channel::Datagram => self.send_datagram(transmit.to, msg),
                Channel::Stream => self.send(transmit.to, msg),
            }
        }
        while let Some(event) = self.membership.poll_event() {
            self.on_member_event(event);
        }
    }

    fn on_member_event(&mut self, event: MemberEvent) {
        match event {
            MemberEvent::JoinAnswered { join_id } => self.answer_join(join_id),
            MemberEvent::StateChanged { name, state } => self.log_member_state(&name, state),
            MemberEvent::Reaped { name } => {
                self.log(LogLevel::Info, format!("serf: EventMemberReap: {name}"));
                remember_reaped(&mut self.reaped, name, self.now_ms);
            }
        }
    }

    /// Consul's serf and memberlist log lines, which operators grep for.
    fn log_member_state(&mut self, name: &str, state: SwimState) {
        let ip = self.membership.get(name).map(|m| m.ip().to_string());
        let ip = ip.unwrap_or_default();
        let (level, line) = match state {
            SwimState::Alive => (
                LogLevel::Info,
                format!("serf: EventMemberJoin: {name} {ip}"),
            ),
            SwimState::Suspect => (
                LogLevel::Info,
                format!("memberlist: Suspect {name} has failed, no acks received"),
            ),
            SwimState::Dead => (
                LogLevel::Info,
                format!("serf: EventMemberFailed: {name} {ip}"),
            ),
            SwimState::Left => (
                LogLevel::Info,
                format!("serf: EventMemberLeave: {name} {ip}"),
            ),
        };
        self.log(level, line);
    }

    /// The answer to a `join` arrived: the waiting request (if it still waits) succeeds.
    fn answer_join(&mut self, join_id: u64) {
        let waiting_join = self
            .pending
            .get_mut(join_id)
            .is_some_and(|p| matches!(p.waiting, Waiting::Join { .. }));
        if !waiting_join {
            return;
        }
        let pending = self.pending.remove(join_id).expect("just found");
        self.reply(pending.origin, Ok(Response::Joined { contacted: 1 }));
    }

    /// `join ADDR`: a full state exchange with ADDR; answered when its table comes back.
    pub(super) fn start_join(&mut self, origin: Origin, addr: String) {
        let deadline_ms = self.now_ms + self.config.request_timeout_ms.min(JOIN_TIMEOUT_MS);
        let waiting = Waiting::Join {
            addr: addr.clone(),
            resend_at_ms: self.now_ms + JOIN_RESEND_INTERVAL_MS,
        };
        let join_id = self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting,
        });
        self.membership.join(&addr, Some(join_id), self.now_ms);
        self.drain_membership();
    }

    /// Unanswered joins push again. A push can be lost without a word from TCP: written into a
    /// connection whose peer restarted while a partition hid the old socket's close, it is
    /// accepted locally and answered by a reset. The exchange is idempotent; the first answer
    /// ends the join, later ones find nothing waiting.
    pub(super) fn resend_unanswered_joins(&mut self) {
        let now_ms = self.now_ms;
        let due = self.pending.ids_where(
            |p| matches!(p.waiting, Waiting::Join { resend_at_ms, .. } if resend_at_ms <= now_ms),
        );
        for join_id in &due {
            let pending = self.pending.get_mut(*join_id).expect("just listed");
            let Waiting::Join { addr, resend_at_ms } = &mut pending.waiting else {
                unreachable!("listed as a join");
            };
            *resend_at_ms = now_ms + JOIN_RESEND_INTERVAL_MS;
            let addr = addr.clone();
            self.membership.join(&addr, Some(*join_id), now_ms);
        }
        if !due.is_empty() {
            self.drain_membership();
        }
    }

    /// After a restart a server knows nobody until someone gossips with it; the Raft
    /// configuration remembers its peers' addresses (every listener takes every message).
    pub(super) fn rejoin_raft_peers_if_alone(&mut self) {
        if self.membership.list(self.now_ms).len() > 1 {
            return;
        }
        let Some(addr) = self.raft_peer_addr() else {
            return;
        };
        self.membership.join(&addr, None, self.now_ms);
        self.drain_membership();
    }

    /// A random Raft peer's address (not ours), if we are in a configuration with others.
    fn raft_peer_addr(&mut self) -> Option<String> {
        let raft = self.raft.as_ref()?;
        let peers: Vec<String> = raft
            .config()
            .addresses
            .iter()
            .filter(|(id, _)| id.as_str() != self.config.node_name)
            .map(|(_, a)| a.clone())
            .collect();
        if peers.is_empty() {
            return None;
        }
        Some(peers[self.rng.range(0, peers.len() as u64) as usize].clone())
    }

    /// Our own record to every member at once (leave announcements).
    pub(super) fn gossip_to_all(&mut self) {
        self.membership.announce_to_all();
        self.drain_membership();
    }
}

fn remember_reaped(reaped: &mut BTreeMap<String, u64>, name: String, now_ms: u64) {
    reaped.insert(name, now_ms);
    while reaped.len() > REAPED_REMEMBERED_MAX {
        let oldest = reaped
            .iter()
            .min_by_key(|(name, at)| (**at, (*name).clone()))
            .map(|(name, _)| name.clone())
            .expect("over the maximum, so not empty");
        reaped.remove(&oldest);
    }
    assert!(reaped.len() <= REAPED_REMEMBERED_MAX);
}
