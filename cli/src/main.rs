//! `concord`: one binary that runs the agent and talks to it, in place of `consul`.

mod agent;
mod args;
mod cli;
mod commands;
mod http_client;
mod table;

fn main() {
    let code = cli::run(std::env::args().collect());
    std::process::exit(code);
}
