//! One simulation run: a fresh madsim runtime from a seed, a summary line at the end.

use crate::world::World;
use concord_node::PlantedBug;
use std::time::{Duration, Instant};

/// The most simulated time one run may take before it is called stuck.
pub const RUN_SIM_TIME_MAX: Duration = Duration::from_secs(3600);

pub struct Outcome {
    pub seed: u64,
    pub failure: Option<String>,
    pub trace_hash: u64,
    pub events: u64,
    pub sim_ms: u64,
    pub wall: Duration,
}

/// Runs `body` in a new simulated world seeded with `seed`.
pub fn run_seed<F, Fut>(seed: u64, bug: PlantedBug, body: F) -> Outcome
where
    F: FnOnce(World) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (World, Result<(), String>)> + Send + 'static,
{
    let wall_start = Instant::now();
    let mut runtime =
        madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.set_time_limit(RUN_SIM_TIME_MAX);
    let (failure, trace_hash, events, sim_ms) = runtime.block_on(async move {
        let world = World::new(seed, bug);
        let (world, result) = body(world).await;
        let (hash, events) = world.trace.summary();
        (result.err(), hash, events, world.now_ms())
    });
    Outcome {
        seed,
        failure,
        trace_hash,
        events,
        sim_ms,
        wall: wall_start.elapsed(),
    }
}

impl Outcome {
    pub fn summary(&self, what: &str) -> String {
        let status = if self.failure.is_some() {
            "FAILED"
        } else {
            "ok"
        };
        format!(
            "{status} {what} seed={} sim_time={:.1}s wall={:.2}s events={} trace={:016x}",
            self.seed,
            self.sim_ms as f64 / 1000.0,
            self.wall.as_secs_f64(),
            self.events,
            self.trace_hash
        )
    }
}
