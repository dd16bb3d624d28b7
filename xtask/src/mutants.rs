//! `cargo xtask mutants [--shard K/N]`: the share of mutants of the Raft core that the tests
//! catch, in two phases, because a simulator build per mutant is too slow to try them all:
//!
//! 1. cargo-mutants mutates `core/src/raft/*.rs` and runs the core's own tests (unit,
//!    datadriven, properties, the Ready contract) against each mutant.
//! 2. Each mutant that survives phase 1 is patched into a copy of the workspace, built into the
//!    simulator (`--cfg madsim`) and run against every scenario and a range of fuzz seeds. It is
//!    caught if a run fails or does not finish within a bound.
//!
//! The summary (and the list of survivors) is written to `target/mutants/summary.txt`.

use super::{root, step};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Seeds each surviving mutant is run with, per scenario and for the fuzzer.
const SCENARIO_SEEDS_PER_FILE: u64 = 10;
const FUZZ_SEEDS: &str = "0..100";
/// A mutant that makes the simulator run longer than this (a livelock) counts as caught.
const SIM_TIMEOUT_S: u32 = 300;

struct Mutant {
    name: String,
    file: String,
    diff: PathBuf,
}

#[derive(Default)]
struct Tally {
    total: usize,
    caught_core: usize,
    timeout_core: usize,
    unviable: usize,
    caught_sim: Vec<String>,
    missed: Vec<String>,
}

/// `--skip-core` reuses the outcomes of an earlier phase 1 in `target/mutants`.
pub fn run(rest: &[&str]) -> Result<(), String> {
    let out = root().join("target/mutants");
    match rest {
        ["--skip-core"] => println!("==> phase 1: reusing {}", out.display()),
        _ => phase_core(rest, &out)?,
    }
    let (mut tally, survivors) = read_outcomes(&out)?;
    let tree = copy_workspace(&out)?;
    for (i, mutant) in survivors.iter().enumerate() {
        println!("==> [{}/{}] {}", i + 1, survivors.len(), mutant.name);
        match run_in_simulator(&tree, mutant)? {
            SimOutcome::Caught => tally.caught_sim.push(mutant.name.clone()),
            SimOutcome::Missed => tally.missed.push(mutant.name.clone()),
            SimOutcome::Unviable => tally.unviable += 1,
        }
    }
    let summary = summarize(&tally);
    print!("{summary}");
    std::fs::write(out.join("summary.txt"), summary).map_err(|e| e.to_string())
}

/// Phase 1: cargo-mutants with the core's tests. Exit codes 2 (missed) and 3 (timeouts) are
/// outcomes, not errors.
fn phase_core(rest: &[&str], out: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let installed = Command::new(&cargo)
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        step(
            "install cargo-mutants",
            Command::new(&cargo).args(["install", "cargo-mutants", "--locked"]),
        )?;
    }
    let mut command = Command::new(&cargo);
    command.current_dir(root()).args([
        "mutants",
        "-p",
        "concord-core",
        "-f",
        "core/src/raft/*.rs",
        "-j",
        "2",
        "--output",
    ]);
    command.arg(out).args(rest);
    println!("==> phase 1: cargo-mutants with the core's tests");
    let status = command.status().map_err(|e| e.to_string())?;
    match status.code() {
        Some(0 | 2 | 3) => Ok(()),
        _ => Err(format!("cargo mutants failed ({status})")),
    }
}

/// The tally of phase 1 and the mutants it missed.
fn read_outcomes(out: &Path) -> Result<(Tally, Vec<Mutant>), String> {
    let dir = out.join("mutants.out");
    let text = std::fs::read_to_string(dir.join("outcomes.json")).map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let outcomes = json["outcomes"]
        .as_array()
        .ok_or("outcomes.json: no outcomes")?;
    let mut tally = Tally::default();
    let mut survivors = Vec::new();
    for outcome in outcomes {
        let Some(mutant) = outcome["scenario"].get("Mutant") else {
            continue; // the unmutated baseline
        };
        tally.total += 1;
        match outcome["summary"].as_str().unwrap_or_default() {
            "CaughtMutant" => tally.caught_core += 1,
            "Timeout" => tally.timeout_core += 1,
            "Unviable" => tally.unviable += 1,
            _ => survivors.push(Mutant {
                name: mutant["name"].as_str().unwrap_or_default().to_string(),
                file: mutant["file"].as_str().unwrap_or_default().to_string(),
                diff: dir.join(outcome["diff_path"].as_str().unwrap_or_default()),
            }),
        }
    }
    assert_eq!(
        tally.total,
        tally.caught_core + tally.timeout_core + tally.unviable + survivors.len()
    );
    Ok((tally, survivors))
}

