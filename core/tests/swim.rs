//! The SWIM detector (issue 12) on a tiny deterministic in-memory network: N `Swim` machines,
//! zero-latency delivery in send order with optional drops, time advanced to the earliest
//! `next_deadline_ms`. Every scenario logs its seed.

use concord_core::membership::options::MembershipOptions;
use concord_core::membership::suspicion::suspicion_min_ms;
use concord_core::membership::{
    Channel, ForceLeaveError, GossipBody, GossipPacket, Member, MemberEvent, MemberRecord,
    MemberStatus, Role, Swim, SwimState, Transmit, Update,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

fn member(name: &str) -> Member {
    Member {
        name: name.to_string(),
        gossip_addr: format!("{name}:8301"),
        rpc_addr: format!("{name}:8300"),
        role: Role::Server,
        datacenter: "dc1".into(),
        bootstrap_expect: 0,
        in_raft: false,
        build: "test".into(),
        incarnation: 0,
        announced: MemberStatus::Alive,
    }
}

fn name(i: usize) -> String {
    format!("n{i}")
}

/// Decides whether a transmit is dropped: (from index, to index, now_ms).
type DropRule = Box<dyn Fn(usize, usize, u64) -> bool>;

struct Net {
    nodes: Vec<Swim>,
    down: BTreeSet<usize>,
    now_ms: u64,
    drop_rule: DropRule,
    /// Every transmit sent, in order (determinism).
    log: Vec<(u64, Transmit)>,
    /// First time each observer saw (subject, state).
    seen: BTreeMap<(usize, String, SwimState), u64>,
    events: Vec<(usize, MemberEvent)>,
}

impl Net {
    fn new(n: usize, options: MembershipOptions, seed: u64) -> Net {
        eprintln!("swim net: n={n} seed={seed}");
        let nodes = (0..n)
            .map(|i| {
                Swim::new(
                    member(&name(i)),
                    options.clone(),
                    seed * 1_000 + i as u64,
                    0,
                )
            })
            .collect();
        Net {
            nodes,
            down: BTreeSet::new(),
            now_ms: 0,
            drop_rule: Box::new(|_, _, _| false),
            log: Vec::new(),
            seen: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    fn index_of(addr: &str) -> usize {
        addr.trim_start_matches('n')
            .trim_end_matches(":8301")
            .parse()
            .expect("test addr")
    }

    /// Delivers everything queued (and whatever that triggers) at the current time.
    fn flush(&mut self) {
        let mut queue: VecDeque<(usize, Transmit)> = VecDeque::new();
        self.drain(&mut queue);
        while let Some((from, t)) = queue.pop_front() {
            let to = Net::index_of(&t.to);
            self.log.push((self.now_ms, t.clone()));
            if self.down.contains(&to) || (self.drop_rule)(from, to, self.now_ms) {
                continue;
            }
            self.nodes[to].handle_packet(t.packet, t.channel, self.now_ms);
            self.drain(&mut queue);
        }
    }

    fn drain(&mut self, queue: &mut VecDeque<(usize, Transmit)>) {
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].poll_transmit() {
                if !self.down.contains(&i) {
                    queue.push_back((i, t));
                }
            }
            while let Some(e) = self.nodes[i].poll_event() {
                if let MemberEvent::StateChanged { name, state } = &e {
                    self.seen
                        .entry((i, name.clone(), *state))
                        .or_insert(self.now_ms);
                }
                self.events.push((i, e));
            }
        }
    }

    /// Advances time to each earliest deadline of a live node, up to `until_ms`.
    fn run_until(&mut self, until_ms: u64) {
        self.flush();
        let mut steps_left = 1_000_000u64;
        loop {
            steps_left -= 1;
            assert!(steps_left > 0, "timers never settle at {} ms", self.now_ms);
            let next_ms = (0..self.nodes.len())
                .filter(|i| !self.down.contains(i))
                .map(|i| self.nodes[i].next_deadline_ms())
                .min()
                .expect("a live node");
            if next_ms > until_ms {
                self.now_ms = until_ms;
                return;
            }
            self.now_ms = next_ms.max(self.now_ms);
            for i in 0..self.nodes.len() {
                if !self.down.contains(&i) && self.nodes[i].next_deadline_ms() <= self.now_ms {
                    self.nodes[i].handle_timeout(self.now_ms);
                }
            }
            self.flush();
        }
    }

    fn join_all_via_first(&mut self) {
        for i in 1..self.nodes.len() {
            self.nodes[i].join("n0:8301", Some(i as u64), self.now_ms);
        }
        self.flush();
    }

    fn all_see(&self, subject: &str, state: SwimState) -> bool {
        (0..self.nodes.len())
            .filter(|i| !self.down.contains(i) && name(*i) != subject)
            .all(|i| self.nodes[i].swim_state(subject) == Some(state))
    }

    fn first_seen(&self, observer: usize, subject: &str, state: SwimState) -> Option<u64> {
        self.seen
            .get(&(observer, subject.to_string(), state))
            .copied()
    }
}

fn converged(net: &Net) -> bool {
    let n = net.nodes.len();
    (0..n).all(|i| (0..n).all(|j| net.nodes[i].swim_state(&name(j)) == Some(SwimState::Alive)))
}

#[test]
fn five_members_joined_via_one_converge() {
    let mut net = Net::new(5, MembershipOptions::default(), 1);
    net.join_all_via_first();
    let answered = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, MemberEvent::JoinAnswered { .. }));
    assert_eq!(answered.count(), 4, "every join is answered");
    net.run_until(5_000);
    assert!(
        converged(&net),
        "all five see all five alive within 5 s of gossip"
    );
    let listed = net.nodes[3].list(net.now_ms);
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|(_, s)| *s == MemberStatus::Alive));
}

