//! `-log-level` / `log_level`: Consul's level names.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// Consul's names, any case; `err` and `warning` too.
    pub fn parse(text: &str) -> Result<Level, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "trace" => Ok(Level::Trace),
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "err" | "error" => Ok(Level::Error),
            _ => Err(format!(
                "invalid log level {text:?}: use trace, debug, info, warn or err"
            )),
        }
    }

    /// The name `tracing`'s filters take.
    pub fn directive(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}
