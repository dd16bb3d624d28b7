//! `concord`: one binary that runs the agent and talks to it, in place of `consul`.

mod agent;
mod cli;
mod commands;
mod http_client;
mod table;
#[cfg(test)]
use concord_config::testutil;

fn main() {
    // Lossy: a non-UTF-8 argument becomes a clear parse error rather than a panic.
    let argv = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = cli::run(argv);
    std::process::exit(code);
}
