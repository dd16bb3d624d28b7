//! A deterministic discrete-event world of N `Swim` machines: one event queue ordered by
//! (time, sequence number), a seeded latency and loss model, process death and pauses. Time is
//! kept in microseconds (LAN latencies are below a millisecond); machines see milliseconds.

#[cfg(test)]
use super::SwimState;
use super::{Channel, GossipBody, GossipPacket, MemberEvent, Options, Swim, Transmit};
use concord_core::membership::{Member, MemberStatus, Role};
use concord_core::rng::Rng;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// The network: datagrams (UDP) are delayed and may be lost; streams (TCP) retransmit, so
/// they are never lost, only delayed: a little more than a datagram, and by a retransmission
/// timeout for each lost segment. Each stream message is one data segment; a request (not an
/// ack or a push-pull reply, which go back on the caller's connection) also opens a
/// connection, whose lost SYN waits Linux's initial 1 s timeout. Without this, a lossless
/// TCP fallback ping would answer every probe and loss could never cause a suspicion.
#[derive(Clone, Debug)]
pub struct LinkModel {
    pub datagram_latency_us_min: u64,
    pub datagram_latency_us_max: u64,
    /// Added to a datagram's latency for a stream message (connection, acknowledgements).
    pub stream_extra_us_max: u64,
    /// Loss probability of one datagram (and of one TCP segment), in parts per million.
    pub datagram_loss_ppm: u64,
    /// TCP's retransmission timeouts: a lost SYN, a lost data segment (both double per retry).
    pub stream_syn_rto_us: u64,
    pub stream_data_rto_us: u64,
}

impl LinkModel {
    /// A LAN: 0.2-2 ms one way, streams up to 0.5 ms more, no loss.
    pub fn lan() -> LinkModel {
        LinkModel {
            datagram_latency_us_min: 200,
            datagram_latency_us_max: 2_000,
            stream_extra_us_max: 500,
            datagram_loss_ppm: 0,
            stream_syn_rto_us: 1_000_000,
            stream_data_rto_us: 200_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Up,
    /// Neither timeouts nor deliveries run; packets wait in the socket buffer until `until_us`.
    Paused {
        until_us: u64,
    },
    /// Gone for good: packets to it are dropped, its timers never run.
    Dead,
}

/// Messages sent (by live machines) and how many never arrived, since the last reset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub datagrams_sent: u64,
    pub streams_sent: u64,
    pub dropped_lost: u64,
    pub dropped_to_dead: u64,
    pub dropped_unknown_addr: u64,
}

/// A machine's event, with when and where it happened.
#[derive(Clone, Debug)]
pub struct Observed {
    pub at_us: u64,
    pub observer: usize,
    pub event: MemberEvent,
}

#[derive(Clone)]
enum Event {
    Wake {
        node: usize,
    },
    Deliver {
        to: usize,
        channel: Channel,
        packet: GossipPacket,
    },
    Resume {
        node: usize,
    },
}

#[derive(Clone)]
struct Scheduled {
    at_us: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.seq).cmp(&(self.at_us, self.seq))
    }
}

#[derive(Clone)]
struct Node {
    swim: Swim,
    process: Process,
    /// The wake-up currently scheduled (`u64::MAX`: none); older queued wakes are stale.
    wake_us: u64,
    /// Packets that arrived while paused, in arrival order.
    socket_buffer: Vec<(GossipPacket, Channel)>,
}

/// Cloneable, so a formed cluster can serve several trials (forming 1,000 members is the
/// costliest part of a trial).
#[derive(Clone)]
pub struct World {
    now_us: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    nodes: Vec<Node>,
    addrs: HashMap<String, usize>,
    rng: Rng,
    pub link: LinkModel,
    pub traffic: Traffic,
    observed: Vec<Observed>,
    /// Times a machine's deadline was not after `now` right after `handle_timeout` ran (the
    /// world then wakes it 1 ms later instead of spinning); nonzero is a machine bug.
    pub deadline_stalls: u64,
}

