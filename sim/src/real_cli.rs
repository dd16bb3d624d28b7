//! `concord-sim real ...`: the simulator's scenarios and fuzz schedules against real
//! `concord` agents (built without madsim; needs root for namespaces). Prefer
//! `cargo xtask real ...`, which builds the debug `concord` and this binary first.

use crate::args::{default_seed, flag, header, parse_bug, parse_range};
use concord_node::PlantedBug;
use concord_sim::fuzz::schedule;
use concord_sim::real::run::{run_text, RealOutcome, TIME_FACTOR_PERCENT_DEFAULT};
use concord_sim::world::RealOptions;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str =
    "usage: concord-sim real run FILE... [--seed N] [--bug NAME] [--time-factor PERCENT] [--world W] [--margins]
       concord-sim real fuzz --seeds A..B [--jobs J] [--bug NAME] [--time-factor PERCENT] [--world W]
  Runs scenario files, or the fuzzer's schedules for seeds A..B, against real `concord agent`
  processes in network namespaces (root needed). The binary is $CONCORD_BIN or the `concord`
  next to this one. Deadlines (`within D`) are scaled by the time factor (default 200%).
  Runs side by side need other world numbers (`--world W`: namespaces crW-*, 10.77.W.0/24;
  a fuzz takes worlds W..W+J). `concord-sim schedule --seed N` prints a seed's schedule.
  CONCORD_REAL_LOG_LEVEL=debug makes the agents log at that level.";

/// Worlds a real fuzz may run side by side (each has its own namespaces and /24).
const JOBS_MAX: u64 = 8;
/// World numbers runs may take (`--world`); the switch's tests take 200 and up.
const WORLDS_MAX: u8 = 100;

