//! Argument handling of the simulator binary.

use crate::args::{default_seed, flag, header, parse_bug, parse_range};
use concord_node::PlantedBug;
use concord_sim::fuzz::{self, schedule, FuzzOptions};
use concord_sim::runner::run_seed;
use concord_sim::scenario::run_scenario;
use std::process::{Command, Stdio};
use std::time::Instant;

const USAGE: &str = "usage: concord-sim run SCENARIO [--seed N] [--bug NAME]
       concord-sim fuzz --seeds A..B [--shard I/N] [--jobs J] [--bug NAME] [--stop-on-failure] [--no-shrink]
       concord-sim bugs [--seeds A..B]      seeds the fuzzer needs to catch each planted bug
       concord-sim schedule --seed N        print the fuzz schedule of a seed";

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    init_logging();
    match args.first().map(|s| s.as_str()) {
        Some("run") => run(&args[1..]),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("bugs") => bugs_cmd(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}

fn init_logging() {
    if std::env::var_os("CONCORD_SIM_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("CONCORD_SIM_LOG").unwrap_or_default())
            .try_init();
    }
}

fn run(args: &[String]) -> i32 {
    let Some(path) = args.first().cloned() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return 2;
        }
    };
    let seed = flag(args, "--seed")
        .or_else(|| header(&text, "seed"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(default_seed);
    let bug = match parse_bug(flag(args, "--bug").or_else(|| header(&text, "bug"))) {
        Ok(bug) => bug,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    println!("seed={seed} scenario={path} bug={}", bug.name());
    let outcome = run_seed(seed, bug, move |mut world| async move {
        let result = run_scenario(&mut world, &text)
            .await
            .map_err(|f| format!("line {}: {}\n  {}", f.line, f.text, f.reason));
        (world, result)
    });
    if let Some(failure) = &outcome.failure {
        println!("FAILED {failure}");
        println!("replay: cargo xtask sim run {path} --seed {seed}");
    }
    if args.iter().any(|a| a == "--margins") {
        crate::args::print_margins(&outcome.margins);
    }
    println!("{}", outcome.summary(&path));
    i32::from(outcome.failure.is_some())
}

fn parse_shard(text: &str) -> Option<(u64, u64)> {
    let (i, n) = text.split_once('/')?;
    let (i, n): (u64, u64) = (i.parse().ok()?, n.parse().ok()?);
    (n > 0 && i < n).then_some((i, n))
}

fn fuzz_cmd(args: &[String]) -> i32 {
    let range = flag(args, "--seeds").and_then(|s| parse_range(&s));
    let shard = flag(args, "--shard").map(|s| parse_shard(&s));
    let (Some((start, end)), Some(shard)) = (range, shard.unwrap_or(Some((0, 1)))) else {
        eprintln!("{USAGE}");
        return 2;
    };
    let bug = match parse_bug(flag(args, "--bug")) {
        Ok(bug) => bug,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let jobs: u64 = flag(args, "--jobs")
        .and_then(|j| j.parse().ok())
        .unwrap_or(1)
        .max(1);
    if jobs > 1 {
        return fuzz_jobs(args, shard, jobs);
    }
    let is_chunk = args.iter().any(|a| a == "--chunk");
    if !is_chunk && end - start > CHUNK_SEEDS {
        return fuzz_in_chunks(args, start, end);
    }
    println!(
        "fuzz seeds={start}..{end} shard={}/{} bug={}",
        shard.0,
        shard.1,
        bug.name()
    );
    let options = FuzzOptions {
        start,
        end,
        bug,
        stop_on_failure: args.iter().any(|a| a == "--stop-on-failure"),
        shard,
        shrink: !args.iter().any(|a| a == "--no-shrink"),
    };
    i32::from(!fuzz::fuzz_range(&options).failures.is_empty())
}

/// Seeds one process runs before the next takes over: a madsim runtime does not give all of
/// its memory back when dropped, so long runs go chunk by chunk, each in a fresh process.
const CHUNK_SEEDS: u64 = 100;

/// Runs the range chunk by chunk in child processes; sums their summary lines.
fn fuzz_in_chunks(args: &[String], start: u64, end: u64) -> i32 {
    let wall = Instant::now();
    let exe = std::env::current_exe().expect("own path");
    let (mut seeds, mut failed, mut sim_s) = (0u64, 0u64, 0f64);
    let mut trace_hash = fuzz::TRACE_HASH_START;
    let mut chunk_start = start;
    while chunk_start < end {
        let chunk_end = (chunk_start + CHUNK_SEEDS).min(end);
        let mut child_args = strip_flags(args, &["--seeds"]);
        child_args.extend([
            "--seeds".into(),
            format!("{chunk_start}..{chunk_end}"),
            "--chunk".into(),
        ]);
        let output = Command::new(&exe)
            .arg("fuzz")
            .args(&child_args)
            .stderr(Stdio::inherit())
            .output()
            .expect("run a fuzz chunk");
        let stdout = String::from_utf8_lossy(&output.stdout);
        for line in stdout
            .lines()
            .filter(|l| !l.starts_with("fuzz ") && !l.starts_with("progress"))
        {
            println!("{line}");
        }
        let (s, f, t, h) = parse_summary(&stdout);
        (seeds, failed, sim_s) = (seeds + s, failed + f, sim_s + t);
        trace_hash = fuzz::fold_hash(trace_hash, h);
        println!(
            "progress: {seeds} seeds, {failed} failed, {:.0}s wall",
            wall.elapsed().as_secs_f64()
        );
        if failed > 0 && args.iter().any(|a| a == "--stop-on-failure") {
            break;
        }
        chunk_start = chunk_end;
    }
    println!(
        "fuzz done: seeds={seeds} failed={failed} sim_time={sim_s:.0}s wall={:.1}s trace={trace_hash:016x}",
        wall.elapsed().as_secs_f64()
    );
    i32::from(failed > 0)
}

/// (seeds, failed, simulated seconds, trace hash) from a "fuzz done:" line; a chunk that
/// died counts as failed.
fn parse_summary(stdout: &str) -> (u64, u64, f64, u64) {
    let Some(line) = stdout.lines().find(|l| l.starts_with("fuzz done:")) else {
        return (0, 1, 0.0, 0);
    };
    let value = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or("0")
            .trim_end_matches('s')
            .to_string()
    };
    (
        value("seeds=").parse().unwrap_or(0),
        value("failed=").parse().unwrap_or(1),
        value("sim_time=").parse().unwrap_or(0.0),
        u64::from_str_radix(&value("trace="), 16).unwrap_or(0),
    )
}

/// Runs `jobs` copies of this fuzz command, each on its own shard, in parallel.
fn fuzz_jobs(args: &[String], shard: (u64, u64), jobs: u64) -> i32 {
    let wall = Instant::now();
    let exe = std::env::current_exe().expect("own path");
    let mut children = Vec::new();
    for k in 0..jobs {
        let child_shard = format!("{}/{}", shard.0 + k * shard.1, shard.1 * jobs);
        let mut child_args: Vec<String> = strip_flags(args, &["--jobs", "--shard"]);
        child_args.extend(["--shard".into(), child_shard]);
        let child = Command::new(&exe)
            .arg("fuzz")
            .args(&child_args)
            .stdout(Stdio::inherit())
            .spawn();
        children.push(child.expect("spawn a fuzz job"));
    }
    let failed = children
        .into_iter()
        .filter_map(|mut c| c.wait().ok())
        .filter(|status| !status.success())
        .count();
    println!(
        "fuzz jobs done: jobs={jobs} failed_jobs={failed} wall={:.1}s",
        wall.elapsed().as_secs_f64()
    );
    i32::from(failed > 0)
}

fn strip_flags(args: &[String], flags: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if skip {
            skip = false;
        } else if flags.contains(&arg.as_str()) {
            skip = true;
        } else {
            out.push(arg.clone());
        }
    }
    out
}

/// For each planted bug: how many seeds the fuzzer needs to catch it (at most the range).
/// Each bug runs in its own process, `--jobs` at a time (default 2).
fn bugs_cmd(args: &[String]) -> i32 {
    let (start, end) = flag(args, "--seeds")
        .and_then(|s| parse_range(&s))
        .unwrap_or((0, 1000));
    if let Some(name) = flag(args, "--bug") {
        return match parse_bug(Some(name)) {
            Ok(bug) => i32::from(!catch_bug(bug, start, end)),
            Err(e) => {
                eprintln!("{e}");
                2
            }
        };
    }
    let jobs: usize = flag(args, "--jobs")
        .and_then(|j| j.parse().ok())
        .unwrap_or(2)
        .max(1);
    let exe = std::env::current_exe().expect("own path");
    println!("planted bug                  seeds to catch  first failure");
    let mut missed = 0;
    for batch in PlantedBug::all().chunks(jobs) {
        let children: Vec<_> = batch
            .iter()
            .map(|bug| {
                let range = format!("{start}..{end}");
                let child = Command::new(&exe)
                    .args(["bugs", "--bug", bug.name(), "--seeds", &range])
                    .stdout(Stdio::piped())
                    .spawn();
                child.expect("spawn a bug hunt")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("bug hunt ends");
            print!("{}", String::from_utf8_lossy(&output.stdout));
            missed += usize::from(!output.status.success());
        }
    }
    i32::from(missed > 0)
}

/// Fuzzes seeds in order with `bug` planted until one fails; prints one table row.
fn catch_bug(bug: PlantedBug, start: u64, end: u64) -> bool {
    let wall = Instant::now();
    let caught = (start..end).find_map(|seed| {
        let outcome = fuzz::run_schedule(seed, bug, schedule::generate(seed));
        outcome.failure.map(|f| (seed, f))
    });
    match caught {
        Some((seed, failure)) => {
            let first: String = failure.replace('\n', " ").chars().take(100).collect();
            println!(
                "{:<28} {:>14}  seed {seed}, {:.0}s: {first}",
                bug.name(),
                seed - start + 1,
                wall.elapsed().as_secs_f64()
            );
            true
        }
        None => {
            println!(
                "{:<28} {:>14}  not caught in {start}..{end}",
                bug.name(),
                "-"
            );
            false
        }
    }
}