/// The member record of machine `index` (names sort in index order).
pub fn member(index: usize) -> Member {
    Member {
        name: node_name(index),
        gossip_addr: gossip_addr(index),
        rpc_addr: format!(
            "10.{}.{}.{}:8300",
            index >> 16,
            (index >> 8) & 255,
            index & 255
        ),
        role: Role::Client,
        datacenter: "dc1".into(),
        bootstrap_expect: 0,
        in_raft: false,
        build: "bench".into(),
        incarnation: 0,
        announced: MemberStatus::Alive,
    }
}

/// Whether a stream message answers on the caller's connection (no new handshake).
fn is_reply(packet: &GossipPacket) -> bool {
    match &packet.body {
        GossipBody::Ack { .. } => true,
        GossipBody::PushPull { reply_wanted, .. } => !reply_wanted,
        _ => false,
    }
}

pub fn node_name(index: usize) -> String {
    format!("n{index:04}")
}

fn gossip_addr(index: usize) -> String {
    format!(
        "10.{}.{}.{}:8301",
        index >> 16,
        (index >> 8) & 255,
        index & 255
    )
}

impl World {
    /// `n` machines, none knowing another yet; machine i's own seed derives from `seed`.
    pub fn new(n: usize, options: &Options, link: LinkModel, seed: u64) -> World {
        assert!(n > 0, "a world needs a member");
        let mut seeds = Rng::new(seed);
        let nodes: Vec<Node> = (0..n)
            .map(|i| Node {
                swim: Swim::new(member(i), options.clone(), seeds.next_u64(), 0),
                process: Process::Up,
                wake_us: u64::MAX,
                socket_buffer: Vec::new(),
            })
            .collect();
        let addrs = (0..n).map(|i| (gossip_addr(i), i)).collect();
        let mut world = World {
            now_us: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            addrs,
            rng: Rng::new(seeds.next_u64()),
            link,
            traffic: Traffic::default(),
            observed: Vec::new(),
            deadline_stalls: 0,
        };
        (0..n).for_each(|i| world.drain(i, false));
        world
    }

