//! `concord agent` flags: Consul's names, each also settable in a config file (flags win).

use crate::config_file::{Format, Source};
use crate::layer::{ConfigLayer, Ports};
use crate::level::Level;
use crate::ports;
use clap::{ArgMatches, Args, Command};
use concord_core::duration::parse_setting_ms;

#[derive(Args, Clone, Debug, Default)]
pub struct AgentFlags {
    /// Development mode: an in-memory server that elects itself at once.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub dev: Option<bool>,
    /// Run as a server (Raft voter, KV replica).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub server: Option<bool>,
    /// Where the HTTP API (and DNS) listen; several addresses separated by spaces (default 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub client: Option<String>,
    /// The cluster address to listen on (default: the machine's single private IPv4 address).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// The cluster address other agents use to reach this one (default: the bind address).
    #[arg(long, value_name = "ADDR")]
    pub advertise: Option<String>,
    /// Servers to wait for before the first election; every server must give the same N.
    #[arg(long, value_name = "N")]
    pub bootstrap_expect: Option<u32>,
    /// Elect this server alone at once (the same as -bootstrap-expect 1).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub bootstrap: Option<bool>,
    /// Where state lives (required unless -dev).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// A JSON or HCL config file; repeatable, later files override earlier ones.
    #[arg(long, value_name = "FILE")]
    pub config_file: Vec<String>,
    /// A directory whose .json and .hcl files are read in alphabetical order; repeatable.
    #[arg(long, value_name = "DIR")]
    pub config_dir: Vec<String>,
    /// The format of config files whose names end in neither .json nor .hcl.
    #[arg(long, value_name = "json|hcl", value_parser = Format::parse)]
    pub config_format: Option<Format>,
    /// An HCL config fragment, read after the files; repeatable.
    #[arg(long, value_name = "HCL")]
    pub hcl: Vec<String>,
    /// This node's name, unique in the cluster (default: the hostname).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The datacenter (default dc1).
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
    /// An agent to join at start (repeatable); failing to join is fatal.
    #[arg(long, value_name = "ADDR")]
    pub join: Vec<String>,
    /// An agent to join, retried until it answers (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Time between -retry-join attempts (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_setting_ms)]
    pub retry_interval: Option<u64>,
    /// Serve the web UI at /ui/ (on with -dev).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub ui: Option<bool>,
    /// Serve the web UI from this directory instead of the built-in one (`ui_config.dir`).
    #[arg(long, value_name = "DIR")]
    pub ui_dir: Option<String>,
    /// HTTP API port (default 8500; -1 turns it off).
    #[arg(long, value_name = "PORT", allow_hyphen_values = true, value_parser = ports::or_off_flag)]
    pub http_port: Option<i32>,
    /// DNS port (default 8600; -1 turns it off).
    #[arg(long, value_name = "PORT", allow_hyphen_values = true, value_parser = ports::or_off_flag)]
    pub dns_port: Option<i32>,
    /// Server RPC and Raft port (default 8300).
    // Hyphen values reach the parser, so `-1` gets "cannot be turned off", not "unexpected".
    #[arg(long, value_name = "PORT", allow_hyphen_values = true, value_parser = ports::required_flag)]
    pub server_port: Option<u16>,
    /// LAN gossip port (default 8301).
    #[arg(long, value_name = "PORT", allow_hyphen_values = true, value_parser = ports::required_flag)]
    pub serf_lan_port: Option<u16>,
    /// trace, debug, info, warn or err (default info; debug with -dev).
    #[arg(long, value_name = "LEVEL", value_parser = Level::parse)]
    pub log_level: Option<Level>,
    /// Log one JSON object per line.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub log_json: Option<bool>,
    /// Gossip encryption key: refused, since gossip encryption is not built yet (the agent
    /// does not start rather than gossip in clear text).
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// Allow script health checks (accepted).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub enable_script_checks: Option<bool>,
    /// Allow script checks from local config files only.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub enable_local_script_checks: Option<bool>,
    /// Write the agent's process id to this file.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<String>,
    /// Applied Raft entries between snapshots (config key `raft_snapshot_threshold`, as in
    /// Consul; the flag is Concord's).
    #[arg(long, value_name = "N", value_parser = positive_flag)]
    pub raft_snapshot_threshold: Option<u64>,
    /// Bytes of one snapshot chunk sent to a lagging server (Concord's own setting, config key
    /// `raft_snapshot_chunk_bytes`).
    #[arg(long, value_name = "BYTES", value_parser = positive_flag)]
    pub raft_snapshot_chunk_bytes: Option<u64>,
}

