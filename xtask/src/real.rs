//! `cargo xtask real ...`: the simulator's scenario files and fuzz schedules against real
//! `concord agent` processes (`concord-sim real`, built without madsim). Builds the debug
//! `concord` (only debug builds read the test hooks the runner sets) and the runner, then
//! runs it as root (network namespaces), through sudo when not root.

use super::{root, step};
use std::process::Command;

/// The scenario files CI runs in the real world: the seed guide's own (§3 dev agent, §6's
/// two ways to form a cluster) and three more of its operations (a leader partitioned away,
/// every server restarted, a graceful leave).
pub const CI_REAL_FILES: [&str; 6] = [
    "scenarios/seed-dev.scn",
    "scenarios/seed-method1.scn",
    "scenarios/seed-method2.scn",
    "scenarios/partition-leader.scn",
    "scenarios/restart-all.scn",
    "scenarios/leave.scn",
];

/// Installs `ip` (Debian's iproute2) when it is missing: the runner makes namespaces with it.
/// `unshare`, `mount` and `hostname` are in every Debian (util-linux, mount, hostname).
const INSTALL_IP: &str = "command -v ip >/dev/null 2>&1 || { S=; [ \"$(id -u)\" = 0 ] || S=sudo; \
     $S apt-get update -qq && $S apt-get install -y -qq iproute2; }";

/// `ip` for the runner and for the switch's tests in `cargo test` (which need root too).
pub fn install_ip() -> Result<(), String> {
    step(
        "install ip (iproute2) if missing",
        Command::new("sh").args(["-c", INSTALL_IP]),
    )
}

/// Builds `concord` and the real runner (debug, the workspace's target dir).
fn build() -> Result<(), String> {
    install_ip()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    step(
        "build concord and the real-world runner",
        Command::new(cargo).current_dir(root()).args([
            "build",
            "-p",
            "concord",
            "-p",
            "concord-sim",
        ]),
    )
}

/// `cargo xtask real ARGS...`: `run FILE... [--seed N] [--bug NAME]`, `fuzz --seeds A..B`.
pub fn real(args: &[&str]) -> Result<(), String> {
    build()?;
    run_runner(args)
}

/// Runs the built `concord-sim real ARGS...` as root (through sudo when not root).
fn run_runner(args: &[&str]) -> Result<(), String> {
    let runner = root().join("target/debug/concord-sim");
    let mut command = if is_root() {
        Command::new(&runner)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(&runner);
        sudo
    };
    command.current_dir(root()).arg("real").args(args);
    step(&format!("real {}", args.join(" ")), &mut command)
}

/// The planted bug CI shows the real runner catching, and the file it is caught on: a new
/// leader hands a held lock to the next acquirer (`expect-lock-holder` and the lock's own
/// release fail deterministically).
pub const CI_REAL_BUG: (&str, &str) = (
    "lock-steal-after-leader-change",
    "scenarios/locks-leader-change.scn",
);

/// What CI runs in the real world: the seed-guide files, each with one seed; then the
/// planted bug, which must make its run fail (the real checks can fail).
pub fn ci() -> Result<(), String> {
    let mut args = vec!["run"];
    args.extend(CI_REAL_FILES);
    args.extend(["--seed", "1"]);
    real(&args)?;
    let (bug, file) = CI_REAL_BUG;
    println!("==> real run {file} --bug {bug}: must fail");
    match run_runner(&["run", file, "--seed", "1", "--bug", bug]) {
        Err(_) => Ok(()),
        Ok(()) => Err(format!(
            "the planted bug {bug} went unnoticed by the real runner on {file}"
        )),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Simulator seeds and real runs per file that `real compare` takes.
const COMPARE_SIM_SEEDS: u64 = 20;
const COMPARE_REAL_RUNS: u64 = 3;

/// `cargo xtask real compare FILE...`: how long each `expect ... within D` line took to pass
/// in the simulator (seeds 0..20) and against real processes (3 runs), medians side by side:
/// the simulator's model of time checked against reality.
pub fn compare(files: &[&str]) -> Result<(), String> {
    build()?;
    let simulator = super::build_sim()?;
    let runner = root().join("target/debug/concord-sim");
    for file in files {
        let text =
            std::fs::read_to_string(root().join(file)).map_err(|e| format!("{file}: {e}"))?;
        let mut simulated = Margins::default();
        for seed in 0..COMPARE_SIM_SEEDS {
            simulated.add(&margins_of(
                Command::new(&simulator).args(["run", file]),
                seed,
            )?);
        }
        let mut real = Margins::default();
        for seed in 0..COMPARE_REAL_RUNS {
            let mut command = Command::new(&runner);
            command.args(["real", "run", file, "--time-factor", "100"]);
            real.add(&margins_of(&mut command, seed)?);
        }
        println!("{file}: ms to pass, median (simulator {COMPARE_SIM_SEEDS} seeds | real {COMPARE_REAL_RUNS} runs, deadlines unscaled)");
        for (line, sim_took) in &simulated.took {
            let words = text.lines().nth(line - 1).unwrap_or("").trim();
            let real_took = real
                .took
                .get(line)
                .map_or("-".into(), |t| median(t).to_string());
            println!(
                "  line {line:>3}: {:>6} | {:>6}   {words}",
                median(sim_took),
                real_took
            );
        }
    }
    Ok(())
}

/// line -> every run's milliseconds to pass.
#[derive(Default)]
struct Margins {
    took: std::collections::BTreeMap<usize, Vec<u64>>,
}

impl Margins {
    fn add(&mut self, lines: &[(usize, u64)]) {
        for (line, took) in lines {
            self.took.entry(*line).or_default().push(*took);
        }
    }
}

fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

/// Runs `command --seed N --margins` and reads its `margin line=L took_ms=T` lines.
fn margins_of(command: &mut Command, seed: u64) -> Result<Vec<(usize, u64)>, String> {
    let out = command
        .current_dir(root())
        .args(["--seed", &seed.to_string(), "--margins"])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = Vec::new();
    for text in stdout.lines().filter(|l| l.starts_with("margin ")) {
        let field = |key: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let (Some(line), Some(took)) = (field("line="), field("took_ms=")) {
            lines.push((line as usize, took));
        }
    }
    if !out.status.success() {
        println!(
            "  (seed {seed} failed: {})",
            stdout
                .lines()
                .find(|l| l.starts_with("FAILED"))
                .unwrap_or("?")
        );
    }
    Ok(lines)
}
