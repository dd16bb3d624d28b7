//! `cargo xtask`: builds the simulator (`--cfg madsim`, in `target/sim`) and runs what CI runs.
//!
//!   cargo xtask sim run scenarios/NAME.scn [--seed N]
//!   cargo xtask sim fuzz --seeds A..B [--bug vote-not-durable] [--stop-on-failure]
//!   cargo xtask sim scenarios --seeds A..B     every scenario for every seed in the range
//!   cargo xtask sim determinism SCENARIO --seed N   the same seed twice: same trace hash
//!   cargo xtask sim regressions | bugs --seeds A..B | schedule --seed N
//!   cargo xtask sim gossip-bench [--sizes 5,50,500,1000] [--trials T] [--member-hours H] [--seed S]
//!   cargo xtask test                              everything CI runs
//!   cargo xtask npm                               the npm consul client against a real agent
//!   cargo xtask ui                                the web UI in headless Chromium (3 servers + client)
//!   cargo xtask real run FILE... [--seed N] [--bug NAME]   scenario files against real processes
//!   cargo xtask real fuzz --seeds A..B [--jobs J]  fuzz schedules against real processes
//!   cargo xtask real ci                           the seed-guide files in the real world (CI)
//!   cargo xtask real compare FILE...              time to pass each `expect ... within` line, both worlds
//!   cargo xtask mutants [--shard K/N] [--skip-core]  mutants of the Raft core caught (slow)

