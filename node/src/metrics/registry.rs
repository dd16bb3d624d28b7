//! `Registry`: the families of one node, in the order they were made, for the exporters.
//! Families are made when the node starts (`Metrics::new`); writers keep what they were
//! given, so the registry's lock is taken only at start and at scrape time.

use super::family::{Family, NewSeries};
use super::histogram::Histogram;
use super::names::MetricDef;
use super::series::{Counter, Gauge};
use std::sync::{Arc, Mutex};

/// A family with its storage. The exposition's `TYPE` is the definition's kind; the storage
/// says how the value is kept (a `Gauge` may hold a counter read from elsewhere at scrape
/// time, such as the process' CPU seconds).
#[derive(Clone)]
pub enum Entry {
    Counter(Arc<Family<Counter>>),
    Gauge(Arc<Family<Gauge>>),
    Histogram(Arc<Family<Histogram>>),
}

impl Entry {
    pub fn def(&self) -> &'static MetricDef {
        match self {
            Entry::Counter(family) => family.def(),
            Entry::Gauge(family) => family.def(),
            Entry::Histogram(family) => family.def(),
        }
    }

    pub fn overflowed(&self) -> u64 {
        match self {
            Entry::Counter(family) => family.overflowed(),
            Entry::Gauge(family) => family.overflowed(),
            Entry::Histogram(family) => family.overflowed(),
        }
    }
}

impl NewSeries for Counter {
    fn new_series(_def: &'static MetricDef) -> Counter {
        Counter::default()
    }
}

impl NewSeries for Gauge {
    fn new_series(_def: &'static MetricDef) -> Gauge {
        Gauge::default()
    }
}

impl NewSeries for Histogram {
    fn new_series(def: &'static MetricDef) -> Histogram {
        Histogram::new(def.buckets_ms)
    }
}

#[derive(Default)]
pub struct Registry {
    entries: Mutex<Vec<Entry>>,
}

impl Registry {
    pub fn counter(&self, def: &'static MetricDef) -> Arc<Family<Counter>> {
        let family = Arc::new(Family::new(def));
        self.add(Entry::Counter(family.clone()));
        family
    }

    pub fn gauge(&self, def: &'static MetricDef) -> Arc<Family<Gauge>> {
        let family = Arc::new(Family::new(def));
        self.add(Entry::Gauge(family.clone()));
        family
    }

    pub fn histogram(&self, def: &'static MetricDef) -> Arc<Family<Histogram>> {
        assert!(
            !def.buckets_ms.is_empty(),
            "{}: a histogram needs buckets",
            def.name
        );
        let family = Arc::new(Family::new(def));
        self.add(Entry::Histogram(family.clone()));
        family
    }

    /// Every family, in the order they were made.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().clone()
    }

    /// One definition, one family: two families of one name would expose it twice.
    fn add(&self, entry: Entry) {
        let mut entries = self.lock();
        let name = entry.def().name;
        assert!(
            entries.iter().all(|e| e.def().name != name),
            "metric {name} registered twice"
        );
        entries.push(entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