#[test]
fn killed_member_becomes_suspect_then_dead_everywhere_within_bound() {
    for seed in 1..=5 {
        let options = MembershipOptions::default();
        let mut net = Net::new(5, options.clone(), seed);
        net.join_all_via_first();
        net.run_until(5_000);
        assert!(converged(&net));
        let killed_ms = net.now_ms;
        net.down.insert(4);
        // Worst case it is probed last in this pass and last in the next: 2 x (n-1) probes;
        // then suspected at the end of that interval; dead by the suspicion max at the latest;
        // one gossip interval more to reach everyone.
        let min_ms = suspicion_min_ms(options.suspicion_mult, 5, options.probe_interval_ms);
        let max_ms = min_ms * u64::from(options.suspicion_max_timeout_mult);
        let detect_ms_max = 2 * 4 * options.probe_interval_ms + options.probe_interval_ms;
        let bound_ms = detect_ms_max + max_ms + options.gossip_interval_ms * 5;
        net.run_until(killed_ms + bound_ms);
        assert!(
            net.all_see("n4", SwimState::Dead),
            "seed {seed}: dead everywhere within {bound_ms} ms"
        );
        for i in 0..4 {
            let suspect_ms = net
                .first_seen(i, "n4", SwimState::Suspect)
                .expect("suspect first");
            let dead_ms = net.first_seen(i, "n4", SwimState::Dead).expect("then dead");
            assert!(
                suspect_ms - killed_ms <= detect_ms_max + 1_000,
                "seed {seed}: n{i} suspect late"
            );
            assert!(
                dead_ms >= suspect_ms,
                "seed {seed}: dead before suspect at n{i}"
            );
        }
        let first_suspect = (0..4)
            .filter_map(|i| net.first_seen(i, "n4", SwimState::Suspect))
            .min()
            .unwrap();
        let first_dead = (0..4)
            .filter_map(|i| net.first_seen(i, "n4", SwimState::Dead))
            .min()
            .unwrap();
        assert!(
            first_dead - first_suspect >= min_ms,
            "seed {seed}: never faster than the suspicion min"
        );
        assert_eq!(
            net.nodes[0].status("n4", net.now_ms),
            Some(MemberStatus::Failed)
        );
        assert!(
            net.nodes.iter().take(4).all(|n| n.health_score() == 0),
            "helpers nacked: healthy"
        );
    }
}

#[test]
fn member_cut_off_shorter_than_suspicion_refutes_and_never_dies() {
    // Cut 3 s: the first suspicion starts >= 1 s in, and even fully confirmed it lasts the
    // suspicion min (4 s), so n4 has >= 2 s after healing to hear of it and refute.
    let mut seeds_suspected = 0;
    for seed in 1..=8 {
        let mut net = Net::new(5, MembershipOptions::default(), seed);
        net.join_all_via_first();
        net.run_until(5_000);
        let (cut_ms, heal_ms) = (net.now_ms, net.now_ms + 3_000);
        net.drop_rule = Box::new(move |from, to, now| (from == 4 || to == 4) && now < heal_ms);
        net.run_until(heal_ms + 30_000);
        let died = (0..5).any(|i| net.first_seen(i, "n4", SwimState::Dead).is_some());
        assert!(!died, "seed {seed}: n4 died");
        assert!(
            net.all_see("n4", SwimState::Alive),
            "seed {seed}: n4 alive again everywhere"
        );
        let suspected = (0..4).any(|i| {
            net.first_seen(i, "n4", SwimState::Suspect)
                .is_some_and(|t| t >= cut_ms)
        });
        if suspected {
            seeds_suspected += 1;
            assert!(net.nodes[4].me().incarnation > 0, "seed {seed}: n4 refuted");
            assert!(net.nodes[4].stats().refutations > 0);
        }
    }
    assert!(
        seeds_suspected >= 4,
        "the cut made n4 suspect in {seeds_suspected}/8 seeds"
    );
}

