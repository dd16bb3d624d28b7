//! The failure-detection benchmark of the SWIM membership core (issue 12, item 4):
//! `concord-sim gossip-bench [--sizes 5,50,500,1000] [--trials T] [--member-hours H] [--seed S]`.
//!
//! Why a world of its own rather than the madsim simulator: the questions here (how fast is a
//! dead member suspected and declared failed, how often is a live one declared failed under loss
//! or pauses, how many messages does the detector send) are about the detector alone, at 500 to
//! 1,000 members and over 1,000 simulated member-hours. Full Concord nodes under madsim (Raft,
//! HTTP, storage, a tokio task per node) would not run that in minutes on two cores, so this
//! module drives N `Swim` machines directly from a deterministic discrete-event queue
//! (`world.rs`): seeded latency and loss, process death and pauses, every machine woken exactly
//! at its `next_deadline_ms()`. `measure.rs` runs the three measurements, `report.rs` prints
//! the Markdown table beside the figures memberlist's LAN defaults imply. Everything is a
//! function of the seed, which every line of output names.

pub mod measure;
pub mod report;
pub mod world;

use concord_core::membership as core_membership;

/// The SWIM machine and its types, named in one place (the agent knows `Swim` as
/// `Membership`; the bench drives it directly).
pub(crate) use core_membership::{
    Channel, GossipBody, GossipPacket, MemberEvent, MembershipOptions as Options, Swim, SwimState,
    Transmit,
};

pub use measure::BenchConfig;
pub use report::run_bench;

const USAGE: &str = "usage: concord-sim gossip-bench [--sizes 5,50,500,1000] [--trials T] \
[--member-hours H] [--seed S] [--trial-seed S]";

/// `concord-sim gossip-bench ...`: parses the flags (a bad one is named), runs, prints.
pub fn cli(args: &[String]) -> i32 {
    match parse(args) {
        Ok(config) => run_bench(&config),
        Err(e) => {
            eprintln!("gossip-bench: {e}\n{USAGE}");
            2
        }
    }
}

fn parse(args: &[String]) -> Result<BenchConfig, String> {
    let mut config = BenchConfig {
        sizes: vec![5, 50, 500, 1000],
        trials: None,
        member_hours: 1_000.0,
        shared_formation_from: 500,
        false_failure_members: 50,
        seed: 1,
        trial_seed: None,
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |why: &str| format!("{flag} {value}: {why}");
        match flag.as_str() {
            "--sizes" => {
                let sizes: Result<Vec<usize>, _> = value.split(',').map(str::parse).collect();
                config.sizes = sizes.map_err(|_| bad("not a list of numbers"))?;
                if config.sizes.iter().any(|&n| n < 3) || config.sizes.is_empty() {
                    return Err(bad("every size must be at least 3 members"));
                }
            }
            "--trials" => {
                let trials: usize = value.parse().map_err(|_| bad("not a number"))?;
                config.trials = Some(trials.max(1));
            }
            "--member-hours" => {
                config.member_hours = value.parse().map_err(|_| bad("not a number"))?;
                if config.member_hours.is_nan() || config.member_hours < 0.0 {
                    return Err(bad("must be zero or more"));
                }
            }
            "--seed" => config.seed = value.parse().map_err(|_| bad("not a number"))?,
            "--trial-seed" => {
                config.trial_seed = Some(value.parse().map_err(|_| bad("not a number"))?)
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(config)
}
