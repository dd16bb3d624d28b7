//! Read release: a leader of term T never releases a consistent read that reached it after a
//! leader of a newer term was elected. That newer leader's voters are a quorum whose terms
//! already exceeded T, so no quorum can acknowledge T's confirmation round started after the
//! read arrived (ReadIndex, thesis §6.4). The linearizability check sees a stale read only when
//! a write landed in between on the key read; this sees every read released without a quorum.
//!
//! Order is the order of driver rounds (`CheckState::round`): madsim runs one at a time.

use super::CheckState;
use concord_core::agent::journal::ReadEvent;

/// Where and when one consistent read reached a leader.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub round: u64,
    pub at_ms: u64,
    pub term: u64,
}

/// `node` leads `term` in the current round: the first such round is when `term` was won.
pub fn on_leader(state: &mut CheckState, node: &str, term: u64, now_ms: u64) {
    let round = state.round;
    state
        .elected
        .entry(term)
        .or_insert_with(|| (round, now_ms, node.to_string()));
}

/// One journaled read event of `node` in the current round.
pub fn on_read(state: &mut CheckState, node: &str, event: ReadEvent, now_ms: u64) {
    let key = |read_id| (node.to_string(), read_id);
    match event {
        ReadEvent::Arrived { read_id, term } => {
            let arrival = Arrival {
                round: state.round,
                at_ms: now_ms,
                term,
            };
            state.reads_arrived.insert(key(read_id), arrival);
        }
        ReadEvent::Released { read_id, index } => {
            let Some(arrival) = state.reads_arrived.remove(&key(read_id)) else {
                return;
            };
            check_release(state, node, &arrival, index, now_ms);
        }
    }
}

fn check_release(state: &mut CheckState, node: &str, arrival: &Arrival, index: u64, now_ms: u64) {
    assert!(
        arrival.round <= state.round,
        "a read is released after it arrives"
    );
    let newer = state
        .elected
        .range(arrival.term + 1..)
        .filter(|(_, (round, _, _))| *round < arrival.round)
        .min_by_key(|(_, (round, _, _))| *round);
    if let Some((term, (_, elected_ms, leader))) = newer {
        let violation = format!(
            "read release: {node}, leader of term {}, released a consistent read at index {index} (at {now_ms} ms) that reached it at {} ms, after {leader} was elected for the newer term {term} at {elected_ms} ms",
            arrival.term, arrival.at_ms
        );
        state.violations.push(violation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrived(read_id: u64, term: u64) -> ReadEvent {
        ReadEvent::Arrived { read_id, term }
    }

    fn released(read_id: u64) -> ReadEvent {
        ReadEvent::Released { read_id, index: 9 }
    }

    #[test]
    fn a_read_that_arrived_after_a_newer_election_must_not_be_released() {
        let mut state = CheckState::default();
        on_leader(&mut state, "s1", 2, 100);
        state.round += 1;
        // Before the newer election: released in time, fine.
        on_read(&mut state, "s1", arrived(1, 2), 110);
        state.round += 1;
        on_leader(&mut state, "s2", 3, 120);
        on_leader(&mut state, "s1", 2, 120);
        state.round += 1;
        on_read(&mut state, "s1", released(1), 130);
        assert!(state.violations.is_empty(), "{:?}", state.violations);
        // After it: the old leader has no quorum left to confirm with.
        on_read(&mut state, "s1", arrived(2, 2), 140);
        state.round += 1;
        on_read(&mut state, "s1", released(2), 150);
        assert_eq!(state.violations.len(), 1);
        assert!(state.violations[0].contains("newer term 3"));
    }

    #[test]
    fn reads_of_the_newest_term_and_unknown_reads_pass() {
        let mut state = CheckState::default();
        on_leader(&mut state, "s2", 3, 100);
        state.round += 1;
        on_read(&mut state, "s2", arrived(1, 3), 110);
        on_read(&mut state, "s2", released(1), 110);
        // A release whose arrival this checker never saw (journal dropped it) is skipped.
        on_read(&mut state, "s1", released(7), 120);
        assert!(state.violations.is_empty(), "{:?}", state.violations);
    }
}
