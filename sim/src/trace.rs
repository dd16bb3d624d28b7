//! The trace: every event of a run folded into one hash, so that two runs of the same scenario
//! and seed can be compared (they must be equal: determinism), and kept (bounded) with its time
//! for the HTML timeline, together with the messages nodes sent and received.

use std::sync::{Mutex, OnceLock};

/// Events and messages kept for the timeline; later ones are only hashed.
pub const EVENTS_KEPT_MAX: usize = 20_000;
pub const MESSAGES_KEPT_MAX: usize = 40_000;

static TRACE_TO_STDERR: OnceLock<bool> = OnceLock::new();
static MESSAGES_TO_STDERR: OnceLock<bool> = OnceLock::new();

/// Whether the environment variable `name` is set; looked up once per process, not once per
/// event (every message passes here).
fn switch_on(cell: &'static OnceLock<bool>, name: &str) -> bool {
    *cell.get_or_init(|| std::env::var_os(name).is_some())
}

#[derive(Clone, Debug)]
pub struct MessageEvent {
    pub at_ms: u64,
    pub node: String,
    /// The peer's address (`ip:port`).
    pub peer: String,
    pub kind: String,
    pub sent: bool,
}

#[derive(Default)]
struct State {
    hash: u64,
    count: u64,
    /// Whether events and messages are kept for a timeline (a run that draws none keeps
    /// only the hash: every message would otherwise cost three strings).
    keeps_timeline: bool,
    events: Vec<(u64, String)>,
    messages: Vec<MessageEvent>,
}

pub struct Trace {
    state: Mutex<State>,
    origin: madsim::time::Instant,
}

impl Default for Trace {
    fn default() -> Trace {
        Trace::new()
    }
}

impl Trace {
    pub fn new() -> Trace {
        let state = State {
            hash: concord_core::digest::FNV_OFFSET,
            keeps_timeline: true,
            ..State::default()
        };
        Trace {
            state: Mutex::new(state),
            origin: madsim::time::Instant::now(),
        }
    }

    /// Keeps nothing for a timeline from now on (the run draws none); the hash and the count
    /// of events are as before.
    pub fn drop_timeline(&self) {
        let mut state = self.state.lock().expect("trace lock");
        state.keeps_timeline = false;
        state.events = Vec::new();
        state.messages = Vec::new();
    }

    pub fn now_ms(&self) -> u64 {
        madsim::time::Instant::now()
            .duration_since(self.origin)
            .as_millis() as u64
    }

    /// Folds one event (its text) into the hash and keeps it for the timeline.
    pub fn record(&self, event: &str) {
        let at_ms = self.now_ms();
        let mut state = self.state.lock().expect("trace lock");
        let hash = concord_core::digest::fnv1a_extend(state.hash, event.as_bytes());
        state.hash = concord_core::digest::fnv1a_extend(hash, b"\n");
        state.count += 1;
        if state.keeps_timeline && state.events.len() < EVENTS_KEPT_MAX {
            state.events.push((at_ms, event.to_string()));
        }
        if switch_on(&TRACE_TO_STDERR, "CONCORD_SIM_TRACE") {
            eprintln!("trace {at_ms}ms: {event}");
        }
    }

    /// A message a node sent or received (kept for the timeline; not hashed: the events it
    /// causes are).
    pub fn record_message(&self, node: &str, peer: &str, kind: &str, sent: bool) {
        let to_stderr = switch_on(&MESSAGES_TO_STDERR, "CONCORD_SIM_MESSAGES");
        let mut state = self.state.lock().expect("trace lock");
        let kept = state.keeps_timeline && state.messages.len() < MESSAGES_KEPT_MAX;
        if !kept && !to_stderr {
            return;
        }
        let at_ms = self.now_ms();
        if to_stderr {
            eprintln!(
                "message {at_ms}ms: {node} {} {peer} {kind}",
                if sent { "->" } else { "<-" }
            );
        }
        if kept {
            let event = MessageEvent {
                at_ms,
                node: node.into(),
                peer: peer.into(),
                kind: kind.into(),
                sent,
            };
            state.messages.push(event);
        }
    }

    /// (hash, number of events)
    pub fn summary(&self) -> (u64, u64) {
        let state = self.state.lock().expect("trace lock");
        (state.hash, state.count)
    }

    pub fn events(&self) -> Vec<(u64, String)> {
        self.state.lock().expect("trace lock").events.clone()
    }

    pub fn messages(&self) -> Vec<MessageEvent> {
        self.state.lock().expect("trace lock").messages.clone()
    }
}
