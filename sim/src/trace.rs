//! The trace hash: every event of a run folded into one number, so that two runs of the same
//! scenario and seed can be compared (they must be equal: determinism).

use std::sync::Mutex;

#[derive(Default)]
pub struct Trace {
    state: Mutex<(u64, u64)>,
}

impl Trace {
    pub fn new() -> Trace {
        Trace {
            state: Mutex::new((0xcbf2_9ce4_8422_2325, 0)),
        }
    }

    /// Folds one event (its text) into the hash.
    pub fn record(&self, event: &str) {
        let mut state = self.state.lock().expect("trace lock");
        for b in event.bytes().chain([b'\n']) {
            state.0 = (state.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        state.1 += 1;
        if std::env::var_os("CONCORD_SIM_TRACE").is_some() {
            eprintln!("trace: {event}");
        }
    }

    /// (hash, number of events)
    pub fn summary(&self) -> (u64, u64) {
        *self.state.lock().expect("trace lock")
    }
}
