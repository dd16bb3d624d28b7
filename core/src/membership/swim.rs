//! The SWIM failure detector with Lifeguard (memberlist + serf semantics, as Consul runs them),
//! sans-IO: packets and timeouts in with `now_ms`, transmits and events out. Probing lives in
//! probe.rs, the rules for news in merge.rs, periodic work in periodic.rs.

use super::broadcast::{retransmit_limit, update_size_bytes, BroadcastQueue, PACKET_HEADER_BYTES};
use super::member::{Member, MemberStatus, Role, SwimState};
use super::message::{Channel, GossipBody, GossipPacket, Transmit, Update};
use super::options::MembershipOptions;
use super::probe::{Helping, Probe};
use super::stats::MembershipStats;
use super::suspicion::Suspicion;
use crate::rng::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberEvent {
    /// Alive (joined or refuted), Suspect, Dead or Left.
    StateChanged {
        name: String,
        state: SwimState,
    },
    Reaped {
        name: String,
    },
    JoinAnswered {
        join_id: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceLeaveError {
    Unknown,
    NotFailed,
}

impl fmt::Display for ForceLeaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForceLeaveError::Unknown => write!(f, "agent: No node found with name"),
            ForceLeaveError::NotFailed => write!(f, "agent: Node is not in a failed state"),
        }
    }
}

impl std::error::Error for ForceLeaveError {}

/// One member as this detector holds it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub member: Member,
    pub state: SwimState,
    /// When `state` last changed (our clock): reaping and gossip-to-the-dead count from it.
    pub state_since_ms: u64,
}

/// A `force-leave -prune` remembered so stale news of that incarnation cannot resurrect it.
#[derive(Clone, Debug)]
pub struct Pruned {
    pub incarnation: u64,
    pub expires_ms: u64,
}

/// The most prunes remembered at once (a bounded map: the oldest-expiring is forgotten).
pub const PRUNED_MAX: usize = 1_024;

#[derive(Clone, Debug)]
pub struct Swim {
    pub(crate) me: String,
    pub(crate) options: MembershipOptions,
    pub(crate) rng: Rng,
    pub(crate) members: BTreeMap<String, Entry>,
    pub(crate) suspicions: BTreeMap<String, Suspicion>,
    /// Randomized round-robin: shuffled once per pass, new members inserted at random.
    pub(crate) probe_order: Vec<String>,
    pub(crate) probe_index: usize,
    pub(crate) next_probe_ms: u64,
    pub(crate) probe: Option<Probe>,
    /// Ping-reqs we serve, by the seq of our own ping to the target.
    pub(crate) helping: BTreeMap<u64, Helping>,
    pub(crate) seq_next: u64,
    pub(crate) broadcasts: BroadcastQueue,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<MemberEvent>,
    pub(crate) health: u32,
    pub(crate) next_gossip_ms: u64,
    pub(crate) next_push_pull_ms: u64,
    pub(crate) next_reconnect_ms: u64,
    pub(crate) pruned: BTreeMap<String, Pruned>,
    /// When we last took any input (a packet, a timeout, a join): a long gap means we were
    /// not running (see `periodic.rs`, stalls).
    pub(crate) last_input_ms: u64,
    pub(crate) stats: MembershipStats,
}

impl Swim {
    pub fn new(me: Member, options: MembershipOptions, seed: u64, now_ms: u64) -> Swim {
        assert!(options.members_max > 0 && options.probe_interval_ms > 0);
        assert!(options.awareness_max_multiplier > 0 && options.gossip_interval_ms > 0);
        let name = me.name.clone();
        let entry = Entry {
            member: me,
            state: SwimState::Alive,
            state_since_ms: now_ms,
        };
        let mut swim = Swim {
            me: name.clone(),
            rng: Rng::new(seed),
            members: BTreeMap::from([(name, entry)]),
            suspicions: BTreeMap::new(),
            probe_order: Vec::new(),
            probe_index: 0,
            next_probe_ms: now_ms + options.probe_interval_ms,
            probe: None,
            helping: BTreeMap::new(),
            seq_next: 0,
            broadcasts: BroadcastQueue::new(options.members_max),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            health: 0,
            next_gossip_ms: now_ms + options.gossip_interval_ms,
            next_push_pull_ms: now_ms + options.push_pull_interval_ms,
            next_reconnect_ms: now_ms + options.reconnect_interval_ms,
            pruned: BTreeMap::new(),
            last_input_ms: now_ms,
            stats: MembershipStats::default(),
            options,
        };
        swim.enqueue(Update::Alive(swim.me().clone()));
        swim
    }

    pub fn options(&self) -> &MembershipOptions {
        &self.options
    }

    pub fn me(&self) -> &Member {
        &self.members[&self.me].member
    }

    pub fn get(&self, name: &str) -> Option<&Member> {
        self.members.get(name).map(|e| &e.member)
    }