#[test]
fn leave_spreads_as_left_then_reaped_after_tombstone() {
    let options = MembershipOptions {
        tombstone_timeout_ms: 60_000,
        ..MembershipOptions::default()
    };
    let mut net = Net::new(5, options, 3);
    net.join_all_via_first();
    net.run_until(5_000);
    net.nodes[4].update_me(|m| m.announced = MemberStatus::Left);
    net.nodes[4].announce_to_all();
    net.flush();
    net.down.insert(4);
    let left_ms = net.now_ms;
    assert!(
        net.all_see("n4", SwimState::Left),
        "left everywhere at once"
    );
    assert_eq!(
        net.nodes[1].status("n4", net.now_ms),
        Some(MemberStatus::Left)
    );
    net.run_until(left_ms + 59_000);
    assert!(
        net.all_see("n4", SwimState::Left),
        "kept, not probed to death, until the tombstone timeout"
    );
    net.run_until(left_ms + 61_000);
    assert!(
        (0..4).all(|i| net.nodes[i].get("n4").is_none()),
        "reaped everywhere"
    );
    let reaped = net
        .events
        .iter()
        .filter(|(_, e)| *e == MemberEvent::Reaped { name: "n4".into() });
    assert_eq!(reaped.count(), 4);
}

fn dead_n3_in_four(seed: u64) -> Net {
    let mut net = Net::new(4, MembershipOptions::default(), seed);
    net.join_all_via_first();
    net.run_until(5_000);
    net.down.insert(3);
    net.run_until(60_000);
    assert!(net.all_see("n3", SwimState::Dead));
    net
}

#[test]
fn force_leave_marks_a_dead_member_left_everywhere() {
    let mut net = dead_n3_in_four(4);
    assert_eq!(
        net.nodes[0].force_leave("nope", false, net.now_ms),
        Err(ForceLeaveError::Unknown)
    );
    assert_eq!(
        net.nodes[0].force_leave("n1", false, net.now_ms),
        Err(ForceLeaveError::NotFailed)
    );
    assert_eq!(net.nodes[0].force_leave("n3", false, net.now_ms), Ok(()));
    net.run_until(net.now_ms + 2_000);
    assert!(net.all_see("n3", SwimState::Left), "force-leave spreads");
    assert_eq!(
        net.nodes[2].status("n3", net.now_ms),
        Some(MemberStatus::Left)
    );
}

#[test]
fn force_leave_prune_forgets_and_stale_records_do_not_resurrect() {
    let mut net = dead_n3_in_four(5);
    let incarnation = net.nodes[0].get("n3").unwrap().incarnation;
    assert_eq!(net.nodes[0].force_leave("n3", true, net.now_ms), Ok(()));
    net.run_until(net.now_ms + 2_000);
    assert!(
        (0..3).all(|i| net.nodes[i].get("n3").is_none()),
        "pruned everywhere"
    );
    let stale = MemberRecord {
        member: member_at("n3", incarnation),
        state: SwimState::Alive,
    };
    net.nodes[1].handle_packet(
        push_pull_from("n9", vec![stale]),
        Channel::Stream,
        net.now_ms,
    );
    assert!(
        net.nodes[1].get("n3").is_none(),
        "a stale record of the pruned incarnation is dropped"
    );
    assert!(net.nodes[1].stats().dropped_pruned > 0);
    let back = MemberRecord {
        member: member_at("n3", incarnation + 1),
        state: SwimState::Alive,
    };
    net.nodes[1].handle_packet(
        push_pull_from("n9", vec![back]),
        Channel::Stream,
        net.now_ms,
    );
    assert_eq!(
        net.nodes[1].swim_state("n3"),
        Some(SwimState::Alive),
        "a higher incarnation comes back"
    );
}

fn member_at(name: &str, incarnation: u64) -> Member {
    Member {
        incarnation,
        ..member(name)
    }
}

