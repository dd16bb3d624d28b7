//! Simulator self-tests (build with `--cfg madsim`): determinism and bug-finding power.
#![cfg(madsim)]

use concord_node::PlantedBug;
use concord_sim::fuzz::fuzz_world_for_test;
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

#[test]
fn other_seeds_give_other_traces() {
    let a = run_scenario_seed("partition-leader.scn", 1);
    let b = run_scenario_seed("partition-leader.scn", 2);
    assert_ne!(
        a.0, b.0,
        "seeds 1 and 2 gave the same trace: the seed does not reach the run"
    );
}

#[test]
fn fuzzer_catches_the_planted_vote_bug_within_1000_seeds() {
    for seed in 0..1000 {
        let outcome = run_seed(seed, PlantedBug::VoteNotDurable, fuzz_world_for_test);
        if let Some(failure) = outcome.failure {
            println!(
                "planted bug vote-not-durable caught after {} seeds (seed {seed}): {failure}",
                seed + 1
            );
            assert!(
                failure.contains("safety") || failure.contains("lost"),
                "caught, but not as a safety violation: {failure}"
            );
            return;
        }
    }
    panic!("the fuzzer missed the planted vote-not-durable bug in 1000 seeds");
}

#[test]
fn fuzz_seeds_pass_without_planted_bugs() {
    for seed in 0..50 {
        let outcome = run_seed(seed, PlantedBug::None, fuzz_world_for_test);
        assert!(
            outcome.failure.is_none(),
            "seed {seed}: {:?}; replay: cargo xtask sim fuzz --seeds {seed}..{}",
            outcome.failure,
            seed + 1
        );
    }
}
