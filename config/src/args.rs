//! Argv normalization: Consul's flags take one or two dashes (`-node x`, `--node=x`); clap only
//! knows two. Rewriting `-name` to `--name` before clap sees argv keeps clap's parsing and help.
//!
//! Like Go's `flag` package, once a command's first positional argument is seen, later words are
//! only rewritten when they name one of that command's flags: a value such as `-5` or `-foo`
//! after `kv put KEY` stays a value.

use clap::{Arg, Command};

/// Dashes that word processors substitute for `-` (the user's guide has `–ui`).
const DASH_LOOKALIKES: [char; 3] = ['\u{2013}', '\u{2014}', '\u{2212}'];

/// Rewrites `argv` (program name first) so that clap can parse Consul-style flags.
pub fn normalize(argv: &[String], root: &Command) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut iter = argv.iter();
    if let Some(program) = iter.next() {
        out.push(program.clone());
    }
    let mut cmd = root;
    let mut seen_positional = false;
    let mut expect_value = false;
    while let Some(raw) = iter.next() {
        if raw == "--" {
            out.push(raw.clone());
            out.extend(iter.cloned());
            break;
        }
        if expect_value {
            out.push(raw.clone());
            expect_value = false;
            continue;
        }
        let word = fix_dash(raw);
        if let Some(name) = flag_name(&word) {
            let arg = find_long(cmd, name);
            if seen_positional && arg.is_none() && takes_dash_values(cmd) {
                // A value that merely looks like a flag (Go stops parsing flags here too).
                out.push(raw.clone());
                continue;
            }
            expect_value = !word.contains('=') && arg.is_some_and(takes_separate_value);
            out.push(to_double_dash(&word));
            continue;
        }
        if !seen_positional && !word.starts_with('-') {
            if let Some(sub) = cmd.find_subcommand(&word) {
                cmd = sub;
                out.push(word);
                continue;
            }
            seen_positional = cmd.get_subcommands().next().is_none();
        }
        out.push(word);
    }
    out
}

/// Replaces a leading typographic dash by `-` when a flag name follows (`–ui` → `-ui`).
fn fix_dash(word: &str) -> String {
    let mut chars = word.chars();
    match (chars.next(), chars.clone().next()) {
        (Some(first), Some(second))
            if DASH_LOOKALIKES.contains(&first)
                && (second.is_ascii_alphabetic() || second == '-') =>
        {
            format!("-{}", chars.as_str())
        }
        _ => word.to_string(),
    }
}

/// The long name of a flag-looking word (`-node`, `--node=x` → `node`); `None` for values,
/// `-`, `-5`, and single-letter short flags (`-h`).
fn flag_name(word: &str) -> Option<&str> {
    let body = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    let name = body.split('=').next().unwrap_or("");
    let starts_alpha = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_alpha {
        return None;
    }
    if !word.starts_with("--") && name.len() == 1 {
        return None;
    }
    Some(name)
}

fn to_double_dash(word: &str) -> String {
    if word.starts_with("--") {
        word.to_string()
    } else {
        format!("-{word}")
    }
}

/// Whether a positional argument of `cmd` may start with `-` (`kv put KEY -5`).
fn takes_dash_values(cmd: &Command) -> bool {
    cmd.get_arguments()
        .any(|arg| arg.is_positional() && arg.is_allow_hyphen_values_set())
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|arg| {
        arg.get_long() == Some(name)
            || arg
                .get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    })
}

/// Whether `-flag value` consumes the next word. Bool flags accept `-flag=true` but never take
/// the next word, as in Go.
fn takes_separate_value(arg: &Arg) -> bool {
    if arg.is_require_equals_set() {
        return false;
    }
    let min_values = arg
        .get_num_args()
        .map(|range| range.min_values())
        .unwrap_or(1);
    arg.get_action().takes_values() && min_values > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ArgAction;

    fn test_command() -> Command {
        let mut root = Command::new("concord")
            .subcommand(
                Command::new("agent")
                    .arg(Arg::new("node").long("node"))
                    .arg(
                        Arg::new("dev")
                            .long("dev")
                            .num_args(0..=1)
                            .require_equals(true)
                            .default_missing_value("true"),
                    )
                    .arg(Arg::new("server").long("server").action(ArgAction::SetTrue)),
            )
            .subcommand(
                Command::new("kv").subcommand(
                    Command::new("put")
                        .arg(Arg::new("flags").long("flags"))
                        .arg(Arg::new("key"))
                        .arg(Arg::new("value").allow_hyphen_values(true)),
                ),
            );
        root.build();
        root
    }

    fn norm(words: &[&str]) -> Vec<String> {
        let argv: Vec<String> = std::iter::once("concord")
            .chain(words.iter().copied())
            .map(String::from)
            .collect();
        normalize(&argv, &test_command())[1..].to_vec()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(norm(&["agent", "-node", "n1"]), ["agent", "--node", "n1"]);
        assert_eq!(norm(&["agent", "-node=n1"]), ["agent", "--node=n1"]);
        assert_eq!(norm(&["agent", "--node", "n1"]), ["agent", "--node", "n1"]);
        assert_eq!(norm(&["agent", "--node=n1"]), ["agent", "--node=n1"]);
    }

    #[test]
    fn bool_flags_by_presence_do_not_eat_the_next_word() {
        assert_eq!(
            norm(&["agent", "-dev", "-node", "x"]),
            ["agent", "--dev", "--node", "x"]
        );
        assert_eq!(norm(&["agent", "-dev=false"]), ["agent", "--dev=false"]);
        assert_eq!(
            norm(&["agent", "-server", "-node", "x"]),
            ["agent", "--server", "--node", "x"]
        );
    }

    #[test]
    fn a_value_that_looks_like_a_flag_is_kept() {
        assert_eq!(
            norm(&["agent", "-node", "-weird"]),
            ["agent", "--node", "-weird"]
        );
        assert_eq!(
            norm(&["kv", "put", "k", "-value"]),
            ["kv", "put", "k", "-value"]
        );
        assert_eq!(norm(&["kv", "put", "k", "-5"]), ["kv", "put", "k", "-5"]);
        assert_eq!(
            norm(&["kv", "put", "-flags", "-1", "k", "v"]),
            ["kv", "put", "--flags", "-1", "k", "v"]
        );
    }

    #[test]
    fn known_flags_after_positionals_still_work() {
        assert_eq!(
            norm(&["kv", "put", "k", "v", "-flags=3"]),
            ["kv", "put", "k", "v", "--flags=3"]
        );
    }

    #[test]
    fn unknown_flags_are_rewritten_so_clap_names_them() {
        assert_eq!(norm(&["agent", "-bogus"]), ["agent", "--bogus"]);
        assert_eq!(
            norm(&["agent", "stray", "-bogus"]),
            ["agent", "stray", "--bogus"]
        );
    }

    #[test]
    fn typographic_dashes_are_plain_dashes() {
        assert_eq!(norm(&["agent", "\u{2013}ui"]), ["agent", "--ui"]);
        assert_eq!(norm(&["agent", "\u{2014}dev"]), ["agent", "--dev"]);
    }

    #[test]
    fn short_flags_stdin_and_double_dash_are_untouched() {
        assert_eq!(norm(&["agent", "-h"]), ["agent", "-h"]);
        assert_eq!(norm(&["kv", "put", "k", "-"]), ["kv", "put", "k", "-"]);
        assert_eq!(
            norm(&["kv", "put", "--", "-k", "-v"]),
            ["kv", "put", "--", "-k", "-v"]
        );
    }
}
