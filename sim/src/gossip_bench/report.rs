//! Runs the benchmark and prints it as Markdown, beside the figures memberlist's LAN defaults
//! imply (consul-discovery-facts section 7), with every seed and the command that replays it.

use super::measure::{
    detection_on, detection_trial, false_failures, formed_world, limits, median_p99,
    quiet_load_per_member_s, trial_seed, BenchConfig, DetectionSample, FalseFailures,
};
use super::Options;
use std::time::Instant;

/// One table row per size.
struct SizeRow {
    n: usize,
    samples: Vec<DetectionSample>,
    /// Set when the trials shared one formed cluster.
    formation_seed: Option<u64>,
    /// (datagrams, streams) per member per second in a quiet formed cluster.
    quiet: (f64, f64),
    wall_s: f64,
}

pub fn run_bench(config: &BenchConfig) -> i32 {
    let options = Options::default();
    let wall = Instant::now();
    println!("# gossip-bench (seed {})\n", config.seed);
    let mut rows = Vec::new();
    for &n in &config.sizes {
        match detection_row(config, n, &options) {
            Ok(row) => rows.push(row),
            Err(e) => {
                println!("size {n}: {e}");
                return 1;
            }
        }
    }
    print_detection(&rows, &options, config.seed);
    if config.member_hours > 0.0 {
        let Some(results) = false_failure_runs(config, &options) else {
            return 1;
        };
        print_false_failures(&results);
    }
    println!("\nwall time: {:.1} s", wall.elapsed().as_secs_f64());
    let failed = rows
        .iter()
        .flat_map(|r| &r.samples)
        .any(|s| s.all_failed_ms.is_none());
    i32::from(failed)
}

/// The two runs where nobody dies: 5% datagram loss; one member pausing.
fn false_failure_runs(
    config: &BenchConfig,
    options: &Options,
) -> Option<Vec<(&'static str, FalseFailures, f64)>> {
    let runs = [
        (50_000, false, "5% datagram loss"),
        (0, true, "one member paused 300-500 ms every 2-5 s"),
    ];
    let mut results = Vec::new();
    for (i, (loss_ppm, slowed, label)) in runs.into_iter().enumerate() {
        let seed = trial_seed(config.seed, config.false_failure_members, 1_000 + i);
        let started = Instant::now();
        eprintln!("false failures: {label}, seed {seed} ...");
        let n = config.false_failure_members;
        match false_failures(n, config.member_hours, loss_ppm, slowed, seed, options) {
            Ok(result) => results.push((label, result, started.elapsed().as_secs_f64())),
            Err(e) => {
                println!("false failures ({label}): {e}");
                return None;
            }
        }
    }
    Some(results)
}

