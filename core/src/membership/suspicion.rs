//! Lifeguard's dynamic suspicion: a suspicion timer starts long and shrinks as independent
//! members confirm it, so a slow-but-alive member gets time to refute while a dead one,
//! confirmed by several, is declared dead quickly.

use std::collections::BTreeSet;

/// The minimum suspicion timeout: `mult x max(1, log10(n)) x probe_interval` (memberlist's
/// `suspicionTimeout`; the node scale is truncated to thousandths as memberlist does).
pub fn suspicion_min_ms(suspicion_mult: u32, members_n: usize, probe_interval_ms: u64) -> u64 {
    let node_scale = (members_n.max(1) as f64).log10().max(1.0);
    let node_scale_milli = (node_scale * 1_000.0) as u64;
    u64::from(suspicion_mult) * node_scale_milli * probe_interval_ms / 1_000
}

/// Confirmations needed to shrink the timer to its minimum: `mult - 2`, or none when the
/// cluster is too small to supply them (memberlist: `n - 2 < k`).
pub fn confirmations_needed(suspicion_mult: u32, members_n: usize) -> u32 {
    let k = suspicion_mult.saturating_sub(2);
    if (members_n as u64) < u64::from(k) + 2 {
        0
    } else {
        k
    }
}

/// `max(min, max - ln(c+1)/ln(k+1) x (max-min))`: Lifeguard's remaining-time formula.
pub fn suspicion_timeout_ms(min_ms: u64, max_ms: u64, confirmations: u32, needed: u32) -> u64 {
    assert!(
        min_ms <= max_ms,
        "suspicion min {min_ms} above max {max_ms}"
    );
    if needed == 0 {
        return min_ms;
    }
    let frac = f64::from(confirmations + 1).ln() / f64::from(needed + 1).ln();
    let shrink_ms = (frac * (max_ms - min_ms) as f64).floor() as u64;
    max_ms.saturating_sub(shrink_ms).max(min_ms)
}

#[derive(Clone, Debug)]
pub struct Suspicion {
    pub started_ms: u64,
    pub min_ms: u64,
    pub max_ms: u64,
    pub needed: u32,
    /// Everyone who suspected the member, the first suspector included (it is not a
    /// confirmation: c = suspectors - 1).
    pub suspectors: BTreeSet<String>,
    /// The timer does not run out before this (set after a stall of ours, so a refutation
    /// that queued up meanwhile is read first).
    pub not_before_ms: u64,
    /// Whether the last-chance ping went out (see `probe.rs`): once per suspicion.
    pub last_chance_sent: bool,
}

impl Suspicion {
    pub fn new(first_from: &str, min_ms: u64, max_ms: u64, needed: u32, now_ms: u64) -> Self {
        Suspicion {
            started_ms: now_ms,
            min_ms,
            max_ms,
            needed,
            suspectors: BTreeSet::from([first_from.to_string()]),
            not_before_ms: now_ms,
            last_chance_sent: false,
        }
    }

    /// Counts `from` as a confirmation if it is new; returns whether it was (then the
    /// suspicion is re-broadcast so others hear the confirmation too).
    pub fn confirm(&mut self, from: &str) -> bool {
        if self.confirmations() >= self.needed {
            return false;
        }
        self.suspectors.insert(from.to_string())
    }

    pub fn confirmations(&self) -> u32 {
        (self.suspectors.len() as u32).saturating_sub(1)
    }

    /// When the member is declared dead, measured from when suspicion started.
    pub fn deadline_ms(&self) -> u64 {
        let timeout_ms =
            suspicion_timeout_ms(self.min_ms, self.max_ms, self.confirmations(), self.needed);
        (self.started_ms + timeout_ms).max(self.not_before_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_is_max_without_confirmations_and_min_with_k() {
        let min_ms = suspicion_min_ms(4, 5, 1_000);
        assert_eq!(min_ms, 4_000);
        let max_ms = 6 * min_ms;
        assert_eq!(suspicion_timeout_ms(min_ms, max_ms, 0, 2), max_ms);
        assert_eq!(suspicion_timeout_ms(min_ms, max_ms, 2, 2), min_ms);
        let one = suspicion_timeout_ms(min_ms, max_ms, 1, 2);
        assert!(min_ms < one && one < max_ms, "one confirmation: {one}");
        // ln(2)/ln(3) of the way from max to min.
        assert_eq!(
            one,
            24_000 - (0.630_929_753_571_457_4_f64 * 20_000.0).floor() as u64
        );
    }

    #[test]
    fn min_grows_with_log10_of_cluster_size() {
        assert_eq!(suspicion_min_ms(4, 1, 1_000), 4_000);
        assert_eq!(suspicion_min_ms(4, 10, 1_000), 4_000);
        assert_eq!(suspicion_min_ms(4, 100, 1_000), 8_000);
        assert_eq!(suspicion_min_ms(4, 1_000, 1_000), 12_000);
    }

    #[test]
    fn small_clusters_need_no_confirmations() {
        assert_eq!(confirmations_needed(4, 3), 0);
        assert_eq!(confirmations_needed(4, 4), 2);
        assert_eq!(suspicion_timeout_ms(4_000, 24_000, 0, 0), 4_000);
    }

    #[test]
    fn confirmations_count_distinct_suspectors_up_to_k() {
        let mut s = Suspicion::new("a", 4_000, 24_000, 2, 100);
        assert_eq!(s.deadline_ms(), 24_100);
        assert!(!s.confirm("a"), "the first suspector is no confirmation");
        assert!(s.confirm("b"));
        assert!(!s.confirm("b"));
        assert!(s.confirm("c"));
        assert!(!s.confirm("d"), "beyond k nothing changes");
        assert_eq!(s.deadline_ms(), 4_100);
    }
}