/// A copy of the tracked files, so that patching a mutant never touches the real sources.
fn copy_workspace(out: &Path) -> Result<PathBuf, String> {
    let tree = out.join("sim-tree");
    std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
    let copy = format!(
        "git ls-files -z | xargs -0 cp --parents -t {}",
        tree.display()
    );
    step(
        "copy the workspace for phase 2",
        Command::new("sh").current_dir(root()).args(["-c", &copy]),
    )?;
    // The simulator's compiled dependencies carry over; only the workspace crates rebuild.
    let (built, target) = (root().join("target/sim"), tree.join("target"));
    if built.exists() && !target.join("sim").exists() {
        std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
        step(
            "reuse the simulator's compiled dependencies",
            Command::new("cp").arg("-a").arg(&built).arg(&target),
        )?;
    }
    Ok(tree)
}

/// Patches one mutant into the copy, runs the simulator, and restores the file. A run that
/// fails or times out catches the mutant.
fn run_in_simulator(tree: &Path, mutant: &Mutant) -> Result<SimOutcome, String> {
    let source = tree.join(&mutant.file);
    let original = std::fs::read(&source).map_err(|e| e.to_string())?;
    let patch = Command::new("patch")
        .args(["--silent", "--forward"])
        .arg(&source)
        .arg(&mutant.diff)
        .status()
        .map_err(|e| e.to_string())?;
    if !patch.success() {
        std::fs::write(&source, original).map_err(|e| e.to_string())?;
        return Err(format!("cannot apply {}", mutant.diff.display()));
    }
    let outcome = simulate(tree);
    std::fs::write(&source, original).map_err(|e| e.to_string())?;
    Ok(outcome)
}

/// What the simulator made of one mutant.
enum SimOutcome {
    Caught,
    Missed,
    /// The mutant does not build under `--cfg madsim`: not counted either way.
    Unviable,
}

/// Builds the simulator in `tree` and runs the scenarios and the fuzzer.
fn simulate(tree: &Path) -> SimOutcome {
    // The simulator's usual build, in the copy: its own target dir there, relative to it.
    let build = super::sim_cargo("build")
        .current_dir(tree)
        .arg("--quiet")
        .status();
    if !build.is_ok_and(|s| s.success()) {
        println!("    does not build under madsim");
        return SimOutcome::Unviable;
    }
    let binary = "target/sim/sim/concord-sim";
    let scenarios = super::scenario_files().unwrap_or_default();
    for file in &scenarios {
        for seed in 0..SCENARIO_SEEDS_PER_FILE {
            let run = ["run", file.as_str(), "--seed", &seed.to_string()];
            if !bounded(tree, binary, &run) {
                println!("    caught by {file} --seed {seed}");
                return SimOutcome::Caught;
            }
        }
    }
    let fuzz = [
        "fuzz",
        "--seeds",
        FUZZ_SEEDS,
        "--jobs",
        "2",
        "--stop-on-failure",
        "--no-shrink",
    ];
    if !bounded(tree, binary, &fuzz) {
        println!("    caught by the fuzzer (seeds {FUZZ_SEEDS})");
        return SimOutcome::Caught;
    }
    println!("    survived");
    SimOutcome::Missed
}

/// Runs the simulator under `timeout` (which signals the whole process group); true on success.
fn bounded(tree: &Path, binary: &str, args: &[&str]) -> bool {
    Command::new("timeout")
        .current_dir(tree)
        .arg(SIM_TIMEOUT_S.to_string())
        .arg(binary)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn summarize(tally: &Tally) -> String {
    let viable = tally.total - tally.unviable;
    let caught = tally.caught_core + tally.timeout_core + tally.caught_sim.len();
    assert_eq!(viable, caught + tally.missed.len());
    let percent = |n: usize| 100.0 * n as f64 / viable.max(1) as f64;
    let mut text = format!(
        "mutants of core/src/raft: {} ({} unviable)\n\
         caught by the core's tests: {} ({:.1}%), by their timeout: {}\n\
         caught by the simulator:    {} more\n\
         caught in all:              {} of {} viable ({:.1}%)\n\
         missed:                     {}\n",
        tally.total,
        tally.unviable,
        tally.caught_core,
        percent(tally.caught_core),
        tally.timeout_core,
        tally.caught_sim.len(),
        caught,
        viable,
        percent(caught),
        tally.missed.len(),
    );
    for name in &tally.missed {
        text.push_str(&format!("  missed: {name}\n"));
    }
    text
}
