//! Datadriven Raft interaction tests: `core/testdata/raft/*.txt`. `REWRITE=1` regenerates.

mod support;

use concord_core::raft::*;
use std::fmt::Write as _;
use support::datadriven::{run_file, Case};
use support::raft_net::{entry_short, id, Network};

fn run(net: &mut Network, case: &Case) -> String {
    let mut out = String::new();
    let pos = case.positional();
    match case.command.as_str() {
        "options" => {
            if let Some(v) = case.arg("pre-vote") {
                net.options.pre_vote = v == "true";
            }
            if let Some(v) = case.arg("check-quorum") {
                net.options.check_quorum = v == "true";
            }
            if let Some(v) = case.arg("chunk") {
                net.options.snapshot_chunk_bytes_max = v.parse().unwrap();
            }
            if let Some(v) = case.arg("inflight") {
                net.options.inflight_messages_max = v.parse().unwrap();
            }
            if let Some(v) = case.arg("append-max") {
                net.options.append_entries_max = v.parse().unwrap();
            }
            if let Some(v) = case.arg("bug") {
                let bug = RaftBug::ALL.into_iter().find(|b| b.name() == v);
                net.options.planted_bug = Some(bug.expect("a planted bug's name"));
            }
            if let Some(v) = case.arg("seed") {
                net.seed = v.parse().unwrap();
            }
        }
        "add-nodes" => {
            for name in &pos {
                net.add_node(name);
            }
            if let Some(voters) = case.arg("bootstrap") {
                let config = ClusterConfig::with_voters(voters.split(',').map(id));
                for name in &pos {
                    net.node(name).raft.bootstrap(config.clone()).unwrap();
                }
            }
        }
        "campaign" => {
            let node = net.node(pos[0]);
            node.now_ms += node.raft.options().election_timeout_max_ms;
            let now = node.now_ms;
            node.raft.tick(now);
        }
        "tick" => {
            let ms: u64 = case.arg("ms").expect("ms=").parse().unwrap();
            let names: Vec<String> = if pos.is_empty() {
                net.nodes.keys().map(|n| n.0.clone()).collect()
            } else {
                pos.iter().map(|s| s.to_string()).collect()
            };
            for name in names {
                let node = net.node(&name);
                node.now_ms += ms;
                let now = node.now_ms;
                node.raft.tick(now);
            }
        }
        "propose" => {
            let node = net.node(pos[0]);
            let now = node.now_ms;
            match node.raft.propose(now, pos[1].as_bytes().to_vec()) {
                Ok(index) => writeln!(out, "index {index}").unwrap(),
                Err(e) => writeln!(out, "error: {e}").unwrap(),
            }
        }
        "propose-conf" => {
            let change = match pos[1] {
                "add-learner" => ConfigChange::AddLearner(id(pos[2]), pos[2].to_string()),
                "promote" => ConfigChange::Promote(id(pos[2])),
                "remove" => ConfigChange::Remove(id(pos[2])),
                other => panic!("unknown change {other}"),
            };
            let node = net.node(pos[0]);
            let now = node.now_ms;
            match node.raft.propose_config_change(now, change) {
                Ok(index) => writeln!(out, "index {index}").unwrap(),
                Err(e) => writeln!(out, "error: {e}").unwrap(),
            }
        }
        "read-index" => {
            let read_id: u64 = case.arg("id").unwrap().parse().unwrap();
            let node = net.node(pos[0]);
            let now = node.now_ms;
            if let Err(e) = node.raft.read_index(now, read_id) {
                writeln!(out, "error: {e}").unwrap();
            }
        }
        "transfer" => {
            let node = net.node(pos[0]);
            let now = node.now_ms;
            if let Err(e) = node.raft.transfer_leader(now, id(pos[1])) {
                writeln!(out, "error: {e}").unwrap();
            }
        }
        "compact" => {
            let index: u64 = case.arg("index").unwrap().parse().unwrap();
            let node = net.node(pos[0]);
            let data = node
                .applied
                .iter()
                .take(index as usize)
                .cloned()
                .collect::<Vec<_>>()
                .join(";");
            node.raft.compact(index, data.into_bytes());
        }
        "stabilize" => net.stabilize(&mut out),
        "process-ready" => {
            for name in &pos {
                net.process_ready(name, &mut out);
            }
        }
        "deliver-msgs" => {
            // `drop` drops them all; `drop=N` the first N.
            let drop_count = match case.arg("drop") {
                Some(n) => n.parse().unwrap(),
                None if pos.contains(&"drop") => usize::MAX,
                None => 0,
            };
            let to = pos.iter().find(|p| **p != "drop").copied();
            net.deliver(to, drop_count, &mut out);
        }
        "partition" => {
            net.blocked.clear();
            let groups: Vec<Vec<&str>> = case
                .args
                .split(|a| a == "|")
                .map(|g| g.iter().map(|s| s.as_str()).collect())
                .collect();
            for (gi, group) in groups.iter().enumerate() {
                for (gj, other) in groups.iter().enumerate() {
                    if gi != gj {
                        for a in group {
                            for b in other {
                                net.blocked.insert((id(a), id(b)));
                            }
                        }
                    }
                }
            }
        }
        "stash" => {
            // Keep copies of the queued messages to `to` for a later `replay-stash`.
            let copies: Vec<RaftMessage> = net
                .queue
                .iter()
                .filter(|m| m.to.as_str() == pos[0])
                .cloned()
                .collect();
            for m in &copies {
                writeln!(out, "stashed {}", support::raft_net::describe(m)).unwrap();
            }
            net.stash.extend(copies);
        }
        "replay-stash" => {
            let stash = std::mem::take(&mut net.stash);
            net.queue.extend(stash);
            net.deliver(None, 0, &mut out);
        }
        "cut" => {
            net.blocked.insert((id(pos[0]), id(pos[1])));
        }
        "heal" => net.blocked.clear(),
        "restart" => net.restart(pos[0]),
        "status" => {
            let names: Vec<String> = if pos.is_empty() {
                net.nodes.keys().map(|n| n.0.clone()).collect()
            } else {
                pos.iter().map(|s| s.to_string()).collect()
            };
            for name in names {
                writeln!(out, "{}", net.status(&name)).unwrap();
            }
        }
        "log" => {
            let node = net.node(pos[0]);
            let meta = node.raft.log().snapshot_meta().clone();
            let entries: Vec<String> = node.raft.log().iter().map(entry_short).collect();
            writeln!(
                out,
                "snapshot={}/{} entries:{}",
                meta.last_index,
                meta.last_term,
                entries.iter().map(|e| format!(" {e}")).collect::<String>()
            )
            .unwrap();
        }
        "applied" => {
            let node = net.node(pos[0]);
            writeln!(out, "{}", node.applied.join(" ")).unwrap();
        }
        "stats" => {
            let node = net.node(pos[0]);
            writeln!(out, "{:?}", node.raft.stats).unwrap();
        }
        other => panic!("line {}: unknown command {other}", case.line_number),
    }
    out
}

#[test]
fn raft_testdata() {
    for path in support::datadriven::testdata_files("raft") {
        let mut net = Network::new();
        run_file(&path, |case| run(&mut net, case));
    }
}
