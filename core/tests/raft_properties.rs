//! Property: under random message orders, drops, duplicates, ticks and proposals, three Raft
//! nodes keep election safety, log matching and agreement on committed entries.

mod support;

use concord_core::raft::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use support::raft_net::{id, Network};

#[derive(Clone, Debug)]
enum Step {
    /// Deliver the queued message at this position (modulo the queue length).
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Tick {
        node: usize,
        ms: u64,
    },
    Propose(usize),
    Process(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => any::<usize>().prop_map(Step::Deliver),
        1 => any::<usize>().prop_map(Step::Drop),
        1 => any::<usize>().prop_map(Step::Duplicate),
        3 => (0usize..3, 1u64..200).prop_map(|(node, ms)| Step::Tick { node, ms }),
        2 => (0usize..3).prop_map(Step::Propose),
        4 => (0usize..3).prop_map(Step::Process),
    ]
}

const NAMES: [&str; 3] = ["n1", "n2", "n3"];

fn apply(net: &mut Network, step: &Step, counter: &mut u64) {
    let mut out = String::new();
    match step {
        Step::Deliver(i) | Step::Drop(i) | Step::Duplicate(i) if !net.queue.is_empty() => {
            let msg = net.queue.remove(i % net.queue.len());
            if matches!(step, Step::Duplicate(_)) {
                net.queue.push(msg.clone());
            }
            if !matches!(step, Step::Drop(_)) {
                let node = net.nodes.get_mut(&msg.to).unwrap();
                let now = node.now_ms;
                node.raft.step(now, msg);
            }
        }
        Step::Tick { node, ms } => {
            let n = net.node(NAMES[*node]);
            n.now_ms += ms;
            let now = n.now_ms;
            n.raft.tick(now);
        }
        Step::Propose(node) => {
            *counter += 1;
            let n = net.node(NAMES[*node]);
            let now = n.now_ms;
            let _ = n.raft.propose(now, format!("c{counter}").into_bytes());
        }
        Step::Process(node) => net.process_ready(NAMES[*node], &mut out),
        _ => {}
    }
}

/// Checks the invariants; `leaders` remembers who led each term, `committed` what each index
/// committed to.
fn check(
    net: &Network,
    leaders: &mut BTreeMap<u64, NodeId>,
    committed: &mut BTreeMap<u64, Entry>,
) -> Result<(), String> {
    for (name, node) in &net.nodes {
        let raft = &node.raft;
        if raft.role() == Role::Leader {
            if let Some(other) = leaders.insert(raft.term(), name.clone()) {
                if &other != name {
                    return Err(format!(
                        "two leaders in term {}: {other} and {name}",
                        raft.term()
                    ));
                }
            }
        }
        for index in raft.log().first_index()..=raft.commit_index().min(raft.last_index()) {
            let entry = raft.log().entry(index).unwrap().clone();
            if let Some(previous) = committed.insert(index, entry.clone()) {
                if previous != entry {
                    return Err(format!(
                        "index {index} committed as {previous:?} and as {entry:?} on {name}"
                    ));
                }
            }
        }
    }
    log_matching(net)
}

/// If two logs hold an entry with the same index and term, they agree up to there.
fn log_matching(net: &Network) -> Result<(), String> {
    let logs: Vec<(&NodeId, &Raft)> = net.nodes.iter().map(|(n, node)| (n, &node.raft)).collect();
    for (a, ra) in &logs {
        for (b, rb) in &logs {
            let high = ra.last_index().min(rb.last_index());
            let low = ra.log().first_index().max(rb.log().first_index());
            let Some(top) = (low..=high).rev().find(|i| {
                ra.log().term_at(*i).is_some() && ra.log().term_at(*i) == rb.log().term_at(*i)
            }) else {
                continue;
            };
            for i in low..=top {
                if ra.log().entry(i) != rb.log().entry(i) {
                    return Err(format!(
                        "log matching: {a} and {b} agree at {top} but differ at {i}"
                    ));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_keep_raft_safe(steps in proptest::collection::vec(step(), 1..400), seed in 1u64..1000) {
        let mut net = Network::new();
        net.seed = seed;
        for name in NAMES {
            net.add_node(name);
        }
        let config = ClusterConfig::with_voters(NAMES.iter().map(|n| id(n)));
        for name in NAMES {
            net.node(name).raft.bootstrap(config.clone()).unwrap();
        }
        let (mut leaders, mut committed, mut counter) = (BTreeMap::new(), BTreeMap::new(), 0);
        for step in &steps {
            apply(&mut net, step, &mut counter);
            if let Err(violation) = check(&net, &mut leaders, &mut committed) {
                prop_assert!(false, "{violation} after {step:?}");
            }
        }
    }
}
