//! The fuzzer: every seed is one world: a cluster, a random schedule of faults with client load
//! (the safety phase), then faults stop and the cluster must elect a leader and take a write
//! (the liveness phase). Safety is checked all along, acknowledged writes at the end.

use crate::checker::acked_writes;
use crate::runner::{run_seed, Outcome};
use crate::world::{NodeSpec, World};
use concord_core::agent::{Consistency, Request};
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_node::PlantedBug;
use std::time::{Duration, Instant};

/// Simulated time of the safety phase.
pub const SAFETY_PHASE_MS: u64 = 20_000;
/// Bound of the liveness phase: a leader and a committed write within this.
pub const LIVENESS_BOUND_MS: u64 = 15_000;

pub fn fuzz_range(start: u64, end: u64, bug: PlantedBug, stop_on_failure: bool) -> i32 {
    println!("fuzz seeds={start}..{end} bug={bug:?}");
    let wall = Instant::now();
    let (mut failures, mut sim_ms, mut ran) = (0u64, 0u64, 0u64);
    for seed in start..end {
        let outcome = run_seed(seed, bug, move |world| fuzz_world(world));
        ran += 1;
        sim_ms += outcome.sim_ms;
        if let Some(failure) = &outcome.failure {
            failures += 1;
            report_failure(&outcome, failure, bug);
            if stop_on_failure {
                break;
            }
        }
        if ran % 50 == 0 {
            println!(
                "progress: {ran} seeds, {failures} failed, {:.0}s wall",
                wall.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "fuzz done: seeds={ran} failed={failures} sim_time={:.0}s wall={:.1}s",
        sim_ms as f64 / 1000.0,
        wall.elapsed().as_secs_f64()
    );
    i32::from(failures > 0)
}

fn report_failure(outcome: &Outcome, failure: &str, bug: PlantedBug) {
    println!("{}", outcome.summary("fuzz"));
    println!("  failed: {failure}");
    let bug_flag = if bug == PlantedBug::None {
        String::new()
    } else {
        " --bug vote-not-durable".to_string()
    };
    println!(
        "  replay: cargo xtask sim fuzz --seeds {}..{}{bug_flag}",
        outcome.seed,
        outcome.seed + 1
    );
}

/// One fuzz world, for tests that drive `run_seed` themselves.
pub async fn fuzz_world_for_test(world: World) -> (World, Result<(), String>) {
    fuzz_world(world).await
}

async fn fuzz_world(mut world: World) -> (World, Result<(), String>) {
    let result = fuzz_phases(&mut world).await;
    (world, result)
}

async fn fuzz_phases(world: &mut World) -> Result<(), String> {
    let servers = form_cluster(world).await?;
    safety_phase(world, &servers).await?;
    liveness_phase(world, &servers).await?;
    let mut violations = world.checker.violations();
    violations.extend(acked_writes::check(
        &world.history,
        &world.checker.applied(),
    ));
    match violations.first() {
        Some(v) => Err(v.clone()),
        None => Ok(()),
    }
}

async fn form_cluster(world: &mut World) -> Result<Vec<String>, String> {
    let count = if world.rng.chance(1, 2) { 3 } else { 5 };
    let servers: Vec<String> = (1..=count).map(|i| format!("s{i}")).collect();
    for name in &servers {
        let spec = NodeSpec {
            role: Role::Server,
            bootstrap_expect: count,
            datacenter: "dc1".into(),
        };
        world.start(name, spec).await;
    }
    madsim::time::sleep(Duration::from_millis(200)).await;
    let addr = format!("{}:8301", world.node("s1").ip);
    for name in &servers[1..] {
        let _ = world
            .request(name, Request::Join { addr: addr.clone() })
            .await;
    }
    wait_for_write(world, "bootstrap", 20_000).await?;
    Ok(servers)
}

async fn safety_phase(world: &mut World, servers: &[String]) -> Result<(), String> {
    let end_ms = world.now_ms() + SAFETY_PHASE_MS;
    let mut op = 0u64;
    while world.now_ms() < end_ms {
        inject_fault(world, servers);
        for _ in 0..world.rng.range(1, 6) {
            client_op(world, servers, op).await;
            op += 1;
        }
        let pause_ms = world.rng.range(50, 1500);
        madsim::time::sleep(Duration::from_millis(pause_ms)).await;
        if let Some(v) = world.checker.violations().first() {
            return Err(v.clone());
        }
    }
    Ok(())
}

fn inject_fault(world: &mut World, servers: &[String]) {
    let pick =
        |world: &mut World| servers[world.rng.range(0, servers.len() as u64) as usize].clone();
    match world.rng.range(0, 10) {
        0 | 1 => {
            let mut shuffled = servers.to_vec();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, world.rng.range(0, i as u64 + 1) as usize);
            }
            let split = world.rng.range(1, shuffled.len() as u64) as usize;
            world.partition(&[shuffled[..split].to_vec(), shuffled[split..].to_vec()]);
        }
        2 => {
            let (a, b) = (pick(world), pick(world));
            if a != b {
                world.cut(&a, &b);
            }
        }
        3 | 4 => {
            let victim = pick(world);
            if world.node(&victim).up {
                world.kill(&victim);
            } else {
                world.restart_later(&victim);
            }
        }
        5 => restart_all_down(world, servers),
        6 => {
            let loss_rate = world.rng.range(0, 10) as f64 / 100.0;
            let latency_max_ms = world.rng.range(2, 40);
            world.set_network(loss_rate, (1, latency_max_ms));
        }
        _ => world.heal(),
    }
}

fn restart_all_down(world: &mut World, servers: &[String]) {
    for name in servers {
        if !world.node(name).up {
            world.restart_later(name);
        }
    }
}

async fn client_op(world: &mut World, servers: &[String], op: u64) {
    let node = servers[world.rng.range(0, servers.len() as u64) as usize].clone();
    let key = format!("k{}", world.rng.range(0, 4));
    let request = if world.rng.chance(2, 3) {
        let value = format!("v{op}").into_bytes();
        Request::KvWrite {
            command: KvCommand::Set {
                key,
                value,
                flags: 0,
            },
        }
    } else {
        Request::KvGet {
            key,
            consistency: Consistency::Consistent,
        }
    };
    let _ = world.request(&node, request).await;
}

async fn liveness_phase(world: &mut World, servers: &[String]) -> Result<(), String> {
    world.heal();
    world.set_network(0.0, (1, 5));
    restart_all_down(world, servers);
    wait_for_write(world, "liveness", LIVENESS_BOUND_MS).await
}

/// Retries a write on every server until one succeeds within `bound_ms`.
async fn wait_for_write(world: &mut World, phase: &str, bound_ms: u64) -> Result<(), String> {
    let deadline_ms = world.now_ms() + bound_ms;
    let servers = world.servers_up();
    let mut attempt = 0usize;
    while world.now_ms() < deadline_ms {
        let node = servers[attempt % servers.len()].clone();
        attempt += 1;
        let command = KvCommand::Set {
            key: "liveness".into(),
            value: phase.as_bytes().to_vec(),
            flags: 0,
        };
        if world
            .request(&node, Request::KvWrite { command })
            .await
            .is_ok()
        {
            return Ok(());
        }
        madsim::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{phase}: no write committed within {bound_ms} ms"))
}