    pub fn swim_state(&self, name: &str) -> Option<SwimState> {
        self.members.get(name).map(|e| e.state)
    }

    /// Consul's status: Dead -> failed, Left (or announced left) -> left, announced leaving
    /// -> leaving, alive and suspect -> alive. We are always as we announce ourselves.
    pub fn status(&self, name: &str, _now_ms: u64) -> Option<MemberStatus> {
        let entry = self.members.get(name)?;
        let announced = entry.member.announced;
        Some(match entry.state {
            _ if name == self.me => announced,
            SwimState::Dead => MemberStatus::Failed,
            SwimState::Left => MemberStatus::Left,
            SwimState::Alive | SwimState::Suspect => match announced {
                MemberStatus::Failed => MemberStatus::Alive,
                other => other,
            },
        })
    }

    /// Every member with its status: servers first, then by name (as `consul members`).
    pub fn list(&self, now_ms: u64) -> Vec<(Member, MemberStatus)> {
        let mut list: Vec<(Member, MemberStatus)> = self
            .members
            .iter()
            .map(|(name, e)| (e.member.clone(), self.status(name, now_ms).expect("listed")))
            .collect();
        list.sort_by(|(a, _), (b, _)| (a.role, &a.name).cmp(&(b.role, &b.name)));
        list
    }

    /// Alive servers of `datacenter`, by name.
    pub fn alive_servers(&self, datacenter: &str, now_ms: u64) -> Vec<Member> {
        self.list(now_ms)
            .into_iter()
            .filter(|(m, s)| {
                m.role == Role::Server && m.datacenter == datacenter && *s == MemberStatus::Alive
            })
            .map(|(m, _)| m)
            .collect()
    }

    /// Lifeguard's local health score, 0..awareness_max_multiplier-1 (0 is healthy).
    pub fn health_score(&self) -> u32 {
        self.health
    }

    pub fn stats(&self) -> &MembershipStats {
        &self.stats
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// Members that count for the formulas: neither dead nor left, us included.
    pub fn members_n(&self) -> usize {
        self.members
            .values()
            .filter(|e| matches!(e.state, SwimState::Alive | SwimState::Suspect))
            .count()
    }

    /// The number of queued broadcasts (tests and metrics).
    pub fn broadcasts_queued(&self) -> usize {
        self.broadcasts.len()
    }

    /// The probe interval scaled by Lifeguard's health score.
    pub fn probe_interval_scaled_ms(&self) -> u64 {
        self.options.probe_interval_ms * u64::from(self.health + 1)
    }

    /// Lifeguard awareness: moves the score within 0..max-1.
    pub(crate) fn apply_health_delta(&mut self, delta: i64) {
        let max = i64::from(self.options.awareness_max_multiplier) - 1;
        let score = (i64::from(self.health) + delta).clamp(0, max);
        self.health = u32::try_from(score).expect("clamped to u32 range");
    }

    pub(crate) fn enqueue(&mut self, update: Update) {
        if self.broadcasts.push(update) {
            self.stats.broadcasts_dropped_queue_full += 1;
        }
    }

    pub(crate) fn event(&mut self, name: &str, state: SwimState) {
        let name = name.to_string();
        self.events
            .push_back(MemberEvent::StateChanged { name, state });
    }

    /// Queues a packet; datagrams also carry `first` and as many queued broadcasts as fit.
    pub(crate) fn send(
        &mut self,
        to: &str,
        channel: Channel,
        body: GossipBody,
        first: Vec<Update>,
    ) {
        let mut updates = first;
        if channel == Channel::Datagram {
            let budget_bytes = self.piggyback_budget_bytes(&body, &updates);
            let limit = retransmit_limit(self.options.retransmit_mult, self.members_n());
            updates.extend(self.broadcasts.take(budget_bytes, limit));
        }
        let packet = GossipPacket {
            from: self.me.clone(),
            from_addr: self.me().gossip_addr.clone(),
            body,
            updates,
        };
        self.transmits.push_back(Transmit {
            to: to.to_string(),
            channel,
            packet,
        });
    }

    fn piggyback_budget_bytes(&self, body: &GossipBody, first: &[Update]) -> usize {
        let body_bytes = match body {
            GossipBody::Ping { target, .. } => target.len(),
            GossipBody::PingReq {
                target,
                target_addr,
                ..
            } => target.len() + target_addr.len(),
            _ => 0,
        };
        let used_bytes = PACKET_HEADER_BYTES
            + self.me.len()
            + self.me().gossip_addr.len()
            // The envelope the agent puts around the packet names our RPC address.
            + self.me().rpc_addr.len()
            + body_bytes
            + first.iter().map(update_size_bytes).sum::<usize>();
        self.options
            .udp_payload_bytes_max
            .saturating_sub(used_bytes)
    }
}