pub fn main(args: &[String]) -> i32 {
    if !is_root() {
        eprintln!("concord-sim real needs root (network namespaces); run it under sudo");
        return 2;
    }
    match args.first().map(|s| s.as_str()) {
        Some("run") => run_files(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `--time-factor`, `--bug`: what every run of a command shares.
struct Common {
    bug: PlantedBug,
    time_factor_percent: u64,
    bin: PathBuf,
    target: PathBuf,
    /// The first world number this command uses.
    world: u8,
}

fn common(args: &[String]) -> Result<Common, String> {
    let bug = parse_bug(flag(args, "--bug"))?;
    let time_factor_percent = match flag(args, "--time-factor") {
        None => TIME_FACTOR_PERCENT_DEFAULT,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p >= 100)
            .ok_or(format!("--time-factor {p}: a percentage of at least 100"))?,
    };
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("the binary has no directory")?;
    let bin = std::env::var_os("CONCORD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("concord"));
    if !bin.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build -p concord` (or set CONCORD_BIN)",
            bin.display()
        ));
    }
    // target/debug/concord-sim -> target/real
    let target = dir.parent().unwrap_or(dir).join("real");
    let world = match flag(args, "--world") {
        None => 0,
        Some(w) => w
            .parse::<u8>()
            .ok()
            .filter(|w| u64::from(*w) + JOBS_MAX <= u64::from(WORLDS_MAX))
            .ok_or(format!("--world {w}: 0..{}", WORLDS_MAX - JOBS_MAX as u8))?,
    };
    Ok(Common {
        bug,
        time_factor_percent,
        bin,
        target,
        world,
    })
}

impl Common {
    /// Options for this command's world `offset` (0 for `run`, the job for `fuzz`).
    fn options(&self, offset: u8) -> RealOptions {
        let world_index = self.world + offset;
        RealOptions {
            world_index,
            dir: self.target.join(format!("w{world_index}")),
            bin: self.bin.clone(),
            time_factor_percent: self.time_factor_percent,
        }
    }
}

fn run_files(args: &[String]) -> i32 {
    let files: Vec<&String> = args.iter().take_while(|a| !a.starts_with("--")).collect();
    let common = match common(args) {
        Ok(c) if !files.is_empty() => c,
        Ok(_) => {
            eprintln!("{USAGE}");
            return 2;
        }
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let wall = Instant::now();
    let mut failed = Vec::new();
    for path in &files {
        if !run_file(path, args, &common) {
            failed.push(path.as_str());
        }
    }
    println!(
        "real run done: files={} failed={} wall={:.1}s{}",
        files.len(),
        failed.len(),
        wall.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        }
    );
    i32::from(!failed.is_empty())
}

/// Runs one file; true if it passed.
fn run_file(path: &str, args: &[String], common: &Common) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!("FAILED cannot read {path}: {e}");
            return false;
        }
    };
    let seed = flag(args, "--seed")
        .or_else(|| header(&text, "seed"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(default_seed);
    let bug = match flag(args, "--bug").is_some() {
        true => Ok(common.bug),
        false => parse_bug(header(&text, "bug")),
    };
    let bug = match bug {
        Ok(bug) => bug,
        Err(e) => {
            println!("FAILED {path}: {e}");
            return false;
        }
    };
    println!("real seed={seed} scenario={path} bug={}", bug.name());
    let outcome = run_text(&text, seed, bug, common.options(0));
    let bug_flag = match bug {
        PlantedBug::None => String::new(),
        bug => format!(" --bug {}", bug.name()),
    };
    let replay = format!("cargo xtask real run {path} --seed {seed}{bug_flag}");
    report(&outcome, path, &replay);
    if outcome.failure.is_some() {
        let stem = std::path::Path::new(path)
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        keep_failure(&outcome, &text, &format!("{stem}-seed-{seed}"));
    }
    if args.iter().any(|a| a == "--margins") {
        crate::args::print_margins(&outcome.margins);
    }
    outcome.failure.is_none()
}

fn report(outcome: &RealOutcome, what: &str, replay: &str) {
    if let Some(failure) = &outcome.failure {
        println!("FAILED {failure}");
        println!("  agents' logs and history: {}", outcome.dir.display());
        println!("  replay: {replay}");
    }
    println!("{}", outcome.summary(what));
}

fn fuzz(args: &[String]) -> i32 {
    let range = flag(args, "--seeds").and_then(|r| parse_range(&r));
    let jobs = flag(args, "--jobs").map_or(Some(1), |j| j.parse().ok());
    let (Some((start, end)), Some(jobs)) = (range, jobs) else {
        eprintln!("{USAGE}");
        return 2;
    };
    if !(1..=JOBS_MAX).contains(&jobs) {
        eprintln!("--jobs {jobs}: 1..={JOBS_MAX}");
        return 2;
    }
    let common = match common(args) {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let wall = Instant::now();
    let workers: Vec<_> = (0..jobs)
        .map(|job| {
            let common = common.clone();
            std::thread::spawn(move || fuzz_shard(&common, start, end, (job, jobs)))
        })
        .collect();
    let mut failed: Vec<u64> = Vec::new();
    for worker in workers {
        failed.extend(worker.join().unwrap_or_default());
    }
    failed.sort_unstable();
    println!(
        "real fuzz done: seeds={} failed={} {:?} wall={:.1}s",
        end - start,
        failed.len(),
        failed,
        wall.elapsed().as_secs_f64()
    );
    i32::from(!failed.is_empty())
}

/// Runs the seeds of one shard in world `job`; returns the failed ones.
fn fuzz_shard(common: &Common, start: u64, end: u64, (job, jobs): (u64, u64)) -> Vec<u64> {
    let mut failed = Vec::new();
    for seed in (start..end).filter(|s| s % jobs == job) {
        let text = schedule::generate(seed);
        let outcome = run_text(&text, seed, common.bug, common.options(job as u8));
        let bug = match common.bug {
            PlantedBug::None => String::new(),
            bug => format!(" --bug {}", bug.name()),
        };
        let replay = format!(
            "cargo xtask real fuzz --seeds {seed}..{}{bug} (simulator: cargo xtask sim fuzz --seeds {seed}..{}{bug})",
            seed + 1,
            seed + 1
        );
        report(&outcome, &format!("fuzz seed {seed}"), &replay);
        if outcome.failure.is_some() {
            failed.push(seed);
            keep_failure(&outcome, &text, &format!("seed-{seed}"));
        }
    }
    failed
}

/// A failed run's world directory (agents' logs, history) is kept under `failures/NAME`
/// with its scenario; the next run of that world starts afresh.
fn keep_failure(outcome: &RealOutcome, schedule: &str, name: &str) {
    let kept = outcome.dir.parent().map(|d| d.join("failures").join(name));
    if let Some(kept) = kept {
        let _ = std::fs::remove_dir_all(&kept);
        let _ = std::fs::create_dir_all(kept.parent().expect("has a parent"));
        if std::fs::rename(&outcome.dir, &kept).is_ok() {
            let _ = std::fs::write(kept.join("scenario.scn"), schedule);
            println!("  kept in {}", kept.display());
        }
    }
}