mod mutants;
mod npm;
mod real;
mod ui;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sim", "run", rest @ ..] => sim(&[&["run"], rest].concat()),
        ["sim", "fuzz", rest @ ..] => sim(&[&["fuzz"], rest].concat()),
        ["sim", "scenarios", rest @ ..] => scenarios(rest),
        ["sim", "regressions"] => regressions(),
        ["sim", "bugs", rest @ ..] => sim(&[&["bugs"], rest].concat()),
        ["sim", "schedule", rest @ ..] => sim(&[&["schedule"], rest].concat()),
        ["sim", "gossip-bench", rest @ ..] => sim(&[&["gossip-bench"], rest].concat()),
        ["sim", "determinism", scenario, "--seed", seed] => determinism(scenario, seed),
        ["sim", "build"] => build_sim().map(|_| ()),
        ["test"] => test_all(),
        ["npm"] => npm::npm_consul(),
        ["ui"] => ui::ui_browser(),
        ["real", "ci"] => real::ci(),
        ["real", "compare", files @ ..] => real::compare(files),
        ["real", rest @ ..] => real::real(rest),
        ["mutants", rest @ ..] => mutants::run(rest),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str =
    "usage: cargo xtask test | sim run SCENARIO [--seed N] | sim fuzz --seeds A..B [--bug NAME] \
                     | sim scenarios --seeds A..B | sim determinism SCENARIO --seed N | sim build \
                     | sim gossip-bench [--sizes 5,50,500] [--trials T] [--member-hours H] [--seed S] \
                     | npm | ui | real run FILE... [--seed N] | real fuzz --seeds A..B [--jobs J] \
                     | real ci | mutants [--shard K/N] [--skip-core]";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo SUBCOMMAND` on the simulator: `--cfg madsim`, its own target dir and profile.
fn sim_cargo(subcommand: &str) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root()).env("RUSTFLAGS", "--cfg madsim");
    command.args([
        subcommand,
        "-p",
        "concord-sim",
        "--profile",
        "sim",
        "--target-dir",
        "target/sim",
    ]);
    command
}

/// Builds the simulator with `--cfg madsim` in its own target dir; returns the binary.
fn build_sim() -> Result<PathBuf, String> {
    let status = sim_cargo("build")
        .arg("--quiet")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the simulator failed".into());
    }
    Ok(root().join("target/sim/sim/concord-sim"))
}

fn sim(args: &[&str]) -> Result<(), String> {
    let binary = build_sim()?;
    let status = Command::new(binary)
        .current_dir(root())
        .args(args)
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("simulation failed ({status})"))
    }
}

fn scenario_files() -> Result<Vec<String>, String> {
    let dir = root().join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .map(|p| p.strip_prefix(root()).unwrap_or(&p).display().to_string())
        .collect();
    files.sort();
    Ok(files)
}

/// Every scenario for every seed in the range; stops at the first failure.
fn scenarios(rest: &[&str]) -> Result<(), String> {
    let range = match rest {
        ["--seeds", range] => *range,
        _ => return Err(USAGE.into()),
    };
    let (start, end) = range.split_once("..").ok_or(USAGE)?;
    let (start, end): (u64, u64) = (
        start.parse().map_err(|_| USAGE)?,
        end.parse().map_err(|_| USAGE)?,
    );
    let binary = build_sim()?;
    for file in scenario_files()? {
        let mut passed = 0;
        for seed in start..end {
            let output = Command::new(&binary)
                .current_dir(root())
                .args(["run", &file, "--seed", &seed.to_string()])
                .output()
                .map_err(|e| e.to_string())?;
            if !output.status.success() {
                print!("{}", String::from_utf8_lossy(&output.stdout));
                return Err(format!("{file} failed with seed {seed}: replay with cargo xtask sim run {file} --seed {seed}"));
            }
            passed += 1;
        }
        println!("{file}: {passed} seeds passed ({start}..{end})");
    }
    Ok(())
}

/// Replays every schedule in `scenarios/regressions/` with the seed (and planted bug) its
/// header names. Each was a failure once; each must pass now.
fn regressions() -> Result<(), String> {
    let dir = root().join("scenarios/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    let binary = build_sim()?;
    for file in &files {
        let output = Command::new(&binary)
            .current_dir(root())
            .arg("run")
            .arg(file)
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            print!("{stdout}");
            return Err(format!("regression {} fails again", file.display()));
        }
        println!("{}", stdout.lines().last().unwrap_or_default());
    }
    println!("{} regressions replayed", files.len());
    Ok(())
}

/// Runs a scenario twice with one seed and compares the trace hashes.
fn determinism(scenario: &str, seed: &str) -> Result<(), String> {
    let binary = build_sim()?;
    let run = || -> Result<String, String> {
        let output = Command::new(&binary)
            .current_dir(root())
            .args(["run", scenario, "--seed", seed])
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        stdout
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("trace=")))
            .map(String::from)
            .ok_or(stdout)
    };
    let (first, second) = (run()?, run()?);
    if first != second {
        return Err(format!(
            "not deterministic: {scenario} seed {seed} gave {first} then {second}"
        ));
    }
    println!("deterministic: {scenario} seed {seed} {first} twice");
    Ok(())
}

/// Seeds every CI run replays, per scenario and for the fuzzer.
const CI_SCENARIO_SEEDS: &str = "0..100";
const CI_FUZZ_SEEDS: &str = "0..600";

/// Everything CI runs, in order of cost: unit and datadriven tests, the simulator's own tests,
/// every scenario over many seeds, the fuzzer, and end-to-end tests of real processes.
fn test_all() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let fmt = ["fmt", "--all", "--", "--check"];
    step(
        "formatting",
        Command::new(&cargo).current_dir(root()).args(fmt),
    )?;
    let clippy = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ];
    step(
        "clippy",
        Command::new(&cargo).current_dir(root()).args(clippy),
    )?;
    // The simulator's modules only exist under `--cfg madsim`: lint them there too.
    let mut sim_clippy = sim_cargo("clippy");
    sim_clippy.args(["--all-targets", "--quiet", "--", "-D", "warnings"]);
    step("clippy (simulator)", &mut sim_clippy)?;
    step(
        "build the concord binary",
        Command::new(&cargo)
            .current_dir(root())
            .args(["build", "-p", "concord"]),
    )?;
    // tests/dns.rs asks the agent with `dig`, as users do (Debian's dnsutils).
    step(
        "install dig (dnsutils) if missing",
        Command::new("sh").args(["-c", INSTALL_DIG]),
    )?;
    // sim/src/real/net's tests make namespaces with `ip`.
    real::install_ip()?;
    step(
        "unit, datadriven and end-to-end tests",
        Command::new(&cargo)
            .current_dir(root())
            .args(["test", "--workspace"]),
    )?;
    // One test at a time: madsim runtimes on parallel test threads disturb each other's
    // determinism (a simulator process runs its seeds one after the other).
    let mut sim_tests = sim_cargo("test");
    sim_tests.args(["--", "--test-threads=1"]);
    step(
        "simulator self-tests (determinism, planted bugs, shrinking)",
        &mut sim_tests,
    )?;
    println!("==> scenarios, seeds {CI_SCENARIO_SEEDS}");
    scenarios(&["--seeds", CI_SCENARIO_SEEDS])?;
    println!("==> regressions");
    regressions()?;
    println!("==> fuzz, seeds {CI_FUZZ_SEEDS}");
    sim(&["fuzz", "--seeds", CI_FUZZ_SEEDS, "--jobs", "2"])?;
    py_consul()?;
    npm::npm_consul()?;
    ui::ui_browser()?;
    println!("==> the seed-guide scenarios against real processes");
    real::ci()
}

/// Installs `dig` with apt-get when it is not on the PATH (through sudo when not root).
const INSTALL_DIG: &str =
    "command -v dig >/dev/null 2>&1 || { S=; [ \"$(id -u)\" = 0 ] || S=sudo; \
     $S apt-get update -qq && $S apt-get install -y -qq dnsutils; }";

fn step(what: &str, command: &mut Command) -> Result<(), String> {
    println!("==> {what}");
    let status = command.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The real-client tests: py-consul against a real agent, and the metrics endpoint through
/// prometheus_client's parser (installs both packages if missing).
fn py_consul() -> Result<(), String> {
    let script = root().join("tests/py/test_py_consul.py");
    if !script.exists() {
        return Err(format!("missing {}", script.display()));
    }
    let venv = root().join("target/py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        step(
            "create a Python venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
    }
    step(
        "install py-consul and prometheus-client",
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "py-consul",
            "prometheus-client",
        ]),
    )?;
    let binary = root().join("target/debug/concord");
    step(
        "py-consul against a real agent",
        Command::new(&python)
            .arg(&script)
            .env("CONCORD_BIN", &binary),
    )?;
    // The metrics endpoint, parsed by Prometheus' own Python parser.
    step(
        "/v1/agent/metrics?format=prometheus through prometheus_client's parser",
        Command::new(&python)
            .current_dir(root())
            .arg(root().join("tests/py/test_metrics.py"))
            .env("CONCORD_BIN", &binary),
    )
}
