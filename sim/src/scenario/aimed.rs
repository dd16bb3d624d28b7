//! Faults aimed at the leader at the moments that matter. A fuzz schedule is written before
//! anyone knows who will lead, so its random faults rarely land on the leader while a read
//! reaches it, and its kills rarely fall right after an acknowledgement. These commands pick
//! their victim when they run, from the newest leader the checkers have seen:
//!
//! - `pause-leader-reading DURATION [READS]`: pause the leader, send it READS consistent reads
//!   (they queue up while it is paused and a newer leader is elected), resume it. It must
//!   not release them: a quorum has moved to a newer term.
//! - `kill-after-ack leader|follower DURATION`: write through the leader; the moment the
//!   answer comes back, kill the leader (or one follower); restart it after DURATION. The
//!   acknowledged write must survive.

use super::parse::parse_duration;
use crate::load::LOAD_KEYS;
use crate::world::World;
use concord_core::agent::{Consistency, Request};
use concord_core::kv::KvCommand;
use std::time::Duration;

/// Consistent reads sent to one paused leader at most.
pub const PAUSED_READS_MAX: u64 = 16;
/// Reads sent to a paused leader unless the command says.
const PAUSED_READS_DEFAULT: u64 = 4;

/// Whether `command` is one of the aimed faults.
pub fn handles(command: &str) -> bool {
    matches!(command, "pause-leader-reading" | "kill-after-ack")
}

/// Runs one aimed fault (`words[0]` is the command).
pub async fn run(world: &mut World, words: &[&str]) -> Result<(), String> {
    match words {
        ["pause-leader-reading", pause, reads @ ..] if reads.len() <= 1 => {
            let reads = reads_count(reads.first().copied())?;
            pause_leader_reading(world, parse_duration(pause)?, reads).await;
            Ok(())
        }
        ["kill-after-ack", who @ ("leader" | "follower"), down] => {
            kill_after_ack(world, *who == "leader", parse_duration(down)?).await;
            Ok(())
        }
        _ => Err(format!(
            "bad aimed fault: {} (use pause-leader-reading DURATION [READS] or kill-after-ack leader|follower DURATION)",
            words.join(" ")
        )),
    }
}

fn reads_count(word: Option<&str>) -> Result<u64, String> {
    let reads = match word {
        Some(n) => n
            .parse()
            .map_err(|_| format!("bad read count {n:?} (a number)"))?,
        None => PAUSED_READS_DEFAULT,
    };
    if reads == 0 || reads > PAUSED_READS_MAX {
        return Err(format!("read count {reads} must be 1..={PAUSED_READS_MAX}"));
    }
    Ok(reads)
}

/// The newest leader seen, if it is still running (it may have lost leadership since: then
/// the fault lands on a deposed leader, which is as interesting).
fn aim(world: &World) -> Option<String> {
    let leader = world.checker.latest_leader()?;
    world.servers_up().contains(&leader).then_some(leader)
}

async fn pause_leader_reading(world: &mut World, pause: Duration, reads: u64) {
    let Some(leader) = aim(world) else {
        world
            .trace
            .record("pause-leader-reading: no running leader to aim at");
        return;
    };
    world.pause(&leader);
    let mut tasks = Vec::new();
    for _ in 0..reads {
        world.next_client += 1;
        let (client, recorder) = (world.next_client, world.recorder.clone());
        let (name, handle) = (leader.clone(), world.handle(&leader));
        let request = Request::KvGet {
            key: format!("k{}", world.rng.range(0, LOAD_KEYS)),
            consistency: Consistency::Consistent,
        };
        let read = async move { recorder.call(client, &name, handle, request).await };
        tasks.push(madsim::task::spawn(read));
    }
    madsim::time::sleep(pause).await;
    world.resume(&leader);
    for task in tasks {
        let _ = task.await;
    }
}

async fn kill_after_ack(world: &mut World, leader_dies: bool, down: Duration) {
    let Some(leader) = aim(world) else {
        world
            .trace
            .record("kill-after-ack: no running leader to aim at");
        return;
    };
    let victim = if leader_dies {
        leader.clone()
    } else {
        let followers: Vec<String> = world
            .servers_up()
            .into_iter()
            .filter(|s| *s != leader)
            .collect();
        if followers.is_empty() {
            world.trace.record("kill-after-ack: no running follower");
            return;
        }
        followers[world.rng.range(0, followers.len() as u64) as usize].clone()
    };
    world.next_client += 1;
    let client = world.next_client;
    let command = KvCommand::Set {
        key: format!("k{}", world.rng.range(0, LOAD_KEYS)),
        // Unique in the run, as the load's values are, so a read names the write it saw.
        value: format!("c{client}-0").into_bytes(),
        flags: 0,
    };
    let handle = world.handle(&leader);
    let request = Request::KvWrite { command };
    let result = world.recorder.call(client, &leader, handle, request).await;
    world.trace.record(&format!(
        "kill-after-ack: {leader} answered {}; killing {victim}",
        if result.is_ok() { "ok" } else { "an error" }
    ));
    // A node the write's wait saw killed by other means is left as it is.
    if world.node(&victim).up {
        world.kill(&victim).await;
        madsim::time::sleep(down).await;
        // Back up before the next line, which may be a request to it (a leave, a join).
        world.restart(&victim).await;
    }
}