/// A number of at least 1, for clap (which names the flag in its error).
fn positive_flag(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

impl AgentFlags {
    /// The flags as the last (strongest) config layer.
    pub fn to_layer(&self) -> ConfigLayer {
        ConfigLayer {
            dev: self.dev,
            server: self.server,
            bootstrap: self.bootstrap,
            bootstrap_expect: self.bootstrap_expect,
            node_name: self.node.clone(),
            datacenter: self.datacenter.clone(),
            data_dir: self.data_dir.clone(),
            bind_addr: self.bind.clone(),
            advertise_addr: self.advertise.clone(),
            client_addr: self.client.clone(),
            start_join: self.join.clone(),
            retry_join: self.retry_join.clone(),
            retry_interval_ms: self.retry_interval,
            ports: Ports {
                http: self.http_port,
                dns: self.dns_port,
                server: self.server_port,
                serf_lan: self.serf_lan_port,
            },
            log_level: self.log_level,
            log_json: self.log_json,
            ui: self.ui,
            ui_dir: self.ui_dir.clone(),
            encrypt: self.encrypt.clone(),
            enable_script_checks: self.enable_script_checks,
            // Service definitions come from files (`concord services register` at run time).
            services: Vec::new(),
            check_update_interval_ms: None,
            enable_local_script_checks: self.enable_local_script_checks,
            pid_file: self.pid_file.clone(),
            // Consul has no flags for `limits`: config files only.
            limits: Default::default(),
            raft_snapshot_threshold: self.raft_snapshot_threshold,
            // Consul has `raft_snapshot_interval` in config files only.
            raft_snapshot_interval_ms: None,
            raft_snapshot_chunk_bytes: self.raft_snapshot_chunk_bytes,
            // `-domain` is not a flag yet; `dns_config` has none in Consul.
            domain: None,
            dns: Default::default(),
            // Consul has no flags for `gossip_lan` or `reconnect_timeout` either.
            gossip: Default::default(),
            // Nor for `autopilot`.
            autopilot: Default::default(),
        }
    }
}

/// `-config-file` and `-config-dir` in the order they were given (Consul reads them so).
pub fn sources_in_order(matches: &ArgMatches) -> Vec<Source> {
    let mut indexed: Vec<(usize, Source)> = Vec::new();
    for (id, dir) in [("config_file", false), ("config_dir", true)] {
        let values = matches.get_many::<String>(id).into_iter().flatten();
        let indices = matches.indices_of(id).into_iter().flatten();
        for (value, index) in values.zip(indices) {
            let path = value.into();
            indexed.push((
                index,
                if dir {
                    Source::Dir(path)
                } else {
                    Source::File(path)
                },
            ));
        }
    }
    indexed.sort_by_key(|(index, _)| *index);
    indexed.into_iter().map(|(_, source)| source).collect()
}

/// Repairs a missing space before a flag (`-node 192.168.1.185-datacenter huanan`, from the
/// user's guide): when a value ends in `-<flag that takes a value>` and a stray word follows
/// (the agent takes no arguments, so this is an error otherwise), the value is split. Returns
/// what was repaired, to tell the user.
pub fn repair_glued_flags(args: &mut Vec<String>, agent: &Command) -> Vec<String> {
    let mut notes = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if let Some(value_at) = value_position(args, i, agent) {
            let stray = value_at + 1;
            let is_stray = args.get(stray).is_some_and(|w| !w.starts_with('-'));
            if let (true, Some((head, flag))) = (is_stray, split_glued(&args[value_at], agent)) {
                // Shown with one dash, as the user's guide writes flags.
                let shown = &args[i][1..];
                notes.push(format!(
                    "read \"{shown} {} {}\" as \"{shown} {head} -{flag} {}\" (a space seems to be missing)",
                    args[value_at], args[stray], args[stray]
                ));
                args[value_at] = head;
                args.insert(value_at + 1, format!("--{flag}"));
            }
            i = value_at + 1;
        } else {
            i += 1;
        }
    }
    notes
}

/// If `args[i]` is `--flag` whose value is the next word, the index of that word.
fn value_position(args: &[String], i: usize, agent: &Command) -> Option<usize> {
    let name = args[i].strip_prefix("--")?;
    if name.contains('=') || i + 1 >= args.len() {
        return None;
    }
    takes_value(agent, name).then_some(i + 1)
}

/// `192.168.1.185-datacenter` → (`192.168.1.185`, `datacenter`) when `datacenter` is a flag
/// taking a value.
fn split_glued(value: &str, agent: &Command) -> Option<(String, String)> {
    for (pos, _) in value.match_indices('-').filter(|(pos, _)| *pos > 0) {
        let flag = &value[pos + 1..];
        if takes_value(agent, flag) {
            return Some((value[..pos].to_string(), flag.to_string()));
        }
    }
    None
}

