//! Test hooks: what the real-process runner (`concord-sim real`) sets in the environment so
//! that `concord agent` runs as a simulated machine does. Only debug builds read them; a
//! release binary never looks at these variables. Every hook that is set is named in a
//! warning at start, so nobody runs one unknowingly.
//!
//! - `CONCORD_QUICK_TIMINGS=1`: the simulator's quick Raft and gossip timings
//!   (`HostFacts.quick_timings`), as `-dev` gets.
//! - `CONCORD_PLANTED_BUG=NAME`: a planted bug (`concord-sim --bug NAME`), to show that the
//!   real runner's checks can fail. An unknown name stops the agent with the known ones.
//! - `CONCORD_TEST_RAFT_LIMITS=APPEND,INFLIGHT`: the Raft batch and pipeline sizes the
//!   simulator draws per machine (`append_entries_max`, `inflight_messages_max`).

use concord_core::raft::RaftOptions;
use concord_node::PlantedBug;

pub const QUICK_TIMINGS_VAR: &str = "CONCORD_QUICK_TIMINGS";
pub const PLANTED_BUG_VAR: &str = "CONCORD_PLANTED_BUG";
pub const RAFT_LIMITS_VAR: &str = "CONCORD_TEST_RAFT_LIMITS";

/// The hooks an agent runs with; the default (no hook) is what a release build always gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestHooks {
    pub quick_timings: bool,
    pub bug: PlantedBug,
    pub raft_limits: Option<RaftLimits>,
}

/// The simulator's per-machine Raft sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftLimits {
    pub append_entries_max: usize,
    pub inflight_messages_max: usize,
}

/// The hooks in this process's environment: none in a release build, which reads nothing.
pub fn from_env() -> Result<TestHooks, String> {
    if !cfg!(debug_assertions) {
        return Ok(TestHooks::default());
    }
    parse(|name| std::env::var(name).ok())
}

/// The hooks `var` names (`var` answers an environment variable's value); an empty value
/// is the same as unset. A bad value names the variable and what it accepts.
pub fn parse(var: impl Fn(&str) -> Option<String>) -> Result<TestHooks, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let quick_timings = match set(QUICK_TIMINGS_VAR).as_deref().map(str::trim) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(format!(
                "{QUICK_TIMINGS_VAR}={other:?}: expected 1 (on) or 0 (off)"
            ))
        }
    };
    let bug = match set(PLANTED_BUG_VAR) {
        None => PlantedBug::None,
        Some(name) => parse_bug(name.trim())?,
    };
    let raft_limits = set(RAFT_LIMITS_VAR)
        .map(|v| parse_raft_limits(v.trim()))
        .transpose()?;
    Ok(TestHooks {
        quick_timings,
        bug,
        raft_limits,
    })
}

fn parse_bug(name: &str) -> Result<PlantedBug, String> {
    PlantedBug::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = PlantedBug::all().into_iter().map(|b| b.name()).collect();
        format!(
            "{PLANTED_BUG_VAR}={name:?}: unknown planted bug (known: {})",
            known.join(", ")
        )
    })
}

fn parse_raft_limits(value: &str) -> Result<RaftLimits, String> {
    let bad = || {
        format!(
            "{RAFT_LIMITS_VAR}={value:?}: expected APPEND,INFLIGHT \
             (append_entries_max and inflight_messages_max, both positive)"
        )
    };
    let (append, inflight) = value.split_once(',').ok_or_else(bad)?;
    let positive = |s: &str| s.trim().parse::<usize>().ok().filter(|n| *n > 0);
    match (positive(append), positive(inflight)) {
        (Some(append_entries_max), Some(inflight_messages_max)) => Ok(RaftLimits {
            append_entries_max,
            inflight_messages_max,
        }),
        _ => Err(bad()),
    }
}

