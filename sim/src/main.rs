//! `concord-sim run SCENARIO [--seed N]` and `concord-sim fuzz --seeds A..B [--bug NAME]`.
//! Prefer `cargo xtask sim ...`, which builds this with `--cfg madsim` first.

#[cfg(madsim)]
mod cli;

#[cfg(madsim)]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(not(madsim))]
fn main() {
    eprintln!("concord-sim must be built with RUSTFLAGS=\"--cfg madsim\": use `cargo xtask sim run|fuzz ...`");
    std::process::exit(2);
}
