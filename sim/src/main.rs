//! `concord-sim run SCENARIO [--seed N]` and `concord-sim fuzz --seeds A..B [--bug NAME]`;
//! `concord-sim gossip-bench ...` (the SWIM detector's benchmark, no madsim needed).
//! Prefer `cargo xtask sim ...`, which builds this with `--cfg madsim` first.

#[cfg(madsim)]
mod cli;

/// `gossip-bench` needs no madsim runtime, so it runs from either build.
fn gossip_bench_requested() -> Option<i32> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let is_bench = args.first().is_some_and(|a| a == "gossip-bench");
    is_bench.then(|| concord_sim::gossip_bench::cli(&args[1..]))
}

#[cfg(madsim)]
fn main() {
    if let Some(code) = gossip_bench_requested() {
        std::process::exit(code);
    }
    std::process::exit(cli::main());
}

#[cfg(not(madsim))]
fn main() {
    if let Some(code) = gossip_bench_requested() {
        std::process::exit(code);
    }
    eprintln!("concord-sim must be built with RUSTFLAGS=\"--cfg madsim\": use `cargo xtask sim run|fuzz ...`");
    std::process::exit(2);
}
