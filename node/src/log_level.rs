//! Consul's log level names: one definition for `-log-level`, `log_level` in config files,
//! `/v1/agent/monitor?loglevel=` and the logging's filters. Outside `log_stream` so that the
//! simulator's build (which has no log stream) plans agents with it too.

/// Consul's log levels, least verbose first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// Consul's names in any case (`err` and `warning` too): `-log-level`, `log_level`, a
    /// monitor's `?loglevel=`.
    pub fn parse(text: &str) -> Result<LogLevel, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(LogLevel::Trace),
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "err" | "error" => Ok(LogLevel::Error),
            _ => Err(format!(
                "invalid log level {text:?}: use trace, debug, info, warn or err"
            )),
        }
    }

    /// The name `tracing`'s filters take.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    pub fn from_tracing(level: &tracing::Level) -> LogLevel {
        match *level {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::TRACE => LogLevel::Trace,
        }
    }
}
