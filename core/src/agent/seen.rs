//! Forwarded requests already taken, so that a duplicated `Forward` frame is not served
//! twice: a write proposed twice would apply twice (found by the fuzzer with dup%, seeds 23
//! and 29). Legitimate re-sends (a new leader, a failed server) carry a new request id.

use std::collections::{BTreeSet, VecDeque};

/// Forwards remembered; the oldest are forgotten first. A duplicate arrives within the
/// network's reordering window, far fewer forwards than this later.
pub const FORWARDS_SEEN_MAX: usize = 4096;

#[derive(Clone, Debug)]
pub(super) struct SeenForwards {
    seen: BTreeSet<(String, u64)>,
    order: VecDeque<(String, u64)>,
    seen_max: usize,
}

impl SeenForwards {
    pub(super) fn new(seen_max: usize) -> SeenForwards {
        assert!(seen_max > 0, "seen_max must hold one forward");
        SeenForwards {
            seen: BTreeSet::new(),
            order: VecDeque::new(),
            seen_max,
        }
    }

    /// Whether the forward `request_id` from `from_addr` is new; remembers it.
    pub(super) fn first_time(&mut self, from_addr: &str, request_id: u64) -> bool {
        let key = (from_addr.to_string(), request_id);
        if !self.seen.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        while self.order.len() > self.seen_max {
            let oldest = self.order.pop_front().expect("longer than the bound");
            self.seen.remove(&oldest);
        }
        assert_eq!(self.seen.len(), self.order.len(), "seen orders disagree");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_is_refused_until_forgotten() {
        let mut seen = SeenForwards::new(2);
        assert!(seen.first_time("a:1", 7));
        assert!(!seen.first_time("a:1", 7), "duplicate");
        assert!(seen.first_time("b:1", 7), "same id, other sender");
        assert!(seen.first_time("a:1", 8));
        assert!(seen.first_time("a:1", 7), "forgotten past the bound");
    }
}
