//! One simulation run: a fresh madsim runtime from a seed, a summary line at the end. A panic
//! anywhere in the world (a broken invariant in a node) is a failure of the run, not of the
//! process.

use crate::timeline::{self, TimelineInput};
use crate::world::World;
use concord_node::PlantedBug;
use std::panic::AssertUnwindSafe;
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
    /// The HTML timeline, when asked for.
    pub timeline_html: String,
    /// How long each `expect ... within D` line took to pass.
    pub margins: Vec<crate::world::Margin>,
}

/// Runs `body` in a new simulated world seeded with `seed`.
pub fn run_seed<F, Fut>(seed: u64, bug: PlantedBug, body: F) -> Outcome
where
    F: FnOnce(World) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (World, Result<(), String>)> + Send + 'static,
{
    run_seed_with(seed, bug, false, body)
}

/// As `run_seed`; with `timeline`, the outcome carries the run's HTML timeline.
pub fn run_seed_with<F, Fut>(seed: u64, bug: PlantedBug, timeline: bool, body: F) -> Outcome
where
    F: FnOnce(World) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (World, Result<(), String>)> + Send + 'static,
{
    let wall_start = Instant::now();
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut runtime =
            madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.set_time_limit(RUN_SIM_TIME_MAX);
        runtime.block_on(async move {
            let world = World::new(seed, bug);
            if !timeline {
                world.trace.drop_timeline();
            }
            let (world, result) = body(world).await;
            let (hash, events) = world.trace.summary();
            let html = if timeline {
                render_timeline(&world, seed, result.as_ref().err())
            } else {
                String::new()
            };
            let margins = world.margins.clone();
            (result.err(), hash, events, world.now_ms(), html, margins)
        })
    }));
    let (failure, trace_hash, events, sim_ms, timeline_html, margins) = match run {
        Ok(done) => done,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            (
                Some(format!(
                    "panic: {}",
                    message.unwrap_or_else(|| "(no message)".into())
                )),
                0,
                0,
                0,
                String::new(),
                Vec::new(),
            )
        }
    };
    Outcome {
        seed,
        failure,
        trace_hash,
        events,
        sim_ms,
        wall: wall_start.elapsed(),
        timeline_html,
        margins,
    }
}

fn render_timeline(world: &World, seed: u64, failure: Option<&String>) -> String {
    let nodes = world
        .nodes
        .values()
        .map(|n| (n.name.clone(), n.ip.to_string()))
        .collect();
    let (events, messages, history) = (
        world.trace.events(),
        world.trace.messages(),
        world.recorder.history(),
    );
    let title = match failure {
        Some(f) => format!("seed {seed}: {f}"),
        None => format!("seed {seed}: passed"),
    };
    let input = TimelineInput {
        title,
        nodes,
        events: &events,
        messages: &messages,
        history: &history,
        end_ms: world.now_ms(),
    };
    timeline::render(&input)
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