fn takes_value(agent: &Command, name: &str) -> bool {
    agent.get_arguments().any(|arg| {
        arg.get_long() == Some(name)
            && !arg.is_require_equals_set()
            && arg.get_action().takes_values()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Wrapper {
        #[command(flatten)]
        flags: AgentFlags,
    }

    fn agent_command() -> Command {
        let mut cmd = <Wrapper as clap::CommandFactory>::command();
        cmd.build();
        cmd
    }

    fn parse(words: &[&str]) -> (AgentFlags, Vec<Source>) {
        let argv: Vec<String> = std::iter::once("agent")
            .chain(words.iter().copied())
            .map(String::from)
            .collect();
        let argv = crate::args::normalize(&argv, &agent_command());
        let matches = agent_command().try_get_matches_from(argv).unwrap();
        let wrapper = Wrapper::from_arg_matches(&matches).unwrap();
        (wrapper.flags, sources_in_order(&matches))
    }

    #[test]
    fn ui_dir_flag_reaches_the_layer() {
        let (flags, _) = parse(&["-dev", "-ui-dir", "node/ui"]);
        assert_eq!(flags.to_layer().ui_dir.as_deref(), Some("node/ui"));
        let (flags, _) = parse(&["-dev"]);
        assert_eq!(flags.to_layer().ui_dir, None);
    }

    #[test]
    fn consul_style_flags_parse() {
        let (flags, _) = parse(&[
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
        ]);
        assert_eq!(flags.node.as_deref(), Some("node0"));
        assert_eq!(flags.bootstrap_expect, Some(1));
        assert_eq!(
            (flags.server, flags.ui, flags.dev),
            (Some(true), Some(true), None)
        );
        let layer = flags.to_layer();
        assert_eq!(layer.client_addr.as_deref(), Some("192.168.11.143"));
        assert_eq!(layer.data_dir.as_deref(), Some("/tmp/node0"));
    }

    #[test]
    fn repeatable_flags_and_negative_ports() {
        let (flags, _) = parse(&[
            "-retry-join",
            "a",
            "-retry-join=b",
            "-join",
            "c",
            "-dns-port",
            "-1",
            "-retry-interval=5s",
        ]);
        assert_eq!(flags.retry_join, ["a", "b"]);
        assert_eq!(flags.join, ["c"]);
        assert_eq!(flags.dns_port, Some(-1));
        assert_eq!(flags.retry_interval, Some(5_000));
    }

    #[test]
    fn config_sources_keep_command_line_order() {
        let (_, sources) = parse(&[
            "-config-dir",
            "d1",
            "-config-file",
            "f1",
            "-config-file=f2",
            "-config-dir=d2",
        ]);
        assert_eq!(
            sources,
            [
                Source::Dir("d1".into()),
                Source::File("f1".into()),
                Source::File("f2".into()),
                Source::Dir("d2".into())
            ]
        );
    }

    #[test]
    fn bad_flag_values_are_refused_by_name() {
        let argv = ["agent", "--bootstrap-expect", "three"];
        let err = agent_command()
            .try_get_matches_from(argv)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--bootstrap-expect") && err.contains("three"),
            "{err}"
        );
        let err = agent_command()
            .try_get_matches_from(["agent", "--log-level", "loud"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid log level"), "{err}");
        for (flag, value) in [
            ("--http-port", "70000"),
            ("--server-port", "0"),
            ("--dns-port", "-5"),
        ] {
            let err = agent_command()
                .try_get_matches_from(["agent", flag, value])
                .unwrap_err()
                .to_string();
            assert!(err.contains(flag) && err.contains("not a port"), "{err}");
        }
    }

    #[test]
    fn the_guides_missing_space_is_repaired() {
        let cmd = agent_command();
        let mut args: Vec<String> = [
            "--server",
            "--node",
            "192.168.1.185-datacenter",
            "huanan",
            "--ui",
        ]
        .map(String::from)
        .to_vec();
        let notes = repair_glued_flags(&mut args, &cmd);
        assert_eq!(
            args,
            [
                "--server",
                "--node",
                "192.168.1.185",
                "--datacenter",
                "huanan",
                "--ui"
            ]
        );
        assert_eq!(notes.len(), 1);
        // Without a stray word after it, a name ending in -datacenter is a name.
        let mut args: Vec<String> = ["--node", "web-datacenter", "--ui"]
            .map(String::from)
            .to_vec();
        assert!(repair_glued_flags(&mut args, &cmd).is_empty());
        assert_eq!(args[1], "web-datacenter");
    }
}