fn push_pull_from(from: &str, records: Vec<MemberRecord>) -> GossipPacket {
    GossipPacket {
        from: from.into(),
        from_addr: format!("{from}:8301"),
        body: GossipBody::PushPull {
            records,
            reply_wanted: false,
            join_id: None,
        },
        updates: Vec::new(),
    }
}

fn packet(from: &str, body: GossipBody, updates: Vec<Update>) -> GossipPacket {
    GossipPacket {
        from: from.into(),
        from_addr: format!("{from}:8301"),
        body,
        updates,
    }
}

fn drain(swim: &mut Swim) -> Vec<Transmit> {
    std::iter::from_fn(|| swim.poll_transmit()).collect()
}

/// `me` knowing `others` (alive, incarnation 0).
fn knowing(me: &str, others: &[&str], options: MembershipOptions) -> Swim {
    let mut swim = Swim::new(member(me), options, 9, 0);
    let records = others
        .iter()
        .map(|o| MemberRecord {
            member: member(o),
            state: SwimState::Alive,
        })
        .collect();
    swim.handle_packet(push_pull_from(others[0], records), Channel::Stream, 0);
    drain(&mut swim);
    swim
}

/// Runs every timer due up to `to_ms` at its deadline, as an agent does (one that wakes
/// later than its deadline has stalled, and the detector reacts to that).
fn step_to(swim: &mut Swim, to_ms: u64) {
    while swim.next_deadline_ms() < to_ms {
        let next_ms = swim.next_deadline_ms();
        swim.handle_timeout(next_ms);
    }
    swim.handle_timeout(to_ms);
}

fn pings(transmits: &[Transmit]) -> Vec<(String, u64, Channel)> {
    transmits
        .iter()
        .filter_map(|t| match &t.packet.body {
            GossipBody::Ping { seq, .. } => Some((t.to.clone(), *seq, t.channel)),
            _ => None,
        })
        .collect()
}

#[test]
fn health_rises_on_failed_probes_scales_the_interval_and_falls_on_acks() {
    let options = MembershipOptions::default();
    let mut a = knowing("a", &["b"], options.clone());
    step_to(&mut a, 1_000);
    assert_eq!(pings(&drain(&mut a)).len(), 1, "probe at 1 s");
    step_to(&mut a, 1_500);
    assert_eq!(
        pings(&drain(&mut a)),
        vec![("b:8301".into(), 1, Channel::Stream)],
        "stream fallback"
    );
    step_to(&mut a, 2_000);
    assert_eq!(a.health_score(), 1, "a failed probe with nobody to ask: +1");
    assert_eq!(a.swim_state("b"), Some(SwimState::Suspect));
    let sent = drain(&mut a);
    let ping = sent
        .iter()
        .find(|t| matches!(t.packet.body, GossipBody::Ping { .. }))
        .expect("next probe");
    assert!(
        matches!(&ping.packet.updates[0], Update::Suspect { name, .. } if name == "b"),
        "suspect rides first"
    );
    step_to(&mut a, 3_000);
    assert!(
        pings(&drain(&mut a))
            .iter()
            .all(|(_, _, c)| *c == Channel::Stream),
        "no new probe at 3 s"
    );
    step_to(&mut a, 4_000);
    assert_eq!(
        a.health_score(),
        2,
        "second failure at the scaled deadline 2 s + 2 s"
    );
    let seq = pings(&drain(&mut a)).last().expect("probe at 4 s").1;
    let refuted = Update::Alive(member_at("b", 1));
    let ack = packet("b", GossipBody::Ack { seq }, vec![refuted]);
    a.handle_packet(ack, Channel::Datagram, 4_010);
    assert_eq!(a.health_score(), 1, "an ack lowers the score");
    assert_eq!(a.swim_state("b"), Some(SwimState::Alive), "b refuted");
    // The probe at 4 s was scheduled with score 2: the next one is 3 intervals later.
    let datagram_pings = |a: &mut Swim| {
        let sent = drain(a);
        pings(&sent)
            .into_iter()
            .filter(|p| p.2 == Channel::Datagram)
            .count()
    };
    step_to(&mut a, 6_999);
    assert_eq!(datagram_pings(&mut a), 0, "no probe before 4 s + 3 x 1 s");
    step_to(&mut a, 7_000);
    assert_eq!(datagram_pings(&mut a), 1);
    assert_eq!(a.stats().probes_failed, 2);
    assert_eq!(options.probe_interval_ms, 1_000);
}