    /// From now on the network draws from `seed` (a trial on a cloned, formed world).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    pub fn now_ms(&self) -> u64 {
        self.now_us / 1_000
    }

    pub fn swim(&self, node: usize) -> &Swim {
        &self.nodes[node].swim
    }

    pub fn process(&self, node: usize) -> Process {
        self.nodes[node].process
    }

    /// Machine `node` asks machine `seed_node` to join (a push-pull over a stream).
    pub fn join(&mut self, node: usize, seed_node: usize) {
        let now_ms = self.now_ms();
        self.nodes[node]
            .swim
            .join(&gossip_addr(seed_node), None, now_ms);
        self.drain(node, false);
    }

    pub fn kill(&mut self, node: usize) {
        let slot = &mut self.nodes[node];
        slot.process = Process::Dead;
        slot.wake_us = u64::MAX;
        slot.socket_buffer.clear();
    }

    /// Freezes a live machine for `duration_us` (a GC or scheduling pause).
    pub fn pause(&mut self, node: usize, duration_us: u64) {
        assert!(duration_us > 0, "a pause lasts");
        if self.nodes[node].process != Process::Up {
            return;
        }
        let until_us = self.now_us + duration_us;
        self.nodes[node].process = Process::Paused { until_us };
        self.schedule(until_us, Event::Resume { node });
    }

    /// Events the machines reported since the last call.
    pub fn take_observed(&mut self) -> Vec<Observed> {
        std::mem::take(&mut self.observed)
    }

    /// Runs every event due up to `until_us`, then sets the clock there.
    pub fn run_until(&mut self, until_us: u64) {
        assert!(until_us >= self.now_us, "time runs forward");
        while self.queue.peek().is_some_and(|s| s.at_us <= until_us) {
            let Some(next) = self.queue.pop() else { break };
            self.now_us = next.at_us;
            self.dispatch(next.event, next.at_us);
        }
        self.now_us = until_us;
    }

    fn dispatch(&mut self, event: Event, at_us: u64) {
        match event {
            Event::Wake { node } => {
                let slot = &self.nodes[node];
                if slot.process == Process::Up && slot.wake_us == at_us {
                    self.nodes[node].wake_us = u64::MAX;
                    let now_ms = self.now_ms();
                    self.nodes[node].swim.handle_timeout(now_ms);
                    self.drain(node, true);
                }
            }
            Event::Deliver {
                to,
                channel,
                packet,
            } => self.deliver(to, channel, packet),
            Event::Resume { node } => self.resume(node),
        }
    }

    fn deliver(&mut self, to: usize, channel: Channel, packet: GossipPacket) {
        match self.nodes[to].process {
            Process::Dead => self.traffic.dropped_to_dead += 1,
            Process::Paused { .. } => self.nodes[to].socket_buffer.push((packet, channel)),
            Process::Up => {
                let now_ms = self.now_ms();
                self.nodes[to].swim.handle_packet(packet, channel, now_ms);
                self.drain(to, false);
            }
        }
    }

    /// After a pause both the socket buffer and the overdue timers are ready; which a process
    /// sees first is a race (Go's select picks at random), so a coin decides: with timers
    /// first, a probe whose ack sits in the buffer fails, which is Lifeguard's case.
    fn resume(&mut self, node: usize) {
        if !matches!(self.nodes[node].process, Process::Paused { .. }) {
            return;
        }
        self.nodes[node].process = Process::Up;
        let now_ms = self.now_ms();
        let timers_first = self.rng.chance(1, 2);
        if timers_first {
            self.nodes[node].swim.handle_timeout(now_ms);
        }
        for (packet, channel) in std::mem::take(&mut self.nodes[node].socket_buffer) {
            self.nodes[node].swim.handle_packet(packet, channel, now_ms);
        }
        if !timers_first {
            self.nodes[node].swim.handle_timeout(now_ms);
        }
        self.drain(node, true);
    }

    /// Sends what the machine wants sent, records its events, schedules its next wake-up.
    fn drain(&mut self, node: usize, after_timeout: bool) {
        while let Some(transmit) = self.nodes[node].swim.poll_transmit() {
            self.send(transmit);
        }
        while let Some(event) = self.nodes[node].swim.poll_event() {
            let at_us = self.now_us;
            self.observed.push(Observed {
                at_us,
                observer: node,
                event,
            });
        }
        self.reschedule(node, after_timeout);
    }

    fn reschedule(&mut self, node: usize, after_timeout: bool) {
        let deadline_ms = self.nodes[node].swim.next_deadline_ms();
        if deadline_ms == u64::MAX || self.nodes[node].process == Process::Dead {
            return;
        }
        let now_ms = self.now_ms();
        let at_us = if after_timeout && deadline_ms <= now_ms {
            self.deadline_stalls += 1;
            (now_ms + 1) * 1_000
        } else {
            deadline_ms.saturating_mul(1_000).max(self.now_us)
        };
        if at_us != self.nodes[node].wake_us {
            self.nodes[node].wake_us = at_us;
            self.schedule(at_us, Event::Wake { node });
        }
    }

    fn send(&mut self, transmit: Transmit) {
        let Transmit {
            to,
            channel,
            packet,
        } = transmit;
        let is_stream = matches!(channel, Channel::Stream);
        if is_stream {
            self.traffic.streams_sent += 1;
        } else {
            self.traffic.datagrams_sent += 1;
        }
        let Some(&dest) = self.addrs.get(&to) else {
            self.traffic.dropped_unknown_addr += 1;
            return;
        };
        if !is_stream && self.rng.chance(self.link.datagram_loss_ppm, 1_000_000) {
            self.traffic.dropped_lost += 1;
            return;
        }
        let link = &self.link;
        let mut latency_us = self.rng.range(
            link.datagram_latency_us_min,
            link.datagram_latency_us_max + 1,
        );
        if is_stream {
            latency_us += self.rng.range(0, self.link.stream_extra_us_max + 1);
            if !is_reply(&packet) {
                latency_us += self.retransmit_delay_us(self.link.stream_syn_rto_us);
            }
            latency_us += self.retransmit_delay_us(self.link.stream_data_rto_us);
        }
        let at_us = self.now_us + latency_us;
        self.schedule(
            at_us,
            Event::Deliver {
                to: dest,
                channel,
                packet,
            },
        );
    }

    /// The time TCP spends resending one segment until a copy gets through.
    fn retransmit_delay_us(&mut self, rto_us: u64) -> u64 {
        let (mut delay_us, mut rto_us) = (0, rto_us);
        let mut tries = 0;
        while self.rng.chance(self.link.datagram_loss_ppm, 1_000_000) && tries < 10 {
            (delay_us, rto_us, tries) = (delay_us + rto_us, rto_us * 2, tries + 1);
        }
        delay_us
    }

    fn schedule(&mut self, at_us: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at_us,
            seq: self.seq,
            event,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options::default()
    }

    #[test]
    fn a_packet_to_a_dead_member_is_dropped() {
        let mut world = World::new(2, &options(), LinkModel::lan(), 7);
        world.kill(0);
        world.join(1, 0);
        world.run_until(2_000_000);
        assert!(world.traffic.dropped_to_dead >= 1, "{:?}", world.traffic);
        assert_eq!(
            world.swim(1).swim_state(&node_name(0)),
            None,
            "a dead seed never answers"
        );
    }

    #[test]
    fn a_paused_member_gets_its_packets_at_resume() {
        let mut world = World::new(2, &options(), LinkModel::lan(), 7);
        world.pause(0, 500_000);
        world.join(1, 0);
        world.run_until(499_000);
        assert_eq!(
            world.swim(0).swim_state(&node_name(1)),
            None,
            "paused: nothing read"
        );
        world.run_until(500_000);
        assert_eq!(world.process(0), Process::Up);
        assert_eq!(
            world.swim(0).swim_state(&node_name(1)),
            Some(SwimState::Alive)
        );
        world.run_until(600_000);
        assert_eq!(
            world.swim(1).swim_state(&node_name(0)),
            Some(SwimState::Alive)
        );
    }

    fn lossy_traffic(seed: u64) -> Traffic {
        let mut world = World::new(20, &options(), LinkModel::lan(), seed);
        super::super::measure::form(&mut world, 60_000_000).expect("forms");
        world.traffic = Traffic::default();
        world.link.datagram_loss_ppm = 100_000;
        world.run_until(world.now_us() + 60_000_000);
        world.traffic.clone()
    }

    #[test]
    fn loss_is_applied_to_datagrams_at_the_rate_asked_and_replays_per_seed() {
        let traffic = lossy_traffic(3);
        let rate = traffic.dropped_lost as f64 / traffic.datagrams_sent as f64;
        assert!(traffic.datagrams_sent > 2_000, "{traffic:?}");
        assert!(
            (0.085..0.115).contains(&rate),
            "loss rate {rate}: {traffic:?}"
        );
        assert_eq!(lossy_traffic(3), traffic, "same seed, same run");
        assert_ne!(lossy_traffic(4), traffic, "another seed, another run");
    }

    /// Streams are TCP: loss delays them by retransmissions but never drops them.
    #[test]
    fn a_stream_under_heavy_loss_arrives_late_but_arrives() {
        let mut world = World::new(2, &options(), LinkModel::lan(), 11);
        world.link.datagram_loss_ppm = 600_000;
        world.join(1, 0);
        world.run_until(120_000_000);
        assert!(
            world.swim(0).swim_state(&node_name(1)).is_some(),
            "the join got through"
        );
        assert!(
            world.swim(1).swim_state(&node_name(0)).is_some(),
            "and its answer"
        );
        let delays: Vec<u64> = (0..1_000)
            .map(|_| world.retransmit_delay_us(200_000))
            .collect();
        let delayed = delays.iter().filter(|&&d| d > 0).count();
        assert!(
            (520..680).contains(&delayed),
            "{delayed} of 1000 delayed at 60% loss"
        );
        assert!(
            delays.iter().all(|d| d % 200_000 == 0),
            "whole timeouts only"
        );
    }

    #[test]
    fn events_come_out_in_time_order() {
        let mut queue = BinaryHeap::new();
        for (seq, at_us) in [(1, 30), (2, 10), (3, 10), (4, 20)] {
            queue.push(Scheduled {
                at_us,
                seq,
                event: Event::Wake { node: 0 },
            });
        }
        let order: Vec<(u64, u64)> =
            std::iter::from_fn(|| queue.pop().map(|s| (s.at_us, s.seq))).collect();
        assert_eq!(order, [(10, 2), (10, 3), (20, 4), (30, 1)]);
    }
}
