//! Consul's JSON shape for `/v1/agent/metrics`: go-metrics' `MetricsSummary`
//! (`{"Timestamp", "Gauges", "Points", "Counters", "Samples"}`), with dotted names
//! (`consul.raft.apply`) and labels as a name-to-value object.
//!
//! Where Concord differs from Consul's in-memory sink:
//! - Figures are cumulative since the agent started, not the last finished 10 s interval;
//!   `Rate` is `Sum` per second of that whole time, and `Timestamp` is the current 10 s
//!   interval's start (go-metrics' format, `2026-12-01 02:30:00 +0000 UTC`).
//! - A counter keeps its total and the number of adds, not each add: `Count` is the adds,
//!   `Sum` the total, and `Min`, `Max` and `Mean` are all `Sum / Count` (`Stddev` 0).
//! - Timers are histograms; `Samples` carries their count, sum, min, max, mean and standard
//!   deviation in milliseconds as Consul's.
//! - Gauges never carry the host name (as Consul with `telemetry.disable_hostname = true`).
//!   `Points` is always empty. The process figures appear under their Prometheus names.

use super::names::MetricDef;
use super::registry::Entry;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsSummary {
    pub timestamp: String,
    pub gauges: Vec<GaugeValue>,
    pub points: Vec<PointValue>,
    pub counters: Vec<SampledValue>,
    pub samples: Vec<SampledValue>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GaugeValue {
    pub name: String,
    pub value: f64,
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PointValue {
    pub name: String,
    pub points: Vec<f64>,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SampledValue {
    pub name: String,
    pub count: u64,
    pub rate: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub stddev: f64,
    pub labels: BTreeMap<String, String>,
}

/// The summary of `entries`, `uptime_secs` after the agent started, at `now_unix_secs`.
pub fn summary(entries: &[Entry], uptime_secs: f64, now_unix_secs: u64) -> MetricsSummary {
    let mut out = MetricsSummary {
        timestamp: go_timestamp(now_unix_secs - now_unix_secs % 10),
        gauges: Vec::new(),
        points: Vec::new(),
        counters: Vec::new(),
        samples: Vec::new(),
    };
    let per_sec = |sum: f64| {
        if uptime_secs > 0.0 {
            sum / uptime_secs
        } else {
            0.0
        }
    };
    for entry in entries {
        let def = entry.def();
        match entry {
            Entry::Gauge(family) => {
                out.gauges
                    .extend(family.collect().into_iter().map(|(values, g)| GaugeValue {
                        name: def.dotted(),
                        value: g.get(),
                        labels: labels(def, &values),
                    }))
            }
            Entry::Counter(family) => {
                for (values, c) in family.collect() {
                    let (sum, count) = (c.total() as f64, c.adds());
                    let mean = if count == 0 { 0.0 } else { sum / count as f64 };
                    let stats = (count, sum, mean, mean, 0.0);
                    out.counters
                        .push(sampled(def, &values, stats, per_sec(sum)));
                }
            }
            Entry::Histogram(family) => {
                for (values, h) in family.collect() {
                    let h = h.snapshot();
                    let stddev = stddev(h.count, h.sum_ms, h.sum_sq_ms);
                    let stats = (h.count, h.sum_ms, h.min_ms, h.max_ms, stddev);
                    out.samples
                        .push(sampled(def, &values, stats, per_sec(h.sum_ms)));
                }
            }
        }
    }
    // go-metrics sorts each list by its name and labels: a stable order for readers.
    out.gauges
        .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    out.counters
        .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    out.samples
        .sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    out
}

/// (count, sum, min, max, stddev) as one sample.
fn sampled(
    def: &MetricDef,
    values: &[String],
    (count, sum, min, max, stddev): (u64, f64, f64, f64, f64),
    rate: f64,
) -> SampledValue {
    SampledValue {
        name: def.dotted(),
        count,
        rate,
        sum,
        min,
        max,
        mean: if count == 0 { 0.0 } else { sum / count as f64 },
        stddev,
        labels: labels(def, values),
    }
}

/// go-metrics' sample standard deviation from the count, sum and sum of squares.
pub fn stddev(count: u64, sum: f64, sum_sq: f64) -> f64 {
    let n = count as f64;
    let div = n * (n - 1.0);
    if div <= 0.0 {
        return 0.0;
    }
    ((n * sum_sq - sum * sum) / div).max(0.0).sqrt()
}

fn labels(def: &MetricDef, values: &[String]) -> BTreeMap<String, String> {
    let names = def.labels.iter().map(|n| n.to_string());
    names.zip(values.iter().cloned()).collect()
}

/// Go's `time.Time.String()` of a UTC time: `2026-12-01 02:30:00 +0000 UTC`.
pub fn go_timestamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let (year, month, day) = crate::time_fmt::civil_from_days(days);
    let secs = unix_secs % 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::names::{Kind, PREFIX};
    use crate::metrics::registry::Registry;
    use std::time::Duration;

    static OPS: MetricDef = MetricDef {
        name: "test.ops",
        help: "Operations by kind.",
        kind: Kind::Histogram,
        labels: &["op"],
        series_max: 4,
        buckets_ms: &[1.0],
        prefixed: true,
    };

    #[test]
    fn timers_become_samples_with_consuls_statistics() {
        let registry = Registry::default();
        let series = registry.histogram(&OPS).with(&["set"]);
        series.observe(Duration::from_millis(2));
        series.observe(Duration::from_millis(4));
        let summary = summary(&registry.entries(), 2.0, 1_764_556_205);
        let sample = &summary.samples[0];
        assert_eq!(sample.name, format!("{PREFIX}.test.ops"));
        assert_eq!(
            (sample.count, sample.sum, sample.min, sample.max),
            (2, 6.0, 2.0, 4.0)
        );
        assert_eq!((sample.mean, sample.rate), (3.0, 3.0));
        assert!(
            (sample.stddev - 2f64.sqrt()).abs() < 1e-9,
            "{}",
            sample.stddev
        );
        assert_eq!(sample.labels.get("op").map(String::as_str), Some("set"));
    }

    #[test]
    fn the_timestamp_is_gos_format_at_the_interval_start() {
        assert_eq!(go_timestamp(1_764_556_200), "2025-12-01 02:30:00 +0000 UTC");
        let summary = summary(&[], 1.0, 1_764_556_209);
        assert_eq!(summary.timestamp, "2025-12-01 02:30:00 +0000 UTC");
    }
}