#[test]
fn refuting_a_suspicion_raises_incarnation_and_health() {
    let mut a = knowing("a", &["b"], MembershipOptions::default());
    let suspect = Update::Suspect {
        name: "a".into(),
        incarnation: 0,
        from: "b".into(),
    };
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![suspect]),
        Channel::Datagram,
        10,
    );
    assert_eq!(a.me().incarnation, 1);
    assert_eq!(a.health_score(), 1);
    let stale = Update::Dead {
        name: "a".into(),
        incarnation: 0,
        from: "b".into(),
    };
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![stale]),
        Channel::Datagram,
        20,
    );
    assert_eq!(a.me().incarnation, 1, "a stale claim needs no refutation");
    step_to(&mut a, 1_000);
    // The refutation rides on what goes out next: gossip rounds and the probe at 1 s.
    let sent = drain(&mut a);
    assert!(sent
        .iter()
        .any(|t| matches!(t.packet.body, GossipBody::Ping { .. })));
    assert!(sent.iter().any(|t| t
        .packet
        .updates
        .iter()
        .any(|u| matches!(u, Update::Alive(m) if m.name == "a" && m.incarnation == 1))));
}

fn serve_ping_req(target_answers: bool) -> Vec<Transmit> {
    let mut h = knowing("h", &["a", "t"], MembershipOptions::default());
    let req = GossipBody::PingReq {
        seq: 77,
        target: "t".into(),
        target_addr: "t:8301".into(),
    };
    h.handle_packet(packet("a", req, vec![]), Channel::Datagram, 100);
    let sent = drain(&mut h);
    let own = pings(&sent);
    assert_eq!(own.len(), 1, "the helper pings the target");
    if target_answers {
        h.handle_packet(
            packet("t", GossipBody::Ack { seq: own[0].1 }, vec![]),
            Channel::Datagram,
            150,
        );
    }
    h.handle_timeout(h.next_deadline_ms().min(1_000));
    h.handle_timeout(1_000);
    drain(&mut h)
        .into_iter()
        .filter(|t| t.to == "a:8301")
        .collect()
}

#[test]
fn helper_nacks_when_target_is_silent_and_forwards_the_ack_otherwise() {
    let silent = serve_ping_req(false);
    assert!(
        silent
            .iter()
            .any(|t| t.packet.body == GossipBody::Nack { seq: 77 }),
        "nack to the requester"
    );
    assert!(!silent
        .iter()
        .any(|t| t.packet.body == GossipBody::Ack { seq: 77 }));
    let answered = serve_ping_req(true);
    assert!(
        answered
            .iter()
            .any(|t| t.packet.body == GossipBody::Ack { seq: 77 }),
        "ack forwarded"
    );
    assert!(
        !answered
            .iter()
            .any(|t| t.packet.body == GossipBody::Nack { seq: 77 }),
        "no nack"
    );
}

#[test]
fn nacks_keep_the_requester_healthy_when_the_target_is_dead() {
    let mut net = Net::new(4, MembershipOptions::default(), 8);
    net.join_all_via_first();
    net.run_until(5_000);
    net.down.insert(3);
    net.run_until(20_000);
    let nacks: u64 = (0..3).map(|i| net.nodes[i].stats().nacks_received).sum();
    assert!(nacks > 0, "helpers nacked");
    assert!((0..3).all(|i| net.nodes[i].health_score() == 0));
}

#[test]
fn members_max_bounds_the_table() {
    let options = MembershipOptions {
        members_max: 3,
        ..MembershipOptions::default()
    };
    let records: Vec<MemberRecord> = ["b", "c", "d"]
        .iter()
        .map(|o| MemberRecord {
            member: member(o),
            state: SwimState::Alive,
        })
        .collect();
    let mut a = Swim::new(member("a"), options, 1, 0);
    a.handle_packet(push_pull_from("b", records), Channel::Stream, 0);
    assert_eq!(a.list(0).len(), 3);
    assert_eq!(a.stats().dropped_over_members_max, 1);
    let too_many: Vec<MemberRecord> = ["e", "f", "g", "h"]
        .iter()
        .map(|o| MemberRecord {
            member: member(o),
            state: SwimState::Alive,
        })
        .collect();
    a.handle_packet(push_pull_from("e", too_many), Channel::Stream, 0);
    assert_eq!(
        a.stats().dropped_malformed,
        1,
        "more records than members_max: dropped whole"
    );
}

