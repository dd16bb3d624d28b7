//! Concord's configuration library: one road from what a user writes (agent flags, JSON and
//! HCL files, `-config-dir`, `-hcl` fragments) to the node's configuration (`NodeConfig`, with
//! the core's `AgentConfig`). The `concord agent` binary and the simulator's `start NAME
//! <flags>` both call [`plan_agent`], so a scenario may use every flag a user may and gets the
//! same error a user gets.
//!
//! Pure apart from reading config files: no tokio, no sockets, no clock. What the machine
//! tells (hostname, network interfaces, a PRNG seed) comes in as [`plan::HostFacts`]; a
//! machine's own defaults (the simulator's per-machine data dir) come in as a base layer,
//! under every file and flag.
//!
//! One concern per file: `args` (Consul's one-dash flags for clap), `flags` (the agent's
//! flags), `config_file` (files and directories), `keys` (config keys and their checks),
//! `layer` (one stackable source of settings), `plan` (Consul's start checks, defaults, the
//! `NodeConfig`), `bind` (choosing the cluster address), `ports` (port rules), `level`
//! (log levels). Durations are `concord_core::duration`, default ports `concord_core::ports`.

pub mod args;
pub mod autopilot;
pub mod bind;
pub mod config_file;
pub mod flags;
pub mod gossip;
mod keys;
pub mod layer;
mod level;
pub mod plan;
pub mod ports;
pub mod services;
/// Temporary directories for the tests of this crate and of the CLI.
#[doc(hidden)]
pub mod testutil;

pub use level::Level;

use clap::{CommandFactory, FromArgMatches, Parser};
use config_file::{Format, Source};
use flags::AgentFlags;
use layer::ConfigLayer;
use plan::{AgentPlan, HostFacts};
use std::fmt;

/// `concord agent`'s command line (the name and usage clap's errors show).
#[derive(Parser, Debug)]
#[command(
    name = "agent",
    bin_name = "concord agent",
    about = "Run a Concord agent.",
    disable_version_flag = true
)]
struct AgentCli {
    #[command(flatten)]
    flags: AgentFlags,
}

/// The agent's flags as clap sees them (for help and for `args::normalize`).
pub fn agent_command() -> clap::Command {
    let mut command = AgentCli::command();
    command.build();
    command
}

/// Why an agent cannot start from these words: a usage error (clap's, naming the flag) or a
/// configuration error (naming the file and key, or the flag, and the reason), after the
/// notes about repaired words that explain it.
#[derive(Debug)]
pub enum AgentError {
    Usage(clap::Error),
    Config { why: String, notes: Vec<String> },
}

/// What `concord agent` prints for each kind of error (clap's usage errors as clap renders
/// them; the rest after `==> `, as Consul does).
impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Usage(error) => write!(f, "{}", error.render()),
            AgentError::Config { why, notes } => {
                for note in notes {
                    writeln!(f, "==> Warning: {note}")?;
                }
                write!(f, "==> {why}")
            }
        }
    }
}

/// The words after `agent`, parsed: the flags, the config sources in the order given, and
/// notes about repaired words (a missing space before a flag).
#[derive(Debug)]
pub struct ParsedArgs {
    pub flags: AgentFlags,
    pub sources: Vec<Source>,
    pub notes: Vec<String>,
}

/// Parses the agent's words (without the program name and `agent`), Consul's spellings.
pub fn parse_agent_args(words: &[String]) -> Result<ParsedArgs, clap::Error> {
    let command = agent_command();
    let argv: Vec<String> = std::iter::once("agent".to_string())
        .chain(words.iter().cloned())
        .collect();
    let mut argv = args::normalize(&argv, &command);
    let notes = flags::repair_glued_flags(&mut argv, &command);
    let matches = command.try_get_matches_from(&argv)?;
    let cli = AgentCli::from_arg_matches(&matches)?;
    Ok(ParsedArgs {
        flags: cli.flags,
        sources: flags::sources_in_order(&matches),
        notes,
    })
}

