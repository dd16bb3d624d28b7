//! The agent's log lines for `/v1/agent/monitor` (`concord monitor`): per process, because
//! the tracing subscriber that writes them is global. The CLI's logging layer publishes each
//! formatted line with its level; each attached monitor has a bounded queue of its own.
//! Publishing never waits: a monitor whose queue is full loses the line, counts it, and is
//! told how many it lost before its next line (Consul's "Monitor dropped N logs during
//! monitor request"). The most verbose level any monitor wants is reported to a hook, so the
//! logging layer lets exactly those events through even when the agent logs at a higher level.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;

pub use crate::log_level::LogLevel;

/// Monitors attached at once; the next is refused (each holds a queue and an HTTP stream).
pub const MONITORS_MAX: usize = 16;
/// Lines queued for one monitor before it loses lines (Consul's monitor buffer).
pub const MONITOR_LINES_MAX: usize = 512;

/// One log line, formatted both ways (a monitor asks for text or JSON), newline included.
#[derive(Debug)]
pub struct LogLine {
    pub level: LogLevel,
    pub text: String,
    pub json: String,
}

/// Told the most verbose level wanted (`None`: no monitor attached) whenever it changes.
pub type LevelHook = Box<dyn Fn(Option<LogLevel>) + Send + Sync>;

/// Refused: `MONITORS_MAX` monitors are attached already.
#[derive(Debug, PartialEq, Eq)]
pub struct MonitorsFull;

impl std::fmt::Display for MonitorsFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many monitors attached to this agent: the maximum is {MONITORS_MAX}"
        )
    }
}

struct Attached {
    level: LogLevel,
    lines: mpsc::Sender<Arc<LogLine>>,
    dropped: Arc<AtomicU64>,
}

/// The process's log stream (see the module's comment).
#[derive(Default)]
pub struct LogStream {
    monitors: Mutex<BTreeMap<u64, Attached>>,
    next_id: AtomicU64,
    on_level: OnceLock<LevelHook>,
}