#[test]
fn same_seed_same_transmits_other_seed_other_transmits() {
    let run = |seed: u64| {
        let mut net = Net::new(5, MembershipOptions::default(), seed);
        net.join_all_via_first();
        net.down.insert(2);
        net.run_until(20_000);
        net.log
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

fn suspect_of(name: &str, from: &str) -> Update {
    Update::Suspect {
        name: name.into(),
        incarnation: 0,
        from: from.into(),
    }
}

#[test]
fn confirmations_from_new_suspectors_shorten_the_suspicion() {
    let others = ["b", "c", "d", "e"];
    let gossip = |updates| packet("b", GossipBody::Empty, updates);
    // n = 5: min 4 s, max 24 s, k = 2.
    let mut lone = knowing("a", &others, MembershipOptions::default());
    lone.handle_packet(gossip(vec![suspect_of("c", "b")]), Channel::Datagram, 0);
    step_to(&mut lone, 4_000);
    assert_eq!(
        lone.swim_state("c"),
        Some(SwimState::Suspect),
        "unconfirmed: still suspect at min"
    );
    step_to(&mut lone, 24_000);
    assert_eq!(lone.swim_state("c"), Some(SwimState::Dead), "dead at max");
    let mut confirmed = knowing("a", &others, MembershipOptions::default());
    let all = vec![
        suspect_of("c", "b"),
        suspect_of("c", "b"),
        suspect_of("c", "d"),
        suspect_of("c", "e"),
    ];
    confirmed.handle_packet(gossip(all), Channel::Datagram, 0);
    step_to(&mut confirmed, 3_999);
    assert_eq!(confirmed.swim_state("c"), Some(SwimState::Suspect));
    step_to(&mut confirmed, 4_000);
    assert_eq!(
        confirmed.swim_state("c"),
        Some(SwimState::Dead),
        "k confirmations: dead at min"
    );
    assert_eq!(confirmed.stats().suspicion_confirmations, 2);
}

#[test]
fn announcements_rank_at_the_same_incarnation_and_left_is_final() {
    let mut a = knowing("a", &["b"], MembershipOptions::default());
    let announce = |status| {
        Update::Alive(Member {
            announced: status,
            ..member("b")
        })
    };
    let gossip = |update| packet("b", GossipBody::Empty, vec![update]);
    a.handle_packet(
        gossip(announce(MemberStatus::Leaving)),
        Channel::Datagram,
        1,
    );
    assert_eq!(
        a.status("b", 1),
        Some(MemberStatus::Leaving),
        "leaving beats alive"
    );
    a.handle_packet(gossip(announce(MemberStatus::Alive)), Channel::Datagram, 2);
    assert_eq!(
        a.status("b", 2),
        Some(MemberStatus::Leaving),
        "alive does not beat leaving"
    );
    a.handle_packet(gossip(announce(MemberStatus::Left)), Channel::Datagram, 3);
    assert_eq!(
        a.swim_state("b"),
        Some(SwimState::Left),
        "left beats leaving"
    );
    a.handle_packet(gossip(suspect_of("b", "c")), Channel::Datagram, 4);
    assert_eq!(
        a.swim_state("b"),
        Some(SwimState::Left),
        "left is final at its incarnation"
    );
    let rejoined = Update::Alive(member_at("b", 1));
    a.handle_packet(gossip(rejoined), Channel::Datagram, 5);
    assert_eq!(
        a.swim_state("b"),
        Some(SwimState::Alive),
        "a higher incarnation rejoins"
    );
}

#[test]
fn healed_partition_merges_back_through_reconnect() {
    let options = MembershipOptions {
        reconnect_interval_ms: 10_000,
        ..MembershipOptions::default().fast()
    };
    let mut net = Net::new(5, options, 21);
    net.join_all_via_first();
    net.run_until(3_000);
    assert!(converged(&net));
    let heal_ms = 120_000;
    let side = |i: usize| i >= 3;
    net.drop_rule = Box::new(move |from, to, now| side(from) != side(to) && now < heal_ms);
    net.run_until(heal_ms - 1);
    assert_eq!(
        net.nodes[0].swim_state("n4"),
        Some(SwimState::Dead),
        "the cut kills across"
    );
    assert_eq!(net.nodes[4].swim_state("n0"), Some(SwimState::Dead));
    net.run_until(heal_ms + 15_000);
    assert!(
        converged(&net),
        "reconnect (or gossip to the dead) merges the halves back"
    );
}

#[test]
fn lossy_datagrams_do_not_kill_anyone() {
    // 10% of all packets lost, datagrams and streams.
    for seed in 1..=3 {
        let mut net = Net::new(5, MembershipOptions::default(), seed);
        net.join_all_via_first();
        net.run_until(3_000);
        let loss = std::cell::RefCell::new(concord_core::rng::Rng::new(seed));
        // Streams too: a lossless fallback ping alone would answer every probe.
        net.drop_rule = Box::new(move |_, _, _| loss.borrow_mut().chance(1, 10));
        net.run_until(120_000);
        let died = net
            .seen
            .keys()
            .any(|(_, _, state)| *state == SwimState::Dead);
        assert!(!died, "seed {seed}: a false death under 10% loss");
        let indirect: u64 = net.nodes.iter().map(|n| n.stats().ping_reqs_sent).sum();
        assert!(indirect > 0, "seed {seed}: losses made probes go indirect");
    }
}

#[test]
fn news_beyond_the_incarnation_bound_is_dropped_without_a_panic() {
    let mut a = knowing("a", &["b"], MembershipOptions::default());
    let before = a.me().incarnation;
    let claims = vec![
        Update::Suspect {
            name: "a".into(),
            incarnation: u64::MAX,
            from: "b".into(),
        },
        Update::Alive(member_at("b", u64::MAX)),
        Update::Prune {
            name: "a".into(),
            incarnation: u64::MAX,
        },
    ];
    a.handle_packet(
        packet("b", GossipBody::Empty, claims),
        Channel::Datagram,
        10,
    );
    let records = vec![MemberRecord {
        member: member_at("a", u64::MAX),
        state: SwimState::Dead,
    }];
    a.handle_packet(push_pull_from("b", records), Channel::Stream, 20);
    assert_eq!(
        a.me().incarnation,
        before,
        "no refutation of an impossible claim"
    );
    assert_eq!(a.get("b").map(|m| m.incarnation), Some(0));
    assert_eq!(a.stats().dropped_malformed, 4);
    assert_eq!(a.stats().refutations, 0);
}

#[test]
fn a_left_record_of_an_unknown_member_introduces_nobody() {
    let mut a = knowing("a", &["b"], MembershipOptions::default());
    let mut gone = member_at("x", 3);
    gone.announced = MemberStatus::Left;
    let records = vec![MemberRecord {
        member: gone.clone(),
        state: SwimState::Left,
    }];
    a.handle_packet(push_pull_from("b", records), Channel::Stream, 10);
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![Update::Alive(gone)]),
        Channel::Datagram,
        20,
    );
    assert_eq!(
        a.swim_state("x"),
        None,
        "reaped elsewhere, not re-added here"
    );
    assert_eq!(a.stats().dropped_unknown, 2);
}