/// The trials of one size. Small clusters form anew for each trial; from
/// `shared_formation_from` members on, one cluster is formed (seeded by `formation_seed`)
/// and each trial runs on a clone of it with its own network seed and victim.
fn detection_row(config: &BenchConfig, n: usize, options: &Options) -> Result<SizeRow, String> {
    let started = Instant::now();
    let seed = formation_seed(config.seed, n);
    let (world, wall_s) =
        formed_world(n, seed, options).map_err(|e| format!("{e} (formation seed {seed})"))?;
    eprintln!(
        "n={n}: formed and warmed up (seed {seed}) in {:.1} s simulated, {wall_s:.1} s wall",
        world.now_us() as f64 / 1e6
    );
    let quiet = quiet_load_per_member_s(world.clone(), seed, options);
    let shared = (n >= config.shared_formation_from).then_some((world, seed));
    let mut samples = Vec::new();
    for trial in 0..config.trials_for(n) {
        let seed = config
            .trial_seed
            .unwrap_or_else(|| trial_seed(config.seed, n, trial));
        let sample = match &shared {
            Some((world, _)) => detection_on(world.clone(), seed, options),
            None => detection_trial(n, seed, options).map_err(|e| {
                format!(
                    "{e} (trial seed {seed}; replay: {})",
                    replay(config, n, seed)
                )
            })?,
        };
        eprintln!(
            "n={n} trial {trial} seed {seed}: victim n{:04} killed at {:.1} s, suspect {:?} ms, failed everywhere {:?} ms, stalls {}; wall {:.1} s (formation {:.1} s)",
            sample.victim, sample.formed_s, sample.first_suspect_ms, sample.all_failed_ms, sample.deadline_stalls, sample.wall_s, sample.formation_wall_s
        );
        samples.push(sample);
    }
    Ok(SizeRow {
        n,
        samples,
        formation_seed: shared.map(|(_, seed)| seed),
        quiet,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The seed of the one cluster the trials of a large size share.
fn formation_seed(base: u64, n: usize) -> u64 {
    trial_seed(base, n, usize::MAX >> 1)
}

fn replay(config: &BenchConfig, n: usize, seed: u64) -> String {
    format!(
        "cargo xtask sim gossip-bench --seed {} --sizes {n} --trials 1 --trial-seed {seed} --member-hours 0",
        config.seed
    )
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1_000.0)
}

fn stat(samples: &[DetectionSample], pick: fn(&DetectionSample) -> Option<u64>) -> String {
    let values: Vec<u64> = samples.iter().filter_map(pick).collect();
    let missing = samples.len() - values.len();
    let text = match median_p99(&values) {
        Some((median, p99)) => format!("{} / {}", secs(median), secs(p99)),
        None => "-".into(),
    };
    if missing > 0 {
        format!("{text} ({missing} never)")
    } else {
        text
    }
}

/// memberlist's message load per member per second: ping + ack each probe interval, gossip to
/// `gossip_nodes` every gossip interval while there is news, and a push-pull (request and
/// reply) every push-pull interval, scaled by ceil(log2 n - log2 32) + 1 above 32 members.
fn memberlist_messages(options: &Options, n: usize) -> (f64, f64, f64) {
    let probe = 2.0 * 1_000.0 / options.probe_interval_ms as f64;
    let gossip = options.gossip_nodes as f64 * 1_000.0 / options.gossip_interval_ms as f64;
    let scale = if n > 32 {
        ((n as f64).log2() - 32f64.log2()).ceil() + 1.0
    } else {
        1.0
    };
    let push_pull = 2.0 * 1_000.0 / (options.push_pull_interval_ms as f64 * scale);
    (probe, gossip, push_pull)
}

/// When memberlist's defaults have a dead member first suspected, (median, p99) in seconds:
/// each of the other n-1 members probes it with chance 1/(n-1) per probe interval, so the
/// first probe comes after about an exponential time of rate -(n-1) ln(1 - 1/(n-1)) per
/// interval; the probe then takes one interval (timeout, indirect probes) before suspicion.
pub fn memberlist_first_suspicion_s(options: &Options, n: usize) -> (f64, f64) {
    let probers = (n - 1) as f64;
    let rate_per_interval = -probers * (1.0 - 1.0 / probers).ln();
    let interval_s = options.probe_interval_ms as f64 / 1_000.0;
    let quantile = |q: f64| (-(1.0 - q).ln() / rate_per_interval + 1.0) * interval_s;
    (quantile(0.5), quantile(0.99))
}

fn print_detection(rows: &[SizeRow], options: &Options, seed: u64) {
    println!("## Detection of a dead member, and message load (Consul LAN defaults)\n");
    let base_n = rows.first().map_or(5, |r| r.n);
    println!("| members | trials | first suspicion median / p99 | memberlist implies | failed everywhere median / p99 | memberlist implies (2 confirmations; none) | msgs/member/s quiet: datagram + stream | memberlist implies | msgs/member/s with a death in flight | memberlist implies | quiet load ÷ load at {base_n} vs ln n ÷ ln {base_n} | wall |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let base_load = rows.first().map_or(1.0, load);
    for row in rows {
        let n = row.n;
        let (min_s, max_s) = limits(options, n);
        let (first_median_s, first_p99_s) = memberlist_first_suspicion_s(options, n);
        let (probe, gossip, push_pull) = memberlist_messages(options, n);
        let (datagrams, streams) = row.quiet;
        let news: Vec<f64> = row
            .samples
            .iter()
            .filter_map(|s| s.news_per_member_s)
            .collect();
        let news_mean = news.iter().sum::<f64>() / news.len().max(1) as f64;
        println!(
            "| {n} | {} | {} | ≈ {first_median_s:.1} s / {first_p99_s:.1} s | {} | ≈ {:.1} s / {:.1} s; up to {:.1} s | {:.2} + {:.3} | {:.2} + {:.3} | {news_mean:.2} | {:.2} | {:.2} vs {:.2} | {:.0} s |",
            row.samples.len(),
            stat(&row.samples, |s| s.first_suspect_ms),
            stat(&row.samples, |s| s.all_failed_ms),
            first_median_s + min_s,
            first_p99_s + min_s,
            first_p99_s + max_s,
            datagrams,
            streams,
            probe,
            push_pull,
            probe + gossip + push_pull,
            load(row) / base_load,
            (n as f64).ln() / (base_n as f64).ln(),
            row.wall_s,
        );
    }
    println!("\nTrial seeds (replay one: `cargo xtask sim gossip-bench --seed {seed} --sizes N --trials 1 --trial-seed SEED --member-hours 0`):");
    for row in rows {
        let seeds: Vec<String> = row.samples.iter().map(|s| s.seed.to_string()).collect();
        let shared = row
            .formation_seed
            .map(|f| format!(" (all on one cluster formed with seed {f}, cloned per trial)"))
            .unwrap_or_default();
        println!("- {} members: {}{shared}", row.n, seeds.join(", "));
    }
    println!("- whole run: `cargo xtask sim gossip-bench --seed {seed}`");
}

fn load(row: &SizeRow) -> f64 {
    row.quiet.0 + row.quiet.1
}

fn print_false_failures(results: &[(&str, FalseFailures, f64)]) {
    println!("\n## False `failed` declarations of live members (nobody dies)\n");
    println!("| run | members | member-hours | failed episodes (per member-hour) | failed views | suspicion views | refutation views | probes failed | suspicions started | deaths declared | refutations | seed | wall |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (label, r, wall_s) in results {
        let per_hour = r.failed_episodes as f64 / r.member_hours.max(f64::MIN_POSITIVE);
        let slowed = r.slowed.map(|s| format!(" (n{s:04})")).unwrap_or_default();
        println!(
            "| {label}{slowed} | {} | {:.0} | {} ({per_hour:.4}) | {} | {} | {} | {} | {} | {} | {} | {} | {wall_s:.0} s |",
            r.members,
            r.member_hours,
            r.failed_episodes,
            r.failed_views,
            r.suspect_views,
            r.refuted_views,
            r.origins.probes_failed,
            r.origins.suspicions_started,
            r.origins.deaths_declared,
            r.origins.refutations,
            r.seed,
        );
    }
    for (label, r, _) in results {
        for (at_us, observer, member) in r.failed_at.iter().take(20) {
            let at_s = *at_us as f64 / 1e6;
            println!(
                "- {label}: {} held live {member} failed at {at_s:.3} s (seed {})",
                super::world::node_name(*observer),
                r.seed
            );
        }
    }
    println!("\nA failed episode: from the first member holding a live member dead until none does. Views count each member's own state changes. memberlist's target: none in 1,000 member-hours.");
}
