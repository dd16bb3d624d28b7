//! The command tree, parsing (with Consul's flag spellings) and dispatch.

use crate::commands::{
    self, catalog, info, join, kv, leave, lock, maint, members, monitor, operator, reload,
    services, snapshot, validate, version, watch,
};
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use concord_config::flags::AgentFlags;

#[derive(Parser, Debug)]
#[command(
    name = "concord",
    about = "Concord: Consul-compatible service discovery and KV store",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print the version.
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a Concord agent.
    Agent(Box<AgentFlags>),
    /// Tell the local agent to join a cluster.
    Join(join::JoinArgs),
    /// List the members of the cluster.
    Members(members::MembersArgs),
    /// Leave the cluster gracefully and stop the local agent.
    Leave(leave::LeaveArgs),
    /// Force a member of the cluster into the "left" state.
    ForceLeave(leave::ForceLeaveArgs),
    /// Read and write the key-value store.
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// List services, nodes and datacenters in the catalog.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Register and deregister the local agent's services.
    #[command(subcommand)]
    Services(services::ServicesCommand),
    /// Execute a command holding a lock (or, with -n, a semaphore slot).
    Lock(lock::LockArgs),
    /// Save, restore and inspect snapshots of the servers' state.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Watch for changes (blocking queries) and run a handler on each.
    Watch(watch::WatchArgs),
    /// Put the local agent's node or one of its services in maintenance mode.
    Maint(maint::MaintArgs),
    /// Cluster-level tools for operators.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Information about the local agent.
    Info(info::InfoArgs),
    /// Stream the local agent's log lines as they occur.
    Monitor(monitor::MonitorArgs),
    /// Make the local agent read its config files again (services, checks, log level).
    Reload(reload::ReloadArgs),
    /// Print the version.
    Version,
    /// Check config files or directories without starting an agent.
    Validate(validate::ValidateArgs),
    /// Generate a gossip encryption key (for later: `-encrypt` is refused until gossip encryption exists).
    Keygen,
}

/// Parses `argv` (program name first), runs the command; the process exit code.
pub fn run(argv: Vec<String>) -> i32 {
    // The agent's words go to the configuration library, the simulator's road too.
    if argv.get(1).map(String::as_str) == Some("agent") {
        return crate::agent::command(&argv[2..]);
    }
    let mut argv = argv;
    if argv.get(1).map(String::as_str) == Some("lock") {
        lock::repair_short_n(&mut argv);
    }
    let mut root = Cli::command();
    root.build();
    let argv = concord_config::args::normalize(&argv, &root);
    let matches = match root.try_get_matches_from(&argv) {
        Ok(matches) => matches,
        Err(e) => return report_parse_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return report_parse_error(e),
    };
    if cli.version {
        return version::run();
    }
    match cli.command {
        Some(command) => dispatch(command),
        None => report_parse_error(
            Cli::command().error(ErrorKind::MissingSubcommand, "a command is required"),
        ),
    }
}

fn dispatch(command: Command) -> i32 {
    match command {
        // `run` hands the agent's words to the configuration library before clap sees them;
        // the subcommand stays for `concord --help`.
        Command::Agent(_) => crate::agent::command(&[]),
        Command::Join(args) => join::run(&args),
        Command::Members(args) => members::run(&args),
        Command::Leave(args) => leave::run_leave(&args),
        Command::ForceLeave(args) => leave::run_force_leave(&args),
        Command::Kv(command) => kv::run(&command),
        Command::Catalog(command) => catalog::run(&command),
        Command::Services(command) => services::run(&command),
        Command::Lock(args) => lock::run(&args),
        Command::Snapshot(command) => snapshot::run(&command),
        Command::Watch(args) => watch::run(&args),
        Command::Maint(args) => maint::run(&args),
        Command::Operator(command) => operator::run(&command),
        Command::Info(args) => info::run(&args),
        Command::Monitor(args) => monitor::run(&args),
        Command::Reload(args) => reload::run(&args),
        Command::Version => version::run(),
        Command::Validate(args) => validate::run(&args),
        Command::Keygen => commands::keygen::run(),
    }
}

