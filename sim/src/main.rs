//! `concord-sim run SCENARIO [--seed N]` and `concord-sim fuzz --seeds A..B [--bug NAME]`;
//! `concord-sim gossip-bench ...` (the SWIM detector's benchmark, no madsim needed);
//! `concord-sim real run|fuzz ...` (built without madsim: real processes, `real_cli.rs`).
//! Prefer `cargo xtask sim ...`, which builds this with `--cfg madsim` first.

mod args;
#[cfg(madsim)]
mod cli;
#[cfg(not(madsim))]
mod real_cli;

/// `gossip-bench` and `schedule` need no madsim runtime, so they run from either build (a
/// real fuzz runs the same schedules; `schedule --seed N` prints one).
fn either_build_command() -> Option<i32> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|a| a.as_str()) {
        Some("gossip-bench") => Some(concord_sim::gossip_bench::cli(&args[1..])),
        Some("schedule") => Some(args::print_schedule(&args[1..])),
        _ => None,
    }
}

#[cfg(madsim)]
fn main() {
    if let Some(code) = either_build_command() {
        std::process::exit(code);
    }
    std::process::exit(cli::main());
}

#[cfg(not(madsim))]
fn main() {
    if let Some(code) = either_build_command() {
        std::process::exit(code);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "real") {
        if std::env::var_os("CONCORD_SIM_LOG").is_some() {
            let filter = std::env::var("CONCORD_SIM_LOG").unwrap_or_default();
            let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
        }
        std::process::exit(real_cli::main(&args[1..]));
    }
    eprintln!("concord-sim must be built with RUSTFLAGS=\"--cfg madsim\": use `cargo xtask sim run|fuzz ...`");
    eprintln!("(this build runs `concord-sim real run|fuzz ...` against real processes, and `schedule --seed N`)");
    std::process::exit(2);
}
