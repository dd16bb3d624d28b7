//! Every client operation with its invoke and return time and its result, recorded by the
//! `Recorder` that every client (the scenario's and the load's) calls through.

use crate::trace::Trace;
use crate::world::Handle;
use concord_core::agent::{ApiError, ApiResult, Request};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a client waits for one request.
pub const CLIENT_TIMEOUT_MS: u64 = 8_000;

#[derive(Clone, Debug)]
pub struct Operation {
    /// Which client issued it (0: the scenario itself).
    pub client: u64,
    pub node: String,
    pub request: Request,
    pub result: ApiResult,
    pub invoke_ms: u64,
    pub return_ms: u64,
    /// How many times `node` had been (re)started when the operation was sent: a restarted
    /// server replays its log, so its stale reads may go back across a restart, not within one.
    pub epoch: u64,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub operations: Vec<Operation>,
}

#[derive(Clone)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    epochs: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
    trace: Arc<Trace>,
    origin: madsim::time::Instant,
}

impl Recorder {
    pub fn new(trace: Arc<Trace>) -> Recorder {
        Recorder {
            history: Arc::default(),
            epochs: Arc::default(),
            trace,
            origin: madsim::time::Instant::now(),
        }
    }

    /// Simulated milliseconds since the world began.
    pub fn now_ms(&self) -> u64 {
        madsim::time::Instant::now()
            .duration_since(self.origin)
            .as_millis() as u64
    }

    /// A node was (re)started: its later operations belong to a new epoch.
    pub fn new_epoch(&self, node: &str) {
        *self
            .epochs
            .lock()
            .expect("epochs lock")
            .entry(node.to_string())
            .or_default() += 1;
    }

    pub fn history(&self) -> History {
        self.history.lock().expect("history lock").clone()
    }

    /// Sends `request` to `node`'s agent (as its local HTTP API would) and records it.
    pub async fn call(
        &self,
        client: u64,
        node: &str,
        handle: Option<Handle>,
        request: Request,
    ) -> ApiResult {
        let invoke_ms = self.now_ms();
        let epoch = self
            .epochs
            .lock()
            .expect("epochs lock")
            .get(node)
            .copied()
            .unwrap_or(0);
        let result = match handle {
            None => Err(ApiError::Unavailable(format!("{node} is down"))),
            Some(handle) => {
                let call = handle.request(request.clone());
                match madsim::time::timeout(Duration::from_millis(CLIENT_TIMEOUT_MS), call).await {
                    Ok(result) => result,
                    Err(_) => Err(ApiError::Timeout),
                }
            }
        };
        let return_ms = self.now_ms();
        let summary = match &result {
            Ok(r) => debug_prefix(r, SUMMARY_CHARS_MAX),
            Err(e) => format!("error: {e}"),
        };
        self.trace.record(&format!(
            "{invoke_ms}..{return_ms} c{client} {node} {} -> {summary}",
            request.kind()
        ));
        let op = Operation {
            client,
            node: node.to_string(),
            request,
            result: result.clone(),
            invoke_ms,
            return_ms,
            epoch,
        };
        self.history
            .lock()
            .expect("history lock")
            .operations
            .push(op);
        result
    }
}

/// The characters of a response kept in its trace line.
const SUMMARY_CHARS_MAX: usize = 120;

/// The first `chars_max` characters of `value`'s `Debug` text. Formatting stops once they are
/// written: a long listing is not formatted whole to keep its start.
fn debug_prefix(value: &impl std::fmt::Debug, chars_max: usize) -> String {
    let mut prefix = Prefix {
        text: String::new(),
        chars_left: chars_max,
    };
    // An error here only means the prefix filled up.
    let _ = std::fmt::write(&mut prefix, format_args!("{value:?}"));
    debug_assert!(prefix.text.chars().count() <= chars_max);
    prefix.text
}

/// A `fmt::Write` that keeps a bounded number of characters, then refuses more.
struct Prefix {
    text: String,
    chars_left: usize,
}

impl std::fmt::Write for Prefix {
    fn write_str(&mut self, piece: &str) -> std::fmt::Result {
        for c in piece.chars() {
            if self.chars_left == 0 {
                return Err(std::fmt::Error);
            }
            self.text.push(c);
            self.chars_left -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod prefix_tests {
    use super::debug_prefix;

    #[test]
    fn keeps_the_first_characters_of_the_whole_text() {
        let long: Vec<String> = (0..100).map(|i| format!("key-é{i}")).collect();
        let whole = format!("{long:?}");
        for chars_max in [0, 1, 7, 120, 10_000] {
            let expected: String = whole.chars().take(chars_max).collect();
            assert_eq!(debug_prefix(&long, chars_max), expected);
        }
    }
}