#[test]
fn a_prune_spares_members_alive_here_and_unknown_names_are_not_passed_on() {
    let mut a = knowing("a", &["b", "c"], MembershipOptions::default());
    let prune = |name: &str| Update::Prune {
        name: name.into(),
        incarnation: 0,
    };
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![prune("c"), prune("junk")]),
        Channel::Datagram,
        10,
    );
    assert_eq!(a.swim_state("c"), Some(SwimState::Alive), "c answers us");
    step_to(&mut a, 400);
    let passed_on = drain(&mut a).iter().any(|t| {
        t.packet
            .updates
            .iter()
            .any(|u| matches!(u, Update::Prune { .. }))
    });
    assert!(!passed_on, "neither prune is gossiped on");
    // A pruned unknown name is still remembered: a stale record does not introduce it.
    let records = vec![MemberRecord {
        member: member_at("junk", 0),
        state: SwimState::Alive,
    }];
    a.handle_packet(push_pull_from("b", records), Channel::Stream, 500);
    assert_eq!(a.swim_state("junk"), None);
}

#[test]
fn after_a_stall_the_queued_ack_and_refutation_are_read_before_judging() {
    let options = MembershipOptions::default();
    let mut a = knowing("a", &["b", "c", "d", "e"], options.clone());
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![suspect_of("c", "b")]),
        Channel::Datagram,
        0,
    );
    step_to(&mut a, 1_000);
    let probe = pings(&drain(&mut a));
    assert_eq!(probe.len(), 1, "a probe is in flight at 1 s");
    // Stopped for 30 s: past the probe's deadline and the suspicion's longest timeout.
    a.handle_timeout(31_000);
    assert_eq!(a.stats().stalls, 1);
    assert_eq!(
        a.stats().probes_failed,
        0,
        "the probe in flight is not judged"
    );
    assert_eq!(a.swim_state("c"), Some(SwimState::Suspect), "not dead yet");
    let refuted = Update::Alive(member_at("c", 1));
    a.handle_packet(
        packet("c", GossipBody::Empty, vec![refuted]),
        Channel::Datagram,
        31_001,
    );
    assert_eq!(
        a.swim_state("c"),
        Some(SwimState::Alive),
        "the refutation won"
    );
    step_to(&mut a, 33_000);
    assert_eq!(a.stats().deaths_declared, 0);
}

