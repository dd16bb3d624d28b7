//! Argument handling of the simulator binary.

use concord_node::PlantedBug;
use concord_sim::fuzz;
use concord_sim::runner::run_seed;
use concord_sim::scenario::run_scenario;

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    init_logging();
    match args.first().map(|s| s.as_str()) {
        Some("run") => run(&args[1..]),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        _ => {
            eprintln!("usage: concord-sim run SCENARIO [--seed N] | fuzz --seeds A..B [--bug vote-not-durable] [--stop-on-failure]");
            2
        }
    }
}

fn init_logging() {
    if std::env::var_os("CONCORD_SIM_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("concord=debug")
            .try_init();
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn default_seed() -> u64 {
    std::env::var("MADSIM_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

fn run(args: &[String]) -> i32 {
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: concord-sim run SCENARIO [--seed N]");
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
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(default_seed);
    println!("seed={seed} scenario={path}");
    let outcome = run_seed(seed, PlantedBug::None, move |mut world| async move {
        let result = run_scenario(&mut world, &text)
            .await
            .map_err(|f| format!("line {}: {}\n  {}", f.line, f.text, f.reason));
        (world, result)
    });
    if let Some(failure) = &outcome.failure {
        println!("FAILED {failure}");
        println!("replay: cargo xtask sim run {path} --seed {seed}");
    }
    println!("{}", outcome.summary(&path));
    i32::from(outcome.failure.is_some())
}

fn fuzz_cmd(args: &[String]) -> i32 {
    let Some((start, end)) = flag(args, "--seeds").and_then(|s| parse_range(&s)) else {
        eprintln!(
            "usage: concord-sim fuzz --seeds A..B [--bug vote-not-durable] [--stop-on-failure]"
        );
        return 2;
    };
    let bug = match flag(args, "--bug").as_deref() {
        None => PlantedBug::None,
        Some("vote-not-durable") => PlantedBug::VoteNotDurable,
        Some(other) => {
            eprintln!("unknown planted bug {other} (known: vote-not-durable)");
            return 2;
        }
    };
    let stop_on_failure = args.iter().any(|a| a == "--stop-on-failure");
    fuzz::fuzz_range(start, end, bug, stop_on_failure)
}

fn parse_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.split_once("..")?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}