impl TestHooks {
    /// One warning line per hook that is set (none when none is).
    pub fn warnings(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut warn = |what: String| {
            lines.push(format!(
                "TEST HOOK SET: {what}; this agent does not behave as a production one"
            ))
        };
        if self.quick_timings {
            warn(format!(
                "{QUICK_TIMINGS_VAR}=1 (the simulator's quick timings)"
            ));
        }
        if self.bug != PlantedBug::None {
            let name = self.bug.name();
            warn(format!("{PLANTED_BUG_VAR}={name} (a planted bug)"));
        }
        if let Some(l) = self.raft_limits {
            let (append, inflight) = (l.append_entries_max, l.inflight_messages_max);
            warn(format!(
                "{RAFT_LIMITS_VAR}={append},{inflight} (append_entries_max, inflight_messages_max)"
            ));
        }
        lines
    }

    /// Applies the Raft limits to the node's Raft options, over the user's settings as the
    /// simulator applies its draws.
    pub fn apply(&self, raft: &mut RaftOptions) {
        if let Some(limits) = self.raft_limits {
            raft.append_entries_max = limits.append_entries_max;
            raft.inflight_messages_max = limits.inflight_messages_max;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn hooks(vars: &[(&str, &str)]) -> Result<TestHooks, String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(|name| vars.get(name).cloned())
    }

    #[test]
    fn no_variable_or_empty_ones_are_no_hook_and_no_warning() {
        assert_eq!(hooks(&[]), Ok(TestHooks::default()));
        let empty = [(QUICK_TIMINGS_VAR, ""), (PLANTED_BUG_VAR, " ")];
        assert_eq!(hooks(&empty), Ok(TestHooks::default()));
        assert_eq!(hooks(&[(QUICK_TIMINGS_VAR, "0")]), Ok(TestHooks::default()));
        assert!(TestHooks::default().warnings().is_empty());
    }

    #[test]
    fn every_hook_is_read_and_named_in_a_warning() {
        let set = [
            (QUICK_TIMINGS_VAR, "1"),
            (PLANTED_BUG_VAR, "lock-steal-after-leader-change"),
            (RAFT_LIMITS_VAR, "4, 2"),
        ];
        let got = hooks(&set).unwrap();
        let limits = RaftLimits {
            append_entries_max: 4,
            inflight_messages_max: 2,
        };
        assert_eq!(
            (got.quick_timings, got.bug.name(), got.raft_limits),
            (true, "lock-steal-after-leader-change", Some(limits))
        );
        let warnings = got.warnings().join("\n");
        for needle in [
            "CONCORD_QUICK_TIMINGS=1",
            "CONCORD_PLANTED_BUG=lock-steal-after-leader-change",
            "CONCORD_TEST_RAFT_LIMITS=4,2",
        ] {
            assert!(warnings.contains(needle), "{needle} in {warnings}");
        }
        assert_eq!(got.warnings().len(), 3);
    }

    #[test]
    fn an_unknown_bug_is_refused_with_the_known_names() {
        let err = hooks(&[(PLANTED_BUG_VAR, "no-such-bug")]).unwrap_err();
        assert!(
            err.starts_with("CONCORD_PLANTED_BUG=\"no-such-bug\""),
            "{err}"
        );
        for bug in PlantedBug::all() {
            assert!(err.contains(bug.name()), "{} in {err}", bug.name());
        }
    }

    #[test]
    fn bad_values_name_the_variable_and_what_it_accepts() {
        let cases = [
            (QUICK_TIMINGS_VAR, "yes", "expected 1 (on) or 0 (off)"),
            (RAFT_LIMITS_VAR, "4", "expected APPEND,INFLIGHT"),
            (RAFT_LIMITS_VAR, "0,2", "both positive"),
            (RAFT_LIMITS_VAR, "4,x", "expected APPEND,INFLIGHT"),
        ];
        for (var, value, why) in cases {
            let err = hooks(&[(var, value)]).unwrap_err();
            assert!(
                err.starts_with(var) && err.contains(why),
                "{var}={value}: {err}"
            );
        }
    }

    #[test]
    fn raft_limits_replace_the_configured_sizes() {
        let mut raft = RaftOptions::default();
        TestHooks::default().apply(&mut raft);
        assert_eq!(raft, RaftOptions::default(), "no hook, no change");
        hooks(&[(RAFT_LIMITS_VAR, "1,1")]).unwrap().apply(&mut raft);
        assert_eq!(
            (raft.append_entries_max, raft.inflight_messages_max),
            (1, 1)
        );
    }
}
