//! `concord operator autopilot get-config | set-config | state`, with Consul's output.

use super::{fail, HttpArgs};
use crate::http_client::{Client, HttpError, Reply};
use clap::{Args, Subcommand};
use concord_core::duration::{format_go_ms, parse_setting_ms};
use concord_node::http::operator_autopilot::{
    AutopilotConfiguration, AutopilotServer, AutopilotState,
};

const CONFIG_PATH: &str = "/v1/operator/autopilot/configuration";

#[derive(Subcommand, Clone, Debug)]
pub enum AutopilotCommand {
    /// Display the current Autopilot configuration.
    GetConfig(GetConfigArgs),
    /// Modify the current Autopilot configuration.
    SetConfig(SetConfigArgs),
    /// Display the current Autopilot state.
    State(StateArgs),
}

#[derive(Args, Clone, Debug)]
pub struct GetConfigArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Args, Clone, Debug)]
pub struct SetConfigArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove dead servers when a new server is added (true|false).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub cleanup_dead_servers: Option<bool>,
    /// The longest time a server may go without contact from the leader and stay healthy.
    #[arg(long, value_name = "DURATION")]
    pub last_contact_threshold: Option<String>,
    /// The most log entries a server may trail the leader by and stay healthy.
    #[arg(long, value_name = "N")]
    pub max_trailing_logs: Option<u64>,
    /// The least number of voters dead-server cleanup leaves.
    #[arg(long, value_name = "N")]
    pub min_quorum: Option<u32>,
    /// How long a new server must be healthy before it becomes a voter.
    #[arg(long, value_name = "DURATION")]
    pub server_stabilization_time: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct StateArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Output format: pretty or json.
    #[arg(long, default_value = "pretty", value_name = "FORMAT")]
    pub format: String,
}

pub fn run(command: &AutopilotCommand) -> i32 {
    match command {
        AutopilotCommand::GetConfig(args) => get_config(args),
        AutopilotCommand::SetConfig(args) => set_config(args),
        AutopilotCommand::State(args) => state(args),
    }
}

fn read_config(client: &Client) -> Result<AutopilotConfiguration, HttpError> {
    client
        .get(CONFIG_PATH, &[])
        .and_then(Reply::success)?
        .json()
}

fn get_config(args: &GetConfigArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    match read_config(&client) {
        Ok(config) => {
            println!("{}", config_lines(&config));
            0
        }
        Err(e) => fail(format!("Error querying Autopilot configuration: {e}")),
    }
}

/// Consul's `Key = value` lines.
pub fn config_lines(config: &AutopilotConfiguration) -> String {
    [
        format!("CleanupDeadServers = {}", config.cleanup_dead_servers),
        format!("LastContactThreshold = {}", config.last_contact_threshold),
        format!("MaxTrailingLogs = {}", config.max_trailing_logs),
        format!("MinQuorum = {}", config.min_quorum),
        format!(
            "ServerStabilizationTime = {}",
            config.server_stabilization_time
        ),
        format!("RedundancyZoneTag = {:?}", config.redundancy_zone_tag),
        format!(
            "DisableUpgradeMigration = {}",
            config.disable_upgrade_migration
        ),
        format!("UpgradeVersionTag = {:?}", config.upgrade_version_tag),
    ]
    .join("\n")
}

/// Reads the config, changes what the flags name, and writes it back with `?cas=` on the
/// index read, as Consul does: a change made meanwhile is never overwritten.
fn set_config(args: &SetConfigArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let mut config = match read_config(&client) {
        Ok(config) => config,
        Err(e) => return fail(format!("Error querying Autopilot configuration: {e}")),
    };
    if let Err(why) = apply_flags(args, &mut config) {
        return fail(why);
    }
    let body = serde_json::to_vec(&config).expect("the configuration always encodes");
    let cas = config.modify_index.to_string();
    let reply = client
        .put(CONFIG_PATH, &[("cas", cas.as_str())], &body)
        .and_then(Reply::success);
    match reply.and_then(|r| r.json::<bool>()) {
        Ok(true) => {
            println!("Configuration updated!");
            0
        }
        Ok(false) => fail("Configuration could not be atomically updated, please try again"),
        Err(e) => fail(format!("Error updating Autopilot configuration: {e}")),
    }
}

/// The flags given, over `config`; a bad duration names its flag.
pub fn apply_flags(
    args: &SetConfigArgs,
    config: &mut AutopilotConfiguration,
) -> Result<(), String> {
    let duration = |flag: &str, text: &str| {
        parse_setting_ms(text)
            .map(format_go_ms)
            .map_err(|why| format!("invalid value for -{flag}: {why}"))
    };
    if let Some(cleanup) = args.cleanup_dead_servers {
        config.cleanup_dead_servers = cleanup;
    }
    if let Some(text) = &args.last_contact_threshold {
        config.last_contact_threshold = duration("last-contact-threshold", text)?;
    }
    if let Some(entries) = args.max_trailing_logs {
        config.max_trailing_logs = entries;
    }
    if let Some(voters) = args.min_quorum {
        config.min_quorum = voters;
    }
    if let Some(text) = &args.server_stabilization_time {
        config.server_stabilization_time = duration("server-stabilization-time", text)?;
    }
    Ok(())
}

