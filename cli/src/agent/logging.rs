//! The agent's log output, in Consul's (hclog's) shape:
//! `2026-11-24T06:54:26.123Z [WARN]  raft: no known peers, aborting election`,
//! or one JSON object per line with `-log-json`.

use concord_node::time_fmt::civil_from_days;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

pub use concord_config::Level;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `level` for debugging.
pub fn init(level: Level, json: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(filter_spec(level)));
    // Colours only on a terminal: log files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stdout);
    // A second init (only possible in tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder.event_format(JsonFormat).try_init()
    } else {
        builder.event_format(HclogFormat).try_init()
    };
}

/// The HTTP stack's own debug output is noise next to the agent's; hickory (DNS) logs every
/// query at info, which at DNS rates would drown the agent's lines.
fn filter_spec(level: Level) -> String {
    let lvl = level.directive();
    format!(
        "{lvl},hyper=warn,h2=warn,tower=warn,tower_http=warn,axum=warn,mio=warn,\
         hickory_server=warn,hickory_net=warn,hickory_proto=warn"
    )
}

struct HclogFormat;

impl<S, N> FormatEvent<S, N> for HclogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let tag = format!("[{}]", level_name(event.metadata().level()));
        write!(writer, "{} {tag:<7} ", timestamp(SystemTime::now()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

struct JsonFormat;

impl<S, N> FormatEvent<S, N> for JsonFormat
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
        object.insert("@timestamp".into(), timestamp(SystemTime::now()).into());
        let line = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
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

    #[test]
    fn consul_level_names() {
        assert_eq!(Level::parse("ERR"), Ok(Level::Error));
        assert_eq!(Level::parse("warn"), Ok(Level::Warn));
        assert_eq!(Level::parse("Debug"), Ok(Level::Debug));
        assert!(Level::parse("loud").is_err());
    }
}