/// `base` (the machine's own defaults), then config sources in order, then `-hcl` fragments,
/// then the flags (strongest).
pub fn merged_layer(
    base: ConfigLayer,
    flags: &AgentFlags,
    sources: &[Source],
) -> Result<(ConfigLayer, Vec<String>), String> {
    let loaded = config_file::load(sources, flags.config_format)?;
    let mut layer = base;
    layer.merge(loaded.layer);
    let mut warnings = loaded.warnings;
    for fragment in &flags.hcl {
        let (fragment_layer, fragment_warnings) = config_file::parse_text(fragment, Format::Hcl)
            .and_then(|value| keys::layer_from_value(&value))
            .map_err(|why| format!("Error parsing -hcl {fragment:?}: {why}"))?;
        layer.merge(fragment_layer);
        warnings.extend(fragment_warnings.into_iter().map(|w| format!("-hcl: {w}")));
    }
    layer.merge(flags.to_layer());
    Ok((layer, warnings))
}

/// An agent ready to start, and what to tell the user first.
#[derive(Clone, Debug)]
pub struct PlannedAgent {
    pub plan: AgentPlan,
    /// Repaired words, said before anything else.
    pub notes: Vec<String>,
    /// Unknown keys, odd settings: logged as warnings once logging runs.
    pub warnings: Vec<String>,
}

/// The one road from the agent's words to its configuration.
pub fn plan_agent(
    words: &[String],
    base: ConfigLayer,
    host: &HostFacts,
) -> Result<PlannedAgent, AgentError> {
    let parsed = parse_agent_args(words).map_err(AgentError::Usage)?;
    let config_error = |why| AgentError::Config {
        why,
        notes: parsed.notes.clone(),
    };
    let (layer, mut warnings) =
        merged_layer(base, &parsed.flags, &parsed.sources).map_err(config_error)?;
    let plan = plan::build(&layer, host).map_err(config_error)?;
    warnings.extend(plan.warnings.iter().cloned());
    Ok(PlannedAgent {
        plan,
        notes: parsed.notes,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_override_hcl_fragments_override_files_override_the_base() {
        let dir = TempDir::new("merge");
        let file = dir.write(
            "a.json",
            r#"{"node_name": "file", "datacenter": "file-dc", "log_level": "warn"}"#,
        );
        let flags = AgentFlags {
            node: Some("flag".into()),
            hcl: vec!["datacenter = \"hcl-dc\"".into()],
            ..Default::default()
        };
        let base = ConfigLayer {
            data_dir: Some("/base".into()),
            node_name: Some("base".into()),
            ..Default::default()
        };
        let (layer, _) = merged_layer(base, &flags, &[Source::File(file)]).unwrap();
        assert_eq!(layer.node_name.as_deref(), Some("flag"));
        assert_eq!(layer.datacenter.as_deref(), Some("hcl-dc"));
        assert_eq!(layer.log_level, Some(Level::Warn));
        assert_eq!(layer.data_dir.as_deref(), Some("/base"));
    }

    #[test]
    fn a_repaired_word_is_told_before_the_error_it_explains() {
        let host = HostFacts {
            hostname: "h".into(),
            interfaces: Vec::new(),
            seed: 1,
            quick_timings: false,
        };
        let words = words("-dev -node 192.168.1.185-datacenter huanan -bootstrap-expect 2");
        let err = plan_agent(&words, ConfigLayer::default(), &host).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("==> Warning: read \"-node 192.168.1.185-datacenter huanan\""),
            "{text}"
        );
        assert!(text.ends_with("not allowed in dev mode: -dev always runs a single server that elects itself; drop -bootstrap-expect"), "{text}");
    }

    #[test]
    fn usage_errors_name_the_flag_and_show_concord_agent_usage() {
        let err = parse_agent_args(&words("-bogus")).unwrap_err();
        let text = err.render().to_string();
        assert!(text.contains("'--bogus'"), "{text}");
        assert!(text.contains("Usage: concord agent"), "{text}");
    }
}