fn state(args: &StateArgs) -> i32 {
    if !matches!(args.format.as_str(), "pretty" | "json") {
        return fail(format!(
            "Error: invalid -format {:?}: must be pretty or json",
            args.format
        ));
    }
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let reply = client
        .get("/v1/operator/autopilot/state", &[])
        .and_then(Reply::success);
    let state: AutopilotState = match reply.and_then(|r| r.json()) {
        Ok(state) => state,
        Err(e) => return fail(format!("Error reading the Autopilot state: {e}")),
    };
    if args.format == "json" {
        let text = serde_json::to_string_pretty(&state).expect("the state always encodes");
        println!("{text}");
    } else {
        print!("{}", state_text(&state));
    }
    0
}

/// Consul's pretty `operator autopilot state`.
pub fn state_text(state: &AutopilotState) -> String {
    let mut out = String::new();
    out += &format!("Healthy:                      {}\n", state.healthy);
    out += &format!(
        "Failure Tolerance:            {}\n",
        state.failure_tolerance
    );
    out += &format!(
        "Optimistic Failure Tolerance: {}\n",
        state.optimistic_failure_tolerance
    );
    out += &format!("Leader:                       {}\n", state.leader);
    out += "Voters:\n";
    for voter in &state.voters {
        out += &format!("   {voter}\n");
    }
    out += "\nServers:\n";
    for server in state.servers.values() {
        out += &server_text(server);
    }
    out
}

fn server_text(s: &AutopilotServer) -> String {
    let contact = s.last_contact.as_deref().unwrap_or("never");
    let fields = [
        ("Name", s.name.clone()),
        ("Address", s.address.clone()),
        ("Version", s.version.clone()),
        ("Status", s.status.clone()),
        ("Node Type", s.node_type.clone()),
        ("Node Status", s.node_status.clone()),
        ("Healthy", s.healthy.to_string()),
        ("Last Contact", contact.to_string()),
        ("Last Term", s.last_term.to_string()),
        ("Last Index", s.last_index.to_string()),
    ];
    let mut out = format!("   {}\n", s.id);
    for (name, value) in fields {
        out += &format!("      {:<17}{value}\n", format!("{name}:"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config() -> AutopilotConfiguration {
        serde_json::from_str(
            r#"{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,"ServerStabilizationTime":"10s","RedundancyZoneTag":"","DisableUpgradeMigration":false,"UpgradeVersionTag":"","CreateIndex":4,"ModifyIndex":4}"#,
        )
        .unwrap()
    }

    #[test]
    fn get_config_prints_consuls_lines() {
        let expected = "\
CleanupDeadServers = true
LastContactThreshold = 200ms
MaxTrailingLogs = 250
MinQuorum = 0
ServerStabilizationTime = 10s
RedundancyZoneTag = \"\"
DisableUpgradeMigration = false
UpgradeVersionTag = \"\"";
        assert_eq!(config_lines(&config()), expected);
    }

    #[test]
    fn set_config_changes_only_the_flags_given() {
        let args = SetConfigArgs {
            http: HttpArgs::default(),
            cleanup_dead_servers: Some(false),
            last_contact_threshold: Some("1500ms".into()),
            max_trailing_logs: None,
            min_quorum: Some(3),
            server_stabilization_time: None,
        };
        let mut changed = config();
        apply_flags(&args, &mut changed).unwrap();
        assert!(!changed.cleanup_dead_servers);
        assert_eq!(changed.last_contact_threshold, "1.5s");
        assert_eq!((changed.max_trailing_logs, changed.min_quorum), (250, 3));
        assert_eq!(changed.server_stabilization_time, "10s");
        let bad = SetConfigArgs {
            server_stabilization_time: Some("soon".into()),
            ..args
        };
        let error = apply_flags(&bad, &mut changed).unwrap_err();
        assert!(error.contains("-server-stabilization-time"), "{error}");
    }

    #[test]
    fn state_prints_consuls_pretty_layout() {
        let server = |id: &str, status: &str| AutopilotServer {
            id: id.into(),
            name: id.into(),
            address: format!("{id}:8300"),
            node_status: "alive".into(),
            version: "0.1.0".into(),
            last_contact: Some("0s".into()),
            last_term: 2,
            last_index: 12,
            healthy: true,
            stable_since: "2026-11-30T16:19:52Z".into(),
            status: status.into(),
            meta: BTreeMap::new(),
            node_type: "voter".into(),
        };
        let state = AutopilotState {
            healthy: true,
            failure_tolerance: 0,
            optimistic_failure_tolerance: 0,
            servers: BTreeMap::from([
                ("s1".to_string(), server("s1", "leader")),
                ("s2".to_string(), server("s2", "non-voter")),
            ]),
            leader: "s1".into(),
            voters: vec!["s1".into()],
        };
        let text = state_text(&state);
        assert!(text
            .starts_with("Healthy:                      true\nFailure Tolerance:            0\n"));
        assert!(
            text.contains("Leader:                       s1\nVoters:\n   s1\n\nServers:\n   s1\n")
        );
        assert!(
            text.contains("      Status:          non-voter\n"),
            "{text}"
        );
        assert!(text.contains("      Last Contact:    0s\n"), "{text}");
        assert!(text.contains("      Last Index:      12\n"), "{text}");
    }
}
