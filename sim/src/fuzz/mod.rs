//! The fuzzer: every seed is one world. Its schedule (`schedule.rs`) is a scenario generated
//! from the seed: a cluster, a safety phase of random faults under client load, then a
//! liveness phase in which faults stop and the cluster must elect a leader and take a write.
//! Safety is checked all along, acknowledged writes and linearizability at the end. A failing
//! seed is shrunk to a minimal schedule, saved as a scenario file, and drawn as a timeline.

pub mod schedule;
#[cfg(madsim)]
pub mod shrink;

#[cfg(madsim)]
use crate::runner::Outcome;
#[cfg(madsim)]
use crate::scenario::run_scenario;
#[cfg(madsim)]
use crate::world::World;
use concord_node::PlantedBug;
use std::path::PathBuf;
#[cfg(madsim)]
use std::time::Instant;

/// Where failing schedules and their timelines are written when the running binary is in no
/// target dir of the `sim` profile (the one xtask builds into).
pub const FAILURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/sim/failures");

/// `failures/` in the target dir the running binary was built into (`target/sim` for
/// `cargo xtask sim`; `--target-dir D` gives `D/failures`), so that a simulator built
/// elsewhere never writes into another build's directory.
pub fn failures_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // <target dir>/sim/concord-sim, or <target dir>/sim/deps/<test binary>.
    let profile = exe
        .ancestors()
        .find(|dir| dir.file_name() == Some("sim".as_ref()));
    match profile.and_then(|dir| dir.parent()) {
        Some(target) => target.join("failures"),
        None => PathBuf::from(FAILURES_DIR),
    }
}

/// Runs one seed's schedule.
#[cfg(madsim)]
pub fn run_schedule(seed: u64, bug: PlantedBug, text: String) -> Outcome {
    run_schedule_drawn(seed, bug, text, false)
}

/// Runs one schedule and draws its timeline.
#[cfg(madsim)]
pub fn run_schedule_with_timeline(seed: u64, bug: PlantedBug, text: String) -> Outcome {
    run_schedule_drawn(seed, bug, text, true)
}

#[cfg(madsim)]
fn run_schedule_drawn(seed: u64, bug: PlantedBug, text: String, timeline: bool) -> Outcome {
    crate::runner::run_seed_with(seed, bug, timeline, move |mut world: World| async move {
        let result = run_scenario(&mut world, &text)
            .await
            .map_err(|f| format!("line {}: {}: {}", f.line, f.text, f.reason));
        (world, result)
    })
}

pub struct FuzzOptions {
    pub start: u64,
    pub end: u64,
    pub bug: PlantedBug,
    pub stop_on_failure: bool,
    /// Shard `index` of `count`: this run takes the seeds with `seed % count == index`.
    pub shard: (u64, u64),
    /// Shrink failures and write their scenario and timeline.
    pub shrink: bool,
}

pub struct FuzzReport {
    pub seeds: u64,
    pub failures: Vec<u64>,
    pub sim_ms: u64,
    /// Every seed's trace hash folded in seed order: equal runs, equal hashes.
    pub trace_hash: u64,
}

/// Folds one trace hash into a running one (FNV-1a over its bytes).
pub fn fold_hash(running: u64, hash: u64) -> u64 {
    concord_core::digest::fnv1a_extend(running, &hash.to_le_bytes())
}

pub const TRACE_HASH_START: u64 = concord_core::digest::FNV_OFFSET;

#[cfg(madsim)]
pub fn fuzz_range(options: &FuzzOptions) -> FuzzReport {
    let wall = Instant::now();
    let mut report = FuzzReport {
        seeds: 0,
        failures: Vec::new(),
        sim_ms: 0,
        trace_hash: TRACE_HASH_START,
    };
    let seeds = (options.start..options.end).filter(|s| s % options.shard.1 == options.shard.0);
    for seed in seeds {
        let outcome = run_schedule(seed, options.bug, schedule::generate(seed));
        report.seeds += 1;
        report.sim_ms += outcome.sim_ms;
        report.trace_hash = fold_hash(report.trace_hash, outcome.trace_hash);
        if let Some(failure) = &outcome.failure {
            report.failures.push(seed);
            report_failure(&outcome, failure, options);
            if options.stop_on_failure {
                break;
            }
        }
        if report.seeds.is_multiple_of(100) {
            let failed = report.failures.len();
            println!(
                "progress: {} seeds, {failed} failed, {:.0}s wall",
                report.seeds,
                wall.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "fuzz done: seeds={} failed={} sim_time={:.0}s wall={:.1}s trace={:016x}",
        report.seeds,
        report.failures.len(),
        report.sim_ms as f64 / 1000.0,
        wall.elapsed().as_secs_f64(),
        report.trace_hash
    );
    report
}

#[cfg(madsim)]
fn report_failure(outcome: &Outcome, failure: &str, options: &FuzzOptions) {
    println!("{}", outcome.summary("fuzz"));
    println!("  failed: {failure}");
    let bug_flag = if options.bug == PlantedBug::None {
        String::new()
    } else {
        format!(" --bug {}", options.bug.name())
    };
    println!(
        "  replay: cargo xtask sim fuzz --seeds {}..{}{bug_flag}",
        outcome.seed,
        outcome.seed + 1
    );
    if options.shrink {
        let saved = shrink::shrink_and_save(outcome.seed, options.bug, failure);
        println!("  shrunk schedule: {}", saved.scenario.display());
        println!("  timeline: {}", saved.timeline.display());
        println!(
            "  replay shrunk: cargo xtask sim run {}",
            saved.scenario.display()
        );
    }
}

/// Where a failing seed's files go.
pub fn failure_path(seed: u64, bug: PlantedBug, extension: &str) -> PathBuf {
    let name = match bug {
        PlantedBug::None => format!("seed-{seed}.{extension}"),
        bug => format!("seed-{seed}-{}.{extension}", bug.name()),
    };
    failures_dir().join(name)
}
