//! Simulator self-tests (build with `--cfg madsim`): determinism, bug-finding power, and what
//! a failing seed leaves behind.
#![cfg(madsim)]

use concord_node::PlantedBug;
use concord_sim::fuzz::{run_schedule, schedule, shrink};
use concord_sim::runner::run_seed;
use concord_sim::scenario::run_scenario;

fn scenario(name: &str) -> String {
    let path = format!("{}/../scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_scenario_seed(name: &str, seed: u64) -> (u64, u64, Option<String>) {
    let text = scenario(name);
    let outcome = run_seed(seed, PlantedBug::None, move |mut world| async move {
        let result = run_scenario(&mut world, &text)
            .await
            .map_err(|f| format!("line {}: {}", f.line, f.reason));
        (world, result)
    });
    (outcome.trace_hash, outcome.events, outcome.failure)
}

#[test]
fn same_scenario_and_seed_give_the_same_trace() {
    for (name, seed) in [
        ("partition-leader.scn", 7),
        ("restart-all.scn", 11),
        ("seed-method2.scn", 3),
        // Anti-entropy, TTL timers and blocking health reads are deterministic too.
        ("discovery-kill.scn", 5),
        ("discovery-blocking.scn", 8),
        // Sessions, locks, their timers and transactions too.
        ("locks.scn", 4),
        ("txn.scn", 2),
    ] {
        let first = run_scenario_seed(name, seed);
        let second = run_scenario_seed(name, seed);
        println!(
            "{name} seed {seed}: trace {:016x} ({} events)",
            first.0, first.1
        );
        assert_eq!(first.2, None, "{name} failed with seed {seed}; replay: cargo xtask sim run scenarios/{name} --seed {seed}");
        assert!(
            first.1 > 10,
            "{name}: too few events traced to mean anything"
        );
        assert_eq!(
            first, second,
            "{name} is not deterministic with seed {seed}"
        );
    }
}

/// The summary line's trace hash of one run of the simulator binary: a replay is a new process.
fn binary_trace(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_concord-sim"))
        .args(args)
        .output()
        .expect("run concord-sim");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{args:?} failed:\n{stdout}");
    let summary = stdout.lines().last().unwrap_or_default();
    summary
        .split_whitespace()
        .find(|w| w.starts_with("trace="))
        .unwrap_or_else(|| panic!("no trace hash in {summary}"))
        .to_string()
}

#[test]
fn same_fuzz_seed_gives_the_same_trace_in_a_new_process() {
    let first = binary_trace(&["fuzz", "--seeds", "5..6", "--no-shrink"]);
    let second = binary_trace(&["fuzz", "--seeds", "5..6", "--no-shrink"]);
    assert_eq!(first, second, "fuzz seed 5 is not deterministic");
    let other = binary_trace(&["fuzz", "--seeds", "6..7", "--no-shrink"]);
    assert_ne!(first, other, "seeds 5 and 6 gave the same trace");
}

#[test]
fn other_seeds_give_other_traces() {
    let a = run_scenario_seed("partition-leader.scn", 1);
    let b = run_scenario_seed("partition-leader.scn", 2);
    assert_ne!(
        a.0, b.0,
        "seeds 1 and 2 gave the same trace: the seed does not reach the run"
    );
}

/// The first seed in 0..1000 whose schedule fails with `bug` planted.
fn first_failing_seed(bug: PlantedBug) -> Option<(u64, String)> {
    (0..1000).find_map(|seed| {
        run_schedule(seed, bug, schedule::generate(seed))
            .failure
            .map(|f| (seed, f))
    })
}

#[test]
fn fuzzer_catches_the_planted_vote_bug_within_1000_seeds() {
    let (seed, failure) = first_failing_seed(PlantedBug::VoteNotDurable)
        .expect("vote-not-durable missed in 1000 seeds");
    println!(
        "planted bug vote-not-durable caught after {} seeds (seed {seed}): {failure}",
        seed + 1
    );
    assert!(
        !failure.contains("no write committed"),
        "caught only as a liveness failure: {failure}"
    );
}

#[test]
fn a_failing_seed_leaves_a_shrunk_scenario_and_a_timeline() {
    let bug = PlantedBug::Raft(concord_core::raft::RaftBug::VoteIgnoresLog);
    let (seed, failure) = first_failing_seed(bug).expect("vote-ignores-log missed in 1000 seeds");
    let saved = shrink::shrink_and_save(seed, bug, &failure);
    assert!(
        saved.lines_after < saved.lines_before,
        "nothing was shrunk ({} lines)",
        saved.lines_before
    );
    let text = std::fs::read_to_string(&saved.scenario).unwrap();
    assert!(
        text.contains(&format!("# seed: {seed}")) && text.contains("# bug: vote-ignores-log"),
        "{text}"
    );
    // The saved scenario replays the failure, with the same kind of failure.
    let replay = run_schedule(seed, bug, text.clone());
    let replayed = replay.failure.expect("the shrunk scenario no longer fails");
    assert_eq!(
        shrink::failure_kind(&replayed),
        shrink::failure_kind(&failure),
        "{replayed} vs {failure}"
    );
    let html = std::fs::read_to_string(&saved.timeline).unwrap();
    assert!(
        html.contains("<svg") && html.contains("class=\"msg"),
        "the timeline draws no messages"
    );
    println!(
        "shrunk {} -> {} lines: {}",
        saved.lines_before,
        saved.lines_after,
        saved.scenario.display()
    );
}

fn run_scenario_with_bug(name: &str, seed: u64, bug: PlantedBug) -> Option<String> {
    let text = scenario(name);
    let outcome = run_seed(seed, bug, move |mut world| async move {
        let result = run_scenario(&mut world, &text)
            .await
            .map_err(|f| format!("line {}: {}: {}", f.line, f.text, f.reason));
        (world, result)
    });
    outcome.failure
}

#[test]
fn a_paused_leader_releasing_reads_without_a_quorum_is_caught_as_read_release() {
    let bug = PlantedBug::Raft(concord_core::raft::RaftBug::ReadIndexSkipsQuorum);
    for seed in 0..3 {
        let replay =
            format!("replay: cargo xtask sim run scenarios/leader-aimed.scn --seed {seed}");
        let clean = run_scenario_with_bug("leader-aimed.scn", seed, PlantedBug::None);
        assert_eq!(clean, None, "{replay}");
        let failure = run_scenario_with_bug("leader-aimed.scn", seed, bug).unwrap_or_else(|| {
            panic!("read-index-skips-quorum not caught; {replay} --bug read-index-skips-quorum")
        });
        assert!(
            failure.contains("pause-leader-reading") && failure.contains("read release"),
            "seed {seed}: {failure}"
        );
    }
}

#[test]
fn fuzzer_catches_reads_released_without_a_quorum_within_20_seeds() {
    let bug = PlantedBug::Raft(concord_core::raft::RaftBug::ReadIndexSkipsQuorum);
    // It took 371 seeds while only the linearizability check could see it. Seeds that fail
    // for another reason first do not count.
    let (seed, failure) = (0..20)
        .find_map(|seed| {
            run_schedule(seed, bug, schedule::generate(seed))
                .failure
                .filter(|f| f.contains("read release"))
                .map(|f| (seed, f))
        })
        .expect("read-index-skips-quorum not caught as read release in 20 seeds");
    println!("read-index-skips-quorum caught at seed {seed}: {failure}");
}

#[test]
fn fuzz_seeds_pass_without_planted_bugs() {
    for seed in 0..20 {
        let outcome = run_schedule(seed, PlantedBug::None, schedule::generate(seed));
        assert!(
            outcome.failure.is_none(),
            "seed {seed}: {:?}; replay: cargo xtask sim fuzz --seeds {seed}..{}",
            outcome.failure,
            seed + 1
        );
    }
}

/// The planted bug that grants a lock over its holder once the term has moved on (the bug the
/// issue asks for), by name, as `--bug` takes it.
fn lock_steal() -> PlantedBug {
    PlantedBug::from_name("lock-steal-after-leader-change").expect("the planted lock steal")
}

#[test]
fn lock_steal_after_leader_change_is_caught_by_lock_holders() {
    for seed in 0..3 {
        let replay =
            format!("replay: cargo xtask sim run scenarios/locks-leader-change.scn --seed {seed}");
        let clean = run_scenario_with_bug("locks-leader-change.scn", seed, PlantedBug::None);
        assert_eq!(clean, None, "{replay}");
        let failure = run_scenario_with_bug("locks-leader-change.scn", seed, lock_steal())
            .unwrap_or_else(|| {
                panic!(
                    "the lock steal was not caught; {replay} --bug lock-steal-after-leader-change"
                )
            });
        assert!(failure.contains("lock holders"), "seed {seed}: {failure}");
    }
}

#[test]
fn fuzzer_catches_the_lock_steal_within_200_seeds() {
    // Only seeds with locks in their load can catch it; seeds that fail for another reason
    // first do not count.
    let (seed, failure) = (0..200)
        .filter(|seed| schedule::generate(*seed).contains(" lock%="))
        .find_map(|seed| {
            run_schedule(seed, lock_steal(), schedule::generate(seed))
                .failure
                .filter(|f| f.contains("lock holders"))
                .map(|f| (seed, f))
        })
        .expect("lock-steal-after-leader-change not caught as lock holders in 200 seeds");
    println!("lock-steal-after-leader-change caught at seed {seed}: {failure}");
}
