//! `Histogram`: timings in milliseconds counted into fixed buckets (Prometheus' `_bucket`,
//! `_sum`, `_count`), with the count, sum, min, max and sum of squares that Consul's JSON
//! reports for a timer. Every field is an atomic: `observe` takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A histogram's upper bounds in milliseconds, ascending (`+Inf` is implied).
pub type BucketsMs = &'static [f64];

#[derive(Debug)]
pub struct Histogram {
    bounds_ms: BucketsMs,
    /// Observations per bucket, not cumulative (the last is `+Inf`); summed when read.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    /// Microseconds, exact.
    sum_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
    /// Squared milliseconds as f64 bits (for Consul's `Stddev`).
    sum_sq_ms_bits: AtomicU64,
}

/// What a histogram held when read.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in ms, observations at or under it): cumulative; `+Inf` is `count`.
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub sum_sq_ms: f64,
}

impl Histogram {
    pub fn new(bounds_ms: BucketsMs) -> Histogram {
        assert!(
            bounds_ms.windows(2).all(|w| w[0] < w[1]),
            "bucket bounds must ascend"
        );
        let buckets = (0..=bounds_ms.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds_ms,
            buckets,
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            sum_sq_ms_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records the time since `started`.
    pub fn observe_since(&self, started: Instant) {
        self.observe(started.elapsed());
    }

    pub fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let ms = us as f64 / 1000.0;
        let bucket = self.bounds_ms.partition_point(|bound| *bound < ms);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        let add = |bits: u64| Some((f64::from_bits(bits) + ms * ms).to_bits());
        let _ = self
            .sum_sq_ms_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, add);
    }

    /// The buckets made cumulative, as Prometheus wants them. Reads race with writers, so
    /// `count` is taken as the buckets' sum: the exposition stays self-consistent.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let mut cumulative = Vec::with_capacity(self.bounds_ms.len());
        for (bound, bucket) in self.bounds_ms.iter().zip(self.buckets.iter()) {
            running += bucket.load(Ordering::Relaxed);
            cumulative.push((*bound, running));
        }
        let count = running + self.buckets[self.bounds_ms.len()].load(Ordering::Relaxed);
        let us = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1000.0;
        let empty = count == 0;
        HistogramSnapshot {
            cumulative,
            count,
            sum_ms: us(&self.sum_us),
            min_ms: if empty { 0.0 } else { us(&self.min_us) },
            max_ms: if empty { 0.0 } else { us(&self.max_us) },
            sum_sq_ms: f64::from_bits(self.sum_sq_ms_bits.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let histogram = Histogram::new(&[1.0, 5.0, 10.0]);
        for ms in [0, 1, 3, 7, 50] {
            histogram.observe(Duration::from_millis(ms));
        }
        let snapshot = histogram.snapshot();
        // 0 and 1 are at or under 1 ms (a bound is inclusive, Prometheus' `le`).
        assert_eq!(snapshot.cumulative, vec![(1.0, 2), (5.0, 3), (10.0, 4)]);
        assert_eq!(snapshot.count, 5);
        assert_eq!((snapshot.min_ms, snapshot.max_ms), (0.0, 50.0));
        assert_eq!(snapshot.sum_ms, 61.0);
    }

    #[test]
    fn an_empty_histogram_reports_zeros_not_its_sentinels() {
        let snapshot = Histogram::new(&[1.0]).snapshot();
        assert_eq!(
            (snapshot.count, snapshot.min_ms, snapshot.max_ms),
            (0, 0.0, 0.0)
        );
    }
}
