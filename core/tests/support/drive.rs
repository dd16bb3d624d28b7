//! Driving one agent by hand, as the node's driver would: every write it asks for is durable
//! at once, and every other action goes to the test.

use concord_core::agent::{Action, Agent};

/// Polls `agent` until it has nothing more to do (at most `rounds_max` polls), reporting each
/// `Persist` as durable and handing every other action to `on_action`.
pub fn run_until_idle(agent: &mut Agent, rounds_max: usize, mut on_action: impl FnMut(Action)) {
    for _ in 0..rounds_max {
        let actions = agent.poll();
        if actions.is_empty() {
            return;
        }
        for action in actions {
            match action {
                Action::Persist { entries, .. } => {
                    if let Some(last) = entries.last() {
                        agent.on_persisted(last.index, last.term);
                    }
                }
                other => on_action(other),
            }
        }
    }
}
