//! The autopilot table: one row, the replicated `AutopilotConfig`, written with Consul's
//! compare-and-set rule.

use crate::agent::autopilot::{AutopilotCommand, AutopilotConfig};

/// Applies `command` at log `index` to the stored config. Returns whether it took effect:
/// with `cas`, only if the stored modify index equals it (0: only if none is stored).
pub(super) fn apply(
    stored: &mut Option<AutopilotConfig>,
    index: u64,
    command: &AutopilotCommand,
) -> bool {
    let AutopilotCommand::Set { options, cas } = command;
    let current = stored.as_ref().map_or(0, |c| c.modify_index);
    if cas.is_some_and(|cas| cas != current) {
        return false;
    }
    *stored = Some(AutopilotConfig {
        options: *options,
        create_index: stored.as_ref().map_or(index, |c| c.create_index),
        modify_index: index,
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::autopilot::AutopilotOptions;

    fn set(min_quorum: u32, cas: Option<u64>) -> AutopilotCommand {
        AutopilotCommand::Set {
            options: AutopilotOptions {
                min_quorum,
                ..AutopilotOptions::default()
            },
            cas,
        }
    }

    #[test]
    fn cas_compares_the_modify_index_and_zero_means_none_stored() {
        let mut stored = None;
        assert!(
            !apply(&mut stored, 3, &set(1, Some(2))),
            "nothing stored at 2"
        );
        assert!(apply(&mut stored, 4, &set(1, Some(0))));
        assert!(
            !apply(&mut stored, 5, &set(2, Some(0))),
            "one is stored now"
        );
        assert!(!apply(&mut stored, 6, &set(2, Some(3))));
        assert_eq!(stored.map(|c| c.options.min_quorum), Some(1));
        assert!(apply(&mut stored, 7, &set(3, Some(4))));
        let config = stored.expect("stored");
        assert_eq!((config.create_index, config.modify_index), (4, 7));
        assert_eq!(config.options.min_quorum, 3);
        assert!(apply(&mut stored, 9, &set(5, None)), "no cas: always");
        assert_eq!(
            stored.map(|c| (c.create_index, c.modify_index)),
            Some((4, 9))
        );
    }
}