/// Help goes to stdout with exit 0; every usage error to stderr with exit 1 (Consul's code,
/// where clap would use 2).
pub fn report_parse_error(error: clap::Error) -> i32 {
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_config::flags::repair_glued_flags;

    fn parse(words: &[&str]) -> Result<Cli, String> {
        let argv: Vec<String> = std::iter::once("concord")
            .chain(words.iter().copied())
            .map(String::from)
            .collect();
        let mut root = Cli::command();
        root.build();
        let argv = concord_config::args::normalize(&argv, &root);
        let matches = root.try_get_matches_from(argv).map_err(|e| e.to_string())?;
        Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
    }

    #[test]
    fn every_command_of_the_users_guide_parses() {
        let guide: &[&[&str]] = &[
            &["agent", "-dev"],
            &["agent", "-dev", "-client", "127.0.0.1"],
            &["members"],
            &["join", "192.168.11.143"],
            &["join", "-rpc-addr=192.168.11.145:8400", "192.168.11.143"],
            &["members", "-rpc-addr=192.168.11.143:8400"],
            &["leave"],
            &["operator", "raft", "list-peers"],
            &["kv", "put", "key", "value"],
            &["kv", "get", "key"],
            &[
                "agent",
                "-data-dir",
                "/tmp/node0",
                "-node=node0",
                "-bind=192.168.11.143",
                "-datacenter=dc1",
                "-ui",
                "-client=192.168.11.143",
                "-server",
                "-bootstrap-expect",
                "1",
            ],
            &[
                "agent",
                "-data-dir",
                "/tmp/node1",
                "-node=node1",
                "-bind=192.168.11.144",
                "-datacenter=dc1",
                "-ui",
            ],
            &[
                "agent",
                "-server",
                "-bootstrap-expect",
                "3",
                "-data-dir",
                "/tmp/consul",
                "-node",
                "192.168.1.235-datacenter",
                "huanan",
                "-ui",
            ],
        ];
        for words in guide {
            // The missing space of the guide's last form is repaired before parsing.
            let mut argv: Vec<String> = std::iter::once("concord")
                .chain(words.iter().copied())
                .map(String::from)
                .collect();
            let mut root = Cli::command();
            root.build();
            argv = concord_config::args::normalize(&argv, &root);
            if argv[1] == "agent" {
                repair_glued_flags(&mut argv, root.find_subcommand("agent").unwrap());
            }
            let parsed = root.try_get_matches_from(&argv);
            assert!(parsed.is_ok(), "{words:?}: {}", parsed.unwrap_err());
        }
    }

    #[test]
    fn en_dash_ui_of_the_guide_is_accepted() {
        let cli = parse(&["agent", "-server", "\u{2013}ui"]).unwrap();
        let Some(Command::Agent(flags)) = cli.command else {
            panic!("not agent")
        };
        assert_eq!(flags.ui, Some(true));
    }

    #[test]
    fn unknown_flags_and_commands_are_named() {
        let err = parse(&["agent", "-bogus"]).unwrap_err();
        assert!(err.contains("--bogus"), "{err}");
        let err = parse(&["frobnicate"]).unwrap_err();
        assert!(err.contains("frobnicate"), "{err}");
    }

    #[test]
    fn kv_values_may_start_with_a_dash() {
        let cli = parse(&["kv", "put", "k", "-1"]).unwrap();
        let Some(Command::Kv(kv::KvCommand::Put(args))) = cli.command else {
            panic!("not kv put")
        };
        assert_eq!(args.data.as_deref(), Some("-1"));
    }

    #[test]
    fn version_flag_forms() {
        assert!(parse(&["-version"]).unwrap().version);
        assert!(parse(&["--version"]).unwrap().version);
        assert!(parse(&["-v"]).unwrap().version);
    }
}