impl LogStream {
    /// The one stream of this process, fed by the agent's logging layer.
    pub fn global() -> &'static Arc<LogStream> {
        static GLOBAL: OnceLock<Arc<LogStream>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(LogStream::default()))
    }

    /// Sets the hook told the wanted level (once; later calls are ignored).
    pub fn on_level_change(&self, hook: LevelHook) {
        let _ = self.on_level.set(hook);
    }

    /// The most verbose level an attached monitor wants.
    pub fn wanted(&self) -> Option<LogLevel> {
        wanted(&lock(&self.monitors))
    }

    /// Hands `line` to every monitor that wants its level; never waits.
    pub fn publish(&self, line: LogLine) {
        let line = Arc::new(line);
        for monitor in lock(&self.monitors).values() {
            if line.level > monitor.level {
                continue;
            }
            if monitor.lines.try_send(line.clone()).is_err() {
                monitor.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Attaches a monitor that receives lines at `level` and less verbose.
    pub fn attach(self: &Arc<Self>, level: LogLevel) -> Result<Monitor, MonitorsFull> {
        let (tx, rx) = mpsc::channel(MONITOR_LINES_MAX);
        let dropped = Arc::new(AtomicU64::new(0));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (before, after) = {
            let mut monitors = lock(&self.monitors);
            if monitors.len() >= MONITORS_MAX {
                return Err(MonitorsFull);
            }
            let before = wanted(&monitors);
            let attached = Attached {
                level,
                lines: tx,
                dropped: dropped.clone(),
            };
            monitors.insert(id, attached);
            (before, wanted(&monitors))
        };
        self.level_changed(before, after);
        Ok(Monitor {
            stream: self.clone(),
            id,
            lines: rx,
            dropped,
        })
    }

    fn detach(&self, id: u64) {
        let (before, after) = {
            let mut monitors = lock(&self.monitors);
            let before = wanted(&monitors);
            monitors.remove(&id);
            (before, wanted(&monitors))
        };
        self.level_changed(before, after);
    }

    /// Called outside the lock: the hook rebuilds tracing's interest cache, which may log.
    fn level_changed(&self, before: Option<LogLevel>, after: Option<LogLevel>) {
        if before != after {
            if let Some(hook) = self.on_level.get() {
                hook(after);
            }
        }
    }
}

fn wanted(monitors: &BTreeMap<u64, Attached>) -> Option<LogLevel> {
    monitors.values().map(|m| m.level).max()
}

/// A poisoned lock only means a logging thread panicked; the map is still whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a monitor receives next.
#[derive(Debug)]
pub enum MonitorItem {
    Line(Arc<LogLine>),
    /// Lines lost since the last item because this monitor's queue was full.
    Dropped(u64),
}

/// One attached monitor; detaches when dropped.
pub struct Monitor {
    stream: Arc<LogStream>,
    id: u64,
    lines: mpsc::Receiver<Arc<LogLine>>,
    dropped: Arc<AtomicU64>,
}

impl Monitor {
    /// The next line, or how many were lost before it.
    pub async fn next(&mut self) -> MonitorItem {
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            return MonitorItem::Dropped(lost);
        }
        match self.lines.recv().await {
            Some(line) => MonitorItem::Line(line),
            // The sender lives in the stream's map until this monitor drops it.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stream.detach(self.id);
    }
}

/// Consul's notice of lost lines, as one line of the stream.
pub fn dropped_notice(count: u64) -> String {
    format!("Monitor dropped {count} logs during monitor request\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: LogLevel, text: &str) -> LogLine {
        LogLine {
            level,
            text: format!("{text}\n"),
            json: format!("{{\"@message\":\"{text}\"}}\n"),
        }
    }

    /// The levels the hook was told, in order.
    type Seen = Arc<Mutex<Vec<Option<LogLevel>>>>;

    fn hooked() -> (Arc<LogStream>, Seen) {
        let stream = Arc::new(LogStream::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        stream.on_level_change(Box::new(move |level| record.lock().unwrap().push(level)));
        (stream, seen)
    }

    #[tokio::test]
    async fn a_monitor_gets_its_level_and_less_verbose_only() {
        let (stream, _) = hooked();
        let mut info = stream.attach(LogLevel::Info).unwrap();
        stream.publish(line(LogLevel::Debug, "hidden"));
        stream.publish(line(LogLevel::Warn, "shown"));
        let MonitorItem::Line(got) = info.next().await else {
            panic!("a line")
        };
        assert_eq!(got.text, "shown\n");
        assert!(
            info.lines.try_recv().is_err(),
            "the debug line was not queued"
        );
    }

    #[tokio::test]
    async fn a_slow_monitor_loses_lines_and_is_told_how_many() {
        let (stream, _) = hooked();
        let mut slow = stream.attach(LogLevel::Trace).unwrap();
        for n in 0..MONITOR_LINES_MAX + 7 {
            stream.publish(line(LogLevel::Info, &format!("l{n}")));
        }
        assert!(matches!(slow.next().await, MonitorItem::Dropped(7)));
        let MonitorItem::Line(first) = slow.next().await else {
            panic!("a line")
        };
        assert_eq!(first.text, "l0\n", "the queued lines stay, in order");
        assert_eq!(
            dropped_notice(7),
            "Monitor dropped 7 logs during monitor request\n"
        );
    }

    #[test]
    fn the_hook_follows_the_most_verbose_monitor() {
        let (stream, seen) = hooked();
        let info = stream.attach(LogLevel::Info).unwrap();
        let trace = stream.attach(LogLevel::Trace).unwrap();
        let warn = stream.attach(LogLevel::Warn).unwrap();
        drop(trace);
        drop(info);
        drop(warn);
        let seen = seen.lock().unwrap().clone();
        let want = [
            Some(LogLevel::Info),
            Some(LogLevel::Trace),
            Some(LogLevel::Info),
            Some(LogLevel::Warn),
            None,
        ];
        assert_eq!(seen, want);
    }

    #[test]
    fn monitors_past_the_maximum_are_refused() {
        let stream = Arc::new(LogStream::default());
        let held: Vec<Monitor> = (0..MONITORS_MAX)
            .map(|_| stream.attach(LogLevel::Info).unwrap())
            .collect();
        assert_eq!(stream.attach(LogLevel::Info).err(), Some(MonitorsFull));
        drop(held);
        assert!(stream.attach(LogLevel::Info).is_ok(), "room again");
        assert_eq!(LogLevel::parse("ERR"), Ok(LogLevel::Error));
    }
}
