//! One series' value: a `Counter` (a total that only grows) or a `Gauge` (a value set at a
//! moment). Both are atomics: written on hot paths without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// A total that only grows, and how many times it was added to (Consul's JSON reports both:
/// `Sum` and `Count`).
#[derive(Debug, Default)]
pub struct Counter {
    total: AtomicU64,
    adds: AtomicU64,
}

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.adds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// How many `add` calls made the total.
    pub fn adds(&self) -> u64 {
        self.adds.load(Ordering::Relaxed)
    }
}

/// A value set at a moment (an f64 in an atomic's bits). Most gauges are set at scrape time
/// from the node's state; `add` serves the few kept up to date (blocking queries in flight).
#[derive(Debug, Default)]
pub struct Gauge {
    bits: AtomicU64,
}

impl Gauge {
    pub fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    pub fn add(&self, delta: f64) {
        let add = |bits: u64| Some((f64::from_bits(bits) + delta).to_bits());
        // Never fails: the closure always answers Some.
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, add);
    }
}

/// Adds one to a gauge until dropped (a blocking query in flight, even one cancelled when its
/// client goes away).
pub struct GaugeGuard<'a> {
    gauge: &'a Gauge,
}

impl<'a> GaugeGuard<'a> {
    pub fn hold(gauge: &'a Gauge) -> GaugeGuard<'a> {
        gauge.add(1.0);
        GaugeGuard { gauge }
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.gauge.add(-1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_keeps_its_total_and_its_adds() {
        let counter = Counter::default();
        counter.inc();
        counter.add(5);
        assert_eq!((counter.total(), counter.adds()), (6, 2));
    }

    #[test]
    fn a_gauge_guard_gives_back_what_it_held() {
        let gauge = Gauge::default();
        gauge.set(2.0);
        {
            let _held = GaugeGuard::hold(&gauge);
            assert_eq!(gauge.get(), 3.0);
        }
        assert_eq!(gauge.get(), 2.0);
    }
}
