//! The node's clock: monotonic within a process, near wall time across restarts (so that a
//! restarted agent's gossip incarnation is newer than its old one), and, in the simulator,
//! offset and drifting per node, because madsim has one global clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Clock {
    started: Instant,
    base_ms: u64,
    offset_ms: i64,
    /// Parts per million this clock runs fast (positive) or slow (negative).
    drift_ppm: i64,
}

/// Drift beyond this is a configuration error: lease-free reads stay safe for any drift, but
/// timers that far off would make elections meaningless.
pub const DRIFT_PPM_MAX: i64 = 100_000;

impl Clock {
    pub fn real() -> Clock {
        Clock::skewed(0, 0)
    }

    pub fn skewed(offset_ms: i64, drift_ppm: i64) -> Clock {
        assert!(
            drift_ppm.abs() <= DRIFT_PPM_MAX,
            "drift {drift_ppm} ppm is over {DRIFT_PPM_MAX}"
        );
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64;
        Clock {
            started: Instant::now(),
            base_ms: epoch_ms,
            offset_ms,
            drift_ppm,
        }
    }

    /// The real time in which this clock advances `ms` (it runs fast or slow by its drift),
    /// rounded up, plus a millisecond for `now_ms`'s rounding down: sleeping that long never
    /// wakes before a deadline `ms` ahead.
    pub fn real_duration(&self, ms: u64) -> Duration {
        if ms == 0 {
            return Duration::ZERO;
        }
        let rate_ppm = (1_000_000 + self.drift_ppm) as u64;
        let slack_ms = u64::from(self.drift_ppm != 0);
        Duration::from_millis((ms * 1_000_000).div_ceil(rate_ppm) + slack_ms)
    }

    /// Milliseconds on this node's clock.
    pub fn now_ms(&self) -> u64 {
        let elapsed_ms = self.started.elapsed().as_millis() as i64;
        (self.base_ms as i64 + self.offset_ms + self.drifted_ms(elapsed_ms)).max(0) as u64
    }

    /// How far this clock moved in `elapsed_ms` of real time.
    fn drifted_ms(&self, elapsed_ms: i64) -> i64 {
        elapsed_ms + elapsed_ms * self.drift_ppm / 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver that sleeps `real_duration(ms)` from any moment finds the clock moved at
    /// least `ms`: it never wakes before the deadline it slept for (and at most a few ms late).
    #[test]
    fn sleeping_the_real_duration_never_wakes_before_the_deadline() {
        for drift_ppm in [-DRIFT_PPM_MAX, -12_345, -1, 0, 1, 54_321, DRIFT_PPM_MAX] {
            let clock = Clock::skewed(0, drift_ppm);
            for ms in [1, 7, 30, 999, 1_000, 123_457] {
                let real_ms = clock.real_duration(ms).as_millis() as i64;
                for start_ms in (0..5_000).chain([86_400_000, 86_400_001]) {
                    let moved = clock.drifted_ms(start_ms + real_ms) - clock.drifted_ms(start_ms);
                    let ctx = format!("drift {drift_ppm} ppm, {ms} ms from {start_ms}");
                    assert!(moved >= ms as i64, "{ctx}: woke after {moved} ms");
                    assert!(
                        moved <= ms as i64 + 4 + ms as i64 / 10_000,
                        "{ctx}: {moved} ms"
                    );
                }
            }
        }
        assert_eq!(Clock::real().real_duration(0), Duration::ZERO);
    }
}