#[test]
fn a_helper_forwards_an_ack_that_comes_after_its_nack() {
    let mut h = knowing("h", &["a", "t"], MembershipOptions::default());
    let req = GossipBody::PingReq {
        seq: 9,
        target: "t".into(),
        target_addr: "t:8301".into(),
    };
    h.handle_packet(packet("a", req, vec![]), Channel::Datagram, 100);
    let own = pings(&drain(&mut h));
    step_to(&mut h, 100 + 450);
    let nacked = drain(&mut h)
        .iter()
        .any(|t| t.packet.body == GossipBody::Nack { seq: 9 });
    assert!(nacked, "nack at 80% of the probe timeout");
    h.handle_packet(
        packet("t", GossipBody::Ack { seq: own[0].1 }, vec![]),
        Channel::Datagram,
        100 + 480,
    );
    let forwarded = drain(&mut h)
        .iter()
        .any(|t| t.to == "a:8301" && t.packet.body == GossipBody::Ack { seq: 9 });
    assert!(forwarded, "a late ack still reaches the requester");
}

#[test]
fn a_lone_suspector_that_missed_the_refutation_learns_it_from_its_last_chance_ping() {
    // n = 3: no confirmations are possible, so a's suspicion of c is a lone one.
    let mut a = knowing("a", &["b", "c"], MembershipOptions::default());
    let mut c = knowing("c", &["a", "b"], MembershipOptions::default());
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![suspect_of("c", "b")]),
        Channel::Datagram,
        0,
    );
    // c refuted long ago (its incarnation is past the suspicion's); a never heard of it.
    c.handle_packet(
        packet("b", GossipBody::Empty, vec![suspect_of("c", "b")]),
        Channel::Datagram,
        0,
    );
    assert_eq!(c.me().incarnation, 1);
    let deadline_ms = a.next_deadline_ms().max(4_000);
    step_to(&mut a, deadline_ms);
    let last_chance: Vec<Transmit> = drain(&mut a)
        .into_iter()
        .filter(|t| t.to == "c:8301" && matches!(t.packet.body, GossipBody::Ping { .. }))
        .filter(|t| t.packet.updates.first() == Some(&suspect_of("c", "a")))
        .collect();
    assert_eq!(a.stats().last_chance_probes, 1);
    let channels: Vec<Channel> = last_chance.iter().map(|t| t.channel).collect();
    assert!(
        channels.contains(&Channel::Datagram) && channels.contains(&Channel::Stream),
        "the last chance goes by datagram and by stream: {channels:?}"
    );
    assert_eq!(a.swim_state("c"), Some(SwimState::Suspect), "not dead yet");
    let ping = last_chance[0].clone();
    drain(&mut c);
    c.handle_packet(ping.packet, ping.channel, deadline_ms + 1);
    let ack = drain(&mut c)
        .into_iter()
        .find(|t| matches!(t.packet.body, GossipBody::Ack { .. }))
        .expect("c acks");
    assert!(
        matches!(ack.packet.updates.first(), Some(Update::Alive(m)) if m.incarnation == 1),
        "the ack carries c's record: {:?}",
        ack.packet.updates
    );
    a.handle_packet(ack.packet, ack.channel, deadline_ms + 2);
    assert_eq!(a.swim_state("c"), Some(SwimState::Alive));
    assert_eq!(a.stats().deaths_declared, 0);
}

#[test]
fn a_lone_suspicion_with_no_answer_to_its_last_chance_runs_out_a_probe_interval_later() {
    let mut a = knowing("a", &["b", "c"], MembershipOptions::default());
    a.handle_packet(
        packet("b", GossipBody::Empty, vec![suspect_of("c", "b")]),
        Channel::Datagram,
        0,
    );
    let deadline_ms = a.next_deadline_ms().max(4_000);
    step_to(&mut a, deadline_ms);
    assert_eq!(a.swim_state("c"), Some(SwimState::Suspect));
    step_to(&mut a, deadline_ms + 1_000);
    assert_eq!(a.swim_state("c"), Some(SwimState::Dead));
}
