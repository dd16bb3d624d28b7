//! The log is compacted by bytes as well as by entries: a few large values take a snapshot
//! long before `snapshot_threshold_entries`, and a log full of entries not yet applied does
//! not take one every round.

use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_core::raft::RaftRestore;

mod support;
use support::drive::run_until_idle;

/// Runs a one-server agent until idle, persisting what it asks; how many snapshots it saved.
fn run(agent: &mut Agent) -> usize {
    let mut snapshots = 0;
    run_until_idle(agent, 50, |action| {
        if let Action::SaveSnapshot(_) = action {
            snapshots += 1;
        }
    });
    snapshots
}

fn write(id: u64, value_bytes: usize) -> Request {
    let command = KvCommand::Set {
        key: format!("k{id}"),
        value: vec![b'v'; value_bytes],
        flags: 0,
    };
    Request::KvWrite { command }
}

#[test]
fn large_values_compact_the_log_by_bytes() {
    let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
    config.bootstrap_expect = 1;
    config.snapshot_threshold_bytes = 1_000_000;
    assert_eq!(config.snapshot_threshold_entries, 16_384);
    let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
    agent.tick(10);
    run(&mut agent);
    let mut snapshots = 0;
    for id in 1..=20 {
        agent.handle_request(10 + id, id, write(id, 100_000));
        snapshots += run(&mut agent);
    }
    // 2 MB written: at most a snapshot per 500 kB applied, at least one per MB in memory.
    assert!((1..=4).contains(&snapshots), "{snapshots} snapshots");
}

/// By count, a snapshot comes at most once per `snapshot_interval_ms` (Consul's
/// `raft_snapshot_interval`): a write load does not stall the loop with one every fraction of
/// a second. Once the interval has passed, the next write takes it.
#[test]
fn by_count_a_snapshot_waits_for_the_interval() {
    let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
    config.bootstrap_expect = 1;
    config.snapshot_threshold_entries = 10;
    config.snapshot_interval_ms = 30_000;
    let mut agent = Agent::new(config, 1, 0, RaftRestore::default());
    agent.tick(10);
    run(&mut agent);
    let mut snapshots = 0;
    for id in 1..=100 {
        agent.handle_request(10 + id, id, write(id, 10));
        snapshots += run(&mut agent);
    }
    assert_eq!(
        snapshots, 0,
        "100 entries within 30 s: the interval holds them"
    );
    agent.handle_request(30_010, 101, write(101, 10));
    assert_eq!(run(&mut agent), 1, "due once the interval passed");
    for id in 102..=120 {
        agent.handle_request(30_010 + id, id, write(id, 10));
        snapshots += run(&mut agent);
    }
    assert_eq!(snapshots, 0, "and not again within the next 30 s");
}
