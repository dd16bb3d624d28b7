//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` per family,
//! one line per series; histograms as cumulative `_bucket{le=..}` lines ending at `+Inf`, then
//! `_sum` and `_count`. Help text escapes `\` and newlines; label values also escape `"`.

use super::histogram::HistogramSnapshot;
use super::names::{Kind, MetricDef};
use super::registry::Entry;
use std::fmt::Write;

/// The `Content-Type` of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every family of `entries`, in order.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for entry in entries {
        let def = entry.def();
        let name = def.prometheus();
        header(&mut out, &name, def);
        match entry {
            Entry::Counter(family) => {
                for (values, series) in family.collect() {
                    sample(
                        &mut out,
                        &name,
                        "",
                        &labels(def, &values, None),
                        series.total() as f64,
                    );
                }
            }
            Entry::Gauge(family) => {
                for (values, series) in family.collect() {
                    sample(
                        &mut out,
                        &name,
                        "",
                        &labels(def, &values, None),
                        series.get(),
                    );
                }
            }
            Entry::Histogram(family) => {
                for (values, series) in family.collect() {
                    histogram(&mut out, &name, def, &values, &series.snapshot());
                }
            }
        }
    }
    out
}

fn header(out: &mut String, name: &str, def: &MetricDef) {
    let kind = match def.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
    };
    let _ = writeln!(out, "# HELP {name} {}", escape_help(def.help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(
    out: &mut String,
    name: &str,
    def: &MetricDef,
    values: &[String],
    h: &HistogramSnapshot,
) {
    for (bound, count) in &h.cumulative {
        let le = format_value(*bound);
        sample(
            out,
            name,
            "_bucket",
            &labels(def, values, Some(&le)),
            *count as f64,
        );
    }
    let plain = labels(def, values, None);
    sample(
        out,
        name,
        "_bucket",
        &labels(def, values, Some("+Inf")),
        h.count as f64,
    );
    sample(out, name, "_sum", &plain, h.sum_ms);
    sample(out, name, "_count", &plain, h.count as f64);
}

fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, value: f64) {
    let _ = writeln!(out, "{name}{suffix}{labels} {}", format_value(value));
}

/// `{a="x",le="0.5"}`, or nothing when there are no labels.
fn labels(def: &MetricDef, values: &[String], le: Option<&str>) -> String {
    let pairs = def.labels.iter().zip(values.iter().map(String::as_str));
    let pairs: Vec<(&str, &str)> = pairs
        .map(|(k, v)| (*k, v))
        .chain(le.map(|le| ("le", le)))
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Go's formatting of floats as Prometheus prints them: `+Inf`, `-Inf`, `NaN`, else the
/// shortest exact decimal.
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}

/// Help text: `\` as `\\`, a newline as `\n`.
pub fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values: `\` as `\\`, `"` as `\"`, a newline as `\n`.
pub fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::registry::Registry;
    use std::time::Duration;

    static PATHS: MetricDef = MetricDef {
        name: "test.requests",
        help: "Requests\nby \\path.",
        kind: Kind::Histogram,
        labels: &["path"],
        series_max: 4,
        buckets_ms: &[1.0, 10.0],
        prefixed: true,
    };

    #[test]
    fn help_and_label_values_are_escaped() {
        assert_eq!(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
        assert_eq!(escape_label_value("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_then_sum_and_count() {
        let registry = Registry::default();
        let family = registry.histogram(&PATHS);
        let series = family.with(&["/v1/kv/\"x\""]);
        for ms in [0, 5, 5, 20] {
            series.observe(Duration::from_millis(ms));
        }
        let text = render(&registry.entries());
        let expected = "# HELP consul_test_requests Requests\\nby \\\\path.\n\
            # TYPE consul_test_requests histogram\n\
            consul_test_requests_bucket{path=\"/v1/kv/\\\"x\\\"\",le=\"1\"} 1\n\
            consul_test_requests_bucket{path=\"/v1/kv/\\\"x\\\"\",le=\"10\"} 3\n\
            consul_test_requests_bucket{path=\"/v1/kv/\\\"x\\\"\",le=\"+Inf\"} 4\n\
            consul_test_requests_sum{path=\"/v1/kv/\\\"x\\\"\"} 30\n\
            consul_test_requests_count{path=\"/v1/kv/\\\"x\\\"\"} 4\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn values_are_formatted_as_prometheus_reads_them() {
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
