//! The agent's log output, in Consul's (hclog's) shape:
//! `2026-11-24T06:54:26.123Z [WARN]  raft: no known peers, aborting election`,
//! or one JSON object per line with `-log-json`. The same lines feed `concord monitor`
//! (`concord_node::log_stream`) through a layer with a filter of its own.

use concord_node::log_stream::{LogLevel, LogLine, LogStream};
use concord_node::time_fmt::civil_from_days;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter};

pub use concord_config::Level;

/// Changes the level of the agent's own output (`concord reload`); set by `init`.
type SetLevel = Box<dyn Fn(Level) -> Result<(), String> + Send + Sync>;
static SET_LEVEL: OnceLock<SetLevel> = OnceLock::new();
/// `RUST_LOG` was set at start: it keeps deciding the output, reload or not.
static RUST_LOG_SET: OnceLock<bool> = OnceLock::new();

/// Installs the global subscriber: the agent's output (stdout) at `level`, and the monitors'
/// layer feeding `LogStream::global()` at the most verbose level a monitor asked for (off
/// while none is attached). Each layer has its own filter, so `concord monitor
/// -log-level=debug` sees debug lines of an agent logging at info. `RUST_LOG`, when set,
/// overrides `level` for debugging.
pub fn init(level: Level, json: bool) {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok());
    let rust_log_set = rust_log.is_some();
    let stdout_filter = rust_log.unwrap_or_else(|| EnvFilter::new(filter_spec(level.directive())));
    let (stdout_filter, stdout_control) = reload::Layer::new(stdout_filter);
    let stdout = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .event_format(LineFormat { json })
        .with_filter(stdout_filter);
    let (monitor_filter, monitor_control) = reload::Layer::new(EnvFilter::new("off"));
    let monitors = MonitorLayer.with_filter(monitor_filter);
    let installed = tracing_subscriber::registry()
        .with(stdout)
        .with(monitors)
        .try_init();
    // A second init (only possible in tests) keeps the first subscriber and its controls.
    if installed.is_err() {
        return;
    }
    // `reload` rebuilds tracing's callsite interest cache, so call sites disabled while no
    // monitor wanted them start firing (and stop again when it goes).
    LogStream::global().on_level_change(Box::new(move |wanted| {
        let spec = wanted.map_or_else(|| "off".to_string(), |l| filter_spec(l.directive()));
        let _ = monitor_control.reload(EnvFilter::new(spec));
    }));
    let set_level: SetLevel = Box::new(move |level| {
        let filter = EnvFilter::new(filter_spec(level.directive()));
        stdout_control.reload(filter).map_err(|e| e.to_string())
    });
    let _ = SET_LEVEL.set(set_level);
    let _ = RUST_LOG_SET.set(rust_log_set);
}

/// Sets the level of the agent's output (a reload); `Ok(false)` when `RUST_LOG` decides it.
pub fn set_level(level: Level) -> Result<bool, String> {
    if RUST_LOG_SET.get().copied().unwrap_or(false) {
        return Ok(false);
    }
    let set = SET_LEVEL.get().ok_or("logging is not initialized")?;
    set(level).map(|()| true)
}

/// The HTTP stack's own debug output is noise next to the agent's; hickory (DNS) logs every
/// query at info, which at DNS rates would drown the agent's lines. The monitors get the same
/// rule: their own chunks must not feed them hyper's lines about writing those chunks.
fn filter_spec(lvl: &str) -> String {
    format!(
        "{lvl},hyper=warn,h2=warn,tower=warn,tower_http=warn,axum=warn,mio=warn,\
         hickory_server=warn,hickory_net=warn,hickory_proto=warn"
    )
}

/// The agent's output: one line per event, hclog's text or JSON.
struct LineFormat {
    json: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = SystemTime::now();
        let line = match self.json {
            true => json_line(event, now),
            false => text_line(event, now),
        };
        writer.write_str(&line)
    }
}

/// Feeds every event its filter lets through to the monitors, formatted both ways.
struct MonitorLayer;

impl<S: Subscriber> Layer<S> for MonitorLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let now = SystemTime::now();
        LogStream::global().publish(LogLine {
            level: LogLevel::from_tracing(event.metadata().level()),
            text: text_line(event, now),
            json: json_line(event, now),
        });
    }
}

/// `2026-11-24T06:54:26.123Z [WARN]  raft: no known peers`, fields as `name=value`
/// (strings quoted, as tracing's default fields).
fn text_line(event: &Event<'_>, now: SystemTime) -> String {
    let tag = format!("[{}]", level_name(event.metadata().level()));
    let mut fields = TextFields(String::new());
    event.record(&mut fields);
    format!("{} {tag:<7} {}\n", timestamp(now), fields.0)
}

/// hclog's JSON: `@level`, `@message`, `@module`, `@timestamp` and the event's fields.
fn json_line(event: &Event<'_>, now: SystemTime) -> String {
    let meta = event.metadata();
    let mut fields = JsonFields(serde_json::Map::new());
    event.record(&mut fields);
    let mut object = fields.0;
    let message = object.remove("message").unwrap_or_default();
    object.insert(
        "@level".into(),
        level_name(meta.level()).to_ascii_lowercase().into(),
    );
    object.insert("@message".into(), message);
    object.insert("@module".into(), meta.target().into());
    object.insert("@timestamp".into(), timestamp(now).into());
    let line = serde_json::to_string(&serde_json::Value::Object(object)).unwrap_or_default();
    line + "\n"
}

struct TextFields(String);

impl Visit for TextFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // The `log` crate's records carry their origin as `log.*` fields: not shown, as
        // tracing's default fields do not show them.
        if name.starts_with("log.") {
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = match name {
            "message" => write!(self.0, "{value:?}"),
            _ => write!(self.0, "{}={value:?}", name.trim_start_matches("r#")),
        };
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::TRACE => "TRACE",
        tracing::Level::DEBUG => "DEBUG",
        tracing::Level::INFO => "INFO",
        tracing::Level::WARN => "WARN",
        tracing::Level::ERROR => "ERROR",
    }
}

/// RFC 3339 in UTC with milliseconds: `2026-11-24T06:54:26.123Z`.
pub fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_with_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_503_266_123);
        assert_eq!(timestamp(t), "2026-11-24T06:54:26.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn the_monitor_layer_publishes_text_and_json_lines_at_the_monitors_level() {
        let subscriber = tracing_subscriber::registry().with(MonitorLayer);
        let mut monitor = LogStream::global().attach(LogLevel::Debug).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("too verbose");
            tracing::debug!(node = "n1", port = 8500_u64, "agent: started");
        });
        let concord_node::log_stream::MonitorItem::Line(line) = monitor.next().await else {
            panic!("a line")
        };
        assert!(
            line.text
                .ends_with(" [DEBUG] agent: started node=\"n1\" port=8500\n"),
            "{}",
            line.text
        );
        let json: serde_json::Value = serde_json::from_str(&line.json).unwrap();
        assert_eq!(json["@level"], "debug");
        assert_eq!(json["@message"], "agent: started");
        assert_eq!(json["port"], 8500);
    }

    #[test]
    fn consul_level_names() {
        assert_eq!(Level::parse("ERR"), Ok(Level::Error));
        assert_eq!(Level::parse("warn"), Ok(Level::Warn));
        assert_eq!(Level::parse("Debug"), Ok(Level::Debug));
        assert!(Level::parse("loud").is_err());
    }
}
