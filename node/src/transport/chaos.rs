//! Duplicated and reordered messages, for the simulator: TCP (and madsim's model of it) never
//! duplicates or reorders within a connection, but retries, reconnections and proxies do, and
//! Raft must not care. The knobs are shared, so the simulator turns them while nodes run.

use concord_core::rng::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct ChaosKnobs {
    /// Per thousand frames sent twice.
    pub duplicate_per_mille: AtomicU64,
    /// Per thousand frames held back for up to `delay_ms_max`, so later ones overtake them.
    pub delay_per_mille: AtomicU64,
    pub delay_ms_max: AtomicU64,
}

impl ChaosKnobs {
    pub fn set(&self, duplicate_per_mille: u64, delay_per_mille: u64, delay_ms_max: u64) {
        self.duplicate_per_mille
            .store(duplicate_per_mille.min(1000), Ordering::Relaxed);
        self.delay_per_mille
            .store(delay_per_mille.min(1000), Ordering::Relaxed);
        self.delay_ms_max
            .store(delay_ms_max.max(1), Ordering::Relaxed);
    }
}

/// What to do with one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub duplicate: bool,
    pub delay_ms: Option<u64>,
}

pub struct Chaos {
    knobs: Arc<ChaosKnobs>,
    rng: Rng,
}

impl Chaos {
    pub fn new(knobs: Arc<ChaosKnobs>, seed: u64) -> Chaos {
        Chaos {
            knobs,
            rng: Rng::new(seed ^ 0xc4a0_5000),
        }
    }

    pub fn plan(&mut self) -> Plan {
        let duplicate_per_mille = self.knobs.duplicate_per_mille.load(Ordering::Relaxed);
        let delay_per_mille = self.knobs.delay_per_mille.load(Ordering::Relaxed);
        if duplicate_per_mille == 0 && delay_per_mille == 0 {
            return Plan::default();
        }
        let duplicate = self.rng.chance(duplicate_per_mille, 1000);
        let delayed = self.rng.chance(delay_per_mille, 1000);
        let delay_ms_max = self.knobs.delay_ms_max.load(Ordering::Relaxed).max(1);
        Plan {
            duplicate,
            delay_ms: delayed.then(|| self.rng.range(1, delay_ms_max + 1)),
        }
    }
}
