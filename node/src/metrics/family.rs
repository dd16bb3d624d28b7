//! `Family`: one metric's series, one per label set, with a bound on how many label sets it
//! keeps. Past the bound, new label sets share one series whose every label is `other`, and
//! the family counts how often that happened: remote input (paths, methods) can never grow
//! the registry without end.
//!
//! A lookup hashes the label values and compares them in place: no allocation unless the
//! label set is new. Hot paths that know their label sets up front keep the series they get.

use super::names::MetricDef;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The label value every label takes in the series that overflowing label sets share.
pub const OVERFLOW_LABEL_VALUE: &str = "other";

/// How a family makes a new series.
pub trait NewSeries: Send + Sync + 'static {
    fn new_series(def: &'static MetricDef) -> Self;
}

pub struct Family<S> {
    def: &'static MetricDef,
    /// Label values (in `def.labels` order) with their series, in arrival order.
    series: RwLock<Series<S>>,
    overflow: Arc<S>,
    overflowed: AtomicU64,
}

struct Series<S> {
    entries: Vec<(Box<[String]>, Arc<S>)>,
    /// Hash of the label values to indexes into `entries`. A fixed hasher, not `RandomState`:
    /// making a `RandomState` moves the keys of every one made after it on the thread, so a
    /// family made in the simulator would change the order of other maps there.
    by_hash: HashMap<u64, Vec<usize>, BuildHasherDefault<DefaultHasher>>,
}

impl<S: NewSeries> Family<S> {
    pub fn new(def: &'static MetricDef) -> Family<S> {
        assert!(
            def.series_max >= 1,
            "{}: series_max must be at least 1",
            def.name
        );
        let series = Series {
            entries: Vec::new(),
            by_hash: HashMap::default(),
        };
        Family {
            def,
            series: RwLock::new(series),
            overflow: Arc::new(S::new_series(def)),
            overflowed: AtomicU64::new(0),
        }
    }

    pub fn def(&self) -> &'static MetricDef {
        self.def
    }

    /// The series of `labels` (values in `def.labels` order), made if new and within bound.
    /// A wrong number of values is the caller's mistake (a bug here, not remote input).
    pub fn with(&self, labels: &[&str]) -> Arc<S> {
        assert_eq!(
            labels.len(),
            self.def.labels.len(),
            "{}: label count",
            self.def.name
        );
        let hash = hash_labels(labels);
        if let Some(found) = read(&self.series).find(hash, labels) {
            return found;
        }
        let mut series = write(&self.series);
        if let Some(found) = series.find(hash, labels) {
            return found;
        }
        if series.entries.len() >= self.def.series_max {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return self.overflow.clone();
        }
        let made = Arc::new(S::new_series(self.def));
        let values = labels.iter().map(|v| v.to_string()).collect();
        let index = series.entries.len();
        series.by_hash.entry(hash).or_default().push(index);
        series.entries.push((values, made.clone()));
        made
    }

    /// Every series with its label values, sorted by them; the overflow series last, if used.
    pub fn collect(&self) -> Vec<(Vec<String>, Arc<S>)> {
        let mut all: Vec<_> = read(&self.series)
            .entries
            .iter()
            .map(|(values, series)| (values.to_vec(), series.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        if self.overflowed() > 0 {
            let other = vec![OVERFLOW_LABEL_VALUE.to_string(); self.def.labels.len()];
            all.push((other, self.overflow.clone()));
        }
        all
    }

    /// Lookups of new label sets folded into the overflow series.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

impl<S> Series<S> {
    fn find(&self, hash: u64, labels: &[&str]) -> Option<Arc<S>> {
        let indexes = self.by_hash.get(&hash)?;
        indexes.iter().find_map(|&i| {
            let (values, series) = &self.entries[i];
            let same = values.iter().map(String::as_str).eq(labels.iter().copied());
            same.then(|| series.clone())
        })
    }
}

fn hash_labels(labels: &[&str]) -> u64 {
    let mut hasher = DefaultHasher::new();
    labels.hash(&mut hasher);
    hasher.finish()
}

/// A poisoned lock still holds whole entries (each push is one step): use them.
fn read<S>(lock: &RwLock<Series<S>>) -> std::sync::RwLockReadGuard<'_, Series<S>> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<S>(lock: &RwLock<Series<S>>) -> std::sync::RwLockWriteGuard<'_, Series<S>> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::names::{Kind, MetricDef};
    use crate::metrics::series::Counter;

    static TWO_SERIES: MetricDef = MetricDef {
        name: "test.bounded",
        help: "A test family of at most two label sets.",
        kind: Kind::Counter,
        labels: &["path"],
        series_max: 2,
        buckets_ms: &[],
        prefixed: true,
    };

    #[test]
    fn the_same_labels_find_the_same_series() {
        let family: Family<Counter> = Family::new(&TWO_SERIES);
        family.with(&["/a"]).inc();
        family.with(&["/a"]).inc();
        let collected = family.collect();
        assert_eq!(collected.len(), 1);
        assert_eq!(collected[0].1.total(), 2);
    }

    #[test]
    fn label_sets_past_the_bound_fold_into_other_and_are_counted() {
        let family: Family<Counter> = Family::new(&TWO_SERIES);
        for path in ["/a", "/b", "/c", "/d", "/a"] {
            family.with(&[path]).inc();
        }
        let collected = family.collect();
        let labels: Vec<_> = collected
            .iter()
            .map(|(l, s)| (l[0].as_str(), s.total()))
            .collect();
        assert_eq!(labels, vec![("/a", 2), ("/b", 1), ("other", 2)]);
        assert_eq!(family.overflowed(), 2);
    }
}
