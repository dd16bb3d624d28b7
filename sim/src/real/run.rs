//! A run in the real world: a scenario's text against real agents, from a seed (the seed
//! draws what the simulator draws with it: machines' Raft sizes, the load's operations, the
//! switch's losses; the kernel's scheduling is not ours, so a real run does not replay
//! exactly). The world is torn down at the end, whatever happened; a failed run keeps its
//! machines' directories (agent logs) and writes its history next to them.

use crate::scenario::run_scenario;
use crate::world::{Margin, RealOptions, World};
use concord_node::PlantedBug;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The deadline scale of the real world, in percent, unless `--time-factor` says: real
/// agents start, elect and converge more slowly than simulated ones with the same timings
/// (process start, fsync, the kernel's scheduling on 2 cores); see README "Two worlds".
pub const TIME_FACTOR_PERCENT_DEFAULT: u64 = 200;
/// The most wall time one real run may take before it is called stuck (the longest
/// simulated run of the files takes about 3 minutes).
pub const RUN_WALL_MS_MAX: u64 = 20 * 60 * 1000;

/// The outcome of one real run.
pub struct RealOutcome {
    pub seed: u64,
    pub failure: Option<String>,
    pub wall: Duration,
    /// The switch's counters at the end.
    pub network: String,
    /// Where the machines' directories (and, on failure, the history) are.
    pub dir: PathBuf,
    /// How long each `expect ... within D` line took to pass.
    pub margins: Vec<Margin>,
}

impl RealOutcome {
    pub fn summary(&self, what: &str) -> String {
        let status = match self.failure {
            Some(_) => "FAILED",
            None => "ok",
        };
        format!(
            "{status} real {what} seed={} wall={:.1}s network: {}",
            self.seed,
            self.wall.as_secs_f64(),
            self.network
        )
    }
}

/// Runs `text` in a new real world numbered `options.world_index`.
pub fn run_text(text: &str, seed: u64, bug: PlantedBug, options: RealOptions) -> RealOutcome {
    let wall = Instant::now();
    let dir = options.dir.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let text = text.to_string();
    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async move {
            let mut world = World::new_real(seed, bug, options);
            let body = run_scenario(&mut world, &text);
            let bound = Duration::from_millis(RUN_WALL_MS_MAX);
            let result = match tokio::time::timeout(bound, body).await {
                Ok(result) => {
                    result.map_err(|f| format!("line {}: {}\n  {}", f.line, f.text, f.reason))
                }
                Err(_) => Err(format!("stuck: no end within {RUN_WALL_MS_MAX} ms")),
            };
            world.shut_down().await;
            if result.is_err() {
                write_history(&world);
            }
            let margins = world.margins.clone();
            (result.err(), world.network_counters(), margins)
        })
    }));
    runtime.shutdown_timeout(Duration::from_secs(5));
    let (failure, network, margins) = match run {
        Ok(done) => done,
        Err(panic) => (Some(panic_text(panic)), String::new(), Vec::new()),
    };
    RealOutcome {
        seed,
        failure,
        wall: wall.elapsed(),
        network,
        dir,
        margins,
    }
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
    format!(
        "panic: {}",
        message.unwrap_or_else(|| "(no message)".into())
    )
}

/// The history of a failed run, one operation per line, beside the agents' logs.
fn write_history(world: &World) {
    let history = world.recorder.history();
    let mut text = String::new();
    for op in &history.operations {
        text.push_str(&format!(
            "{}..{} c{} {} {:?} -> {:?}\n",
            op.invoke_ms, op.return_ms, op.client, op.node, op.request, op.result
        ));
    }
    let dir = world.backend_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("history.txt"), text);
}
