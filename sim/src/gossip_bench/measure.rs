//! The three measurements: detection time of a real death, false `failed` declarations of live
//! members (under datagram loss, and with one member pausing), and messages per member per
//! second. Each run is a function of its seed.

use super::world::{node_name, LinkModel, Observed, World};
use super::{MemberEvent, Options, SwimState};
use concord_core::rng::Rng;
use std::collections::HashMap;

const MS: u64 = 1_000;
const SECOND_US: u64 = 1_000_000;

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub sizes: Vec<usize>,
    /// Detection trials per size; `None`: 20 up to 50 members, 10 up to 500, 5 above.
    pub trials: Option<usize>,
    pub member_hours: f64,
    /// From this size on, trials share one formed cluster (cloned, network reseeded).
    pub shared_formation_from: usize,
    /// Members in the false-failure runs.
    pub false_failure_members: usize,
    pub seed: u64,
    /// Replays one trial: its seed instead of the one derived from `seed`.
    pub trial_seed: Option<u64>,
}

impl BenchConfig {
    pub fn trials_for(&self, n: usize) -> usize {
        self.trials.unwrap_or(match n {
            0..=50 => 20,
            51..=500 => 10,
            _ => 5,
        })
    }
}

/// The seed of trial `trial` at size `n` (printed, so one trial replays alone).
pub fn trial_seed(base: u64, n: usize, trial: usize) -> u64 {
    let mut rng = Rng::new(base ^ ((n as u64) << 32) ^ trial as u64);
    rng.next_u64()
}

/// Every member joins member 0, staggered by 1 ms; runs until every member lists all `n`
/// alive. Returns when that held, or an error after `formation_us_max`.
pub fn form(world: &mut World, formation_us_max: u64) -> Result<u64, String> {
    let n = world.len();
    for i in 1..n {
        world.run_until(world.now_us() + MS);
        world.join(i, 0);
    }
    let check_every_us = if n <= 100 { 100 * MS } else { SECOND_US };
    let start_us = world.now_us();
    while !everyone_sees_everyone(world) {
        if world.now_us() - start_us > formation_us_max {
            return Err(format!(
                "{n} members did not converge in {} s",
                formation_us_max / SECOND_US
            ));
        }
        world.run_until(world.now_us() + check_every_us);
        world.take_observed();
    }
    Ok(world.now_us())
}

/// Every machine holds all `n` members alive (or suspect, which lists as alive): counted
/// without cloning the tables, which matters at 1,000 members.
fn everyone_sees_everyone(world: &World) -> bool {
    let n = world.len();
    (0..n).all(|i| world.swim(i).members_n() == n)
}

/// One detection trial: form, warm up, kill a random member, wait for suspicion and failure.
#[derive(Clone, Debug)]
pub struct DetectionSample {
    pub seed: u64,
    pub victim: usize,
    /// When the victim was killed (the cluster formed and warmed up).
    pub formed_s: f64,
    pub formation_wall_s: f64,
    pub wall_s: f64,
    pub first_suspect_ms: Option<u64>,
    /// When the last live member held the victim dead.
    pub all_failed_ms: Option<u64>,
    /// Messages sent per live member per second from the kill until failed everywhere.
    pub news_per_member_s: Option<f64>,
    pub deadline_stalls: u64,
}

pub const WARM_UP_US: u64 = 30 * SECOND_US;
pub const WARM_UP_US_MAX: u64 = 600 * SECOND_US;

/// The quiet load is counted over one push-pull interval as scaled for `n` (memberlist:
/// `ceil(log2 n - log2 32) + 1` above 32 members): machines started together push-pull in
/// step, and any window of exactly one interval holds one push-pull per member, whatever
/// its phase.
pub fn message_window_us(options: &Options, n: usize) -> u64 {
    options.push_pull_interval_ms * MS * concord_core::membership::push_pull_scale(n)
}

/// A formed cluster of `n` members and the wall time forming it took.
pub fn formed_world(n: usize, seed: u64, options: &Options) -> Result<(World, f64), String> {
    assert!(n >= 3, "a death needs two witnesses");
    let wall = std::time::Instant::now();
    let mut world = World::new(n, options, LinkModel::lan(), seed);
    form(&mut world, 600 * SECOND_US)?;
    warm_up(&mut world)?;
    Ok((world, wall.elapsed().as_secs_f64()))
}

/// At least `WARM_UP_US`, then on until every machine's broadcast queue is empty: news of
/// 1,000 joins takes about a minute to be piggybacked its 16 times, and a steady cluster
/// (what the trials and the quiet load are about) has nothing left to gossip.
fn warm_up(world: &mut World) -> Result<(), String> {
    let start_us = world.now_us();
    world.run_until(start_us + WARM_UP_US);
    while (0..world.len()).any(|i| world.swim(i).broadcasts_queued() > 0) {
        if world.now_us() - start_us > WARM_UP_US_MAX {
            return Err(format!(
                "broadcast queues still not empty after {} s",
                WARM_UP_US_MAX / SECOND_US
            ));
        }
        world.run_until(world.now_us() + SECOND_US);
    }
    world.take_observed();
    Ok(())
}

/// One trial on its own cluster, formed from `seed`.
pub fn detection_trial(n: usize, seed: u64, options: &Options) -> Result<DetectionSample, String> {
    let (world, formation_wall_s) = formed_world(n, seed, options)?;
    let mut sample = detection_on(world, seed, options);
    sample.formation_wall_s = formation_wall_s;
    Ok(sample)
}

/// On a formed, warmed-up world: kill a random member (chosen by `seed`), watch. The
/// world's network draws from `seed` from here on.
pub fn detection_on(mut world: World, seed: u64, options: &Options) -> DetectionSample {
    let wall = std::time::Instant::now();
    let n = world.len();
    world.reseed(seed);
    let formed_us = world.now_us();
    world.traffic = Default::default();
    world.take_observed();
    let victim = 1 + (Rng::new(seed).next_u64() % (n as u64 - 1)) as usize;
    world.kill(victim);
    let kill_us = world.now_us();
    let (first_suspect_us, all_failed_us) = watch_death(&mut world, victim, kill_us, options);
    let since_kill_ms = |t: Option<u64>| t.map(|t| (t - kill_us) / MS);
    let sent = world.traffic.datagrams_sent + world.traffic.streams_sent;
    let news_per_member_s = all_failed_us
        .filter(|&t| t > kill_us)
        .map(|t| sent as f64 * SECOND_US as f64 / ((n as u64 - 1) * (t - kill_us)) as f64);
    DetectionSample {
        seed,
        victim,
        formed_s: formed_us as f64 / SECOND_US as f64,
        formation_wall_s: 0.0,
        wall_s: wall.elapsed().as_secs_f64(),
        first_suspect_ms: since_kill_ms(first_suspect_us),
        all_failed_ms: since_kill_ms(all_failed_us),
        news_per_member_s,
        deadline_stalls: world.deadline_stalls,
    }
}

/// (datagrams, streams) sent per member per second over one scaled push-pull interval in a
/// formed, warmed-up cluster where nothing happens (its own run, so that the trials
/// do not depend on whether it ran).
pub fn quiet_load_per_member_s(mut world: World, seed: u64, options: &Options) -> (f64, f64) {
    let n = world.len() as u64;
    world.reseed(seed);
    world.traffic = Default::default();
    let window_us = message_window_us(options, world.len());
    world.run_until(world.now_us() + window_us);
    let per_member = |count: u64| count as f64 * SECOND_US as f64 / (n * window_us) as f64;
    (
        per_member(world.traffic.datagrams_sent),
        per_member(world.traffic.streams_sent),
    )
}

/// Runs until every live member holds `victim` dead (or the longest suspicion timeout and a
/// minute more have passed); returns (first suspicion, failed everywhere) times.
fn watch_death(
    world: &mut World,
    victim: usize,
    kill_us: u64,
    options: &Options,
) -> (Option<u64>, Option<u64>) {
    let n = world.len();
    let name = node_name(victim);
    let give_up_us = kill_us + (limits(options, n).1 + 60.0) as u64 * SECOND_US;
    let mut first_suspect_us = None;
    let mut dead_at: Vec<bool> = (0..n).map(|i| i == victim).collect();
    let mut dead_count = 1;
    while world.now_us() < give_up_us {
        world.run_until(world.now_us() + 10 * MS);
        for seen in world.take_observed() {
            let MemberEvent::StateChanged { name: about, state } = &seen.event else {
                continue;
            };
            if *about != name || seen.observer == victim {
                continue;
            }
            if matches!(state, SwimState::Suspect | SwimState::Dead) && first_suspect_us.is_none() {
                first_suspect_us = Some(seen.at_us);
            }
            if *state == SwimState::Dead && !dead_at[seen.observer] {
                dead_at[seen.observer] = true;
                dead_count += 1;
                if dead_count == n {
                    return (first_suspect_us, Some(seen.at_us));
                }
            }
        }
    }
    (first_suspect_us, None)
}

/// What memberlist's defaults imply for `n` members, in seconds: (suspicion timeout with k
/// confirmations, without). Suspicion min = mult x max(1, log10 n) x probe interval.
pub fn limits(options: &Options, n: usize) -> (f64, f64) {
    let min_s = options.suspicion_mult as f64
        * (n as f64).log10().max(1.0)
        * options.probe_interval_ms as f64
        / 1_000.0;
    (min_s, min_s * options.suspicion_max_timeout_mult as f64)
}

/// A run with nobody dying: false `failed` declarations about live members.
#[derive(Clone, Debug, Default)]
pub struct FalseFailures {
    pub seed: u64,
    pub members: usize,
    pub member_hours: f64,
    /// Cluster-wide episodes: some member held a live member dead, until nobody did.
    pub failed_episodes: u64,
    /// (observer, member) pairs that turned to dead, each once per episode.
    pub failed_views: u64,
    /// Suspicion events about live members (each observer's, not only originating).
    pub suspect_views: u64,
    /// Alive events after a suspicion: refuted rumours, as observers saw them.
    pub refuted_views: u64,
    /// The machines' own counters over the run: where the rumours started.
    pub origins: Origins,
    pub deadline_stalls: u64,
    pub slowed: Option<usize>,
    /// (simulated µs, observer, member) of every failed view.
    pub failed_at: Vec<(u64, usize, String)>,
}

/// Sums of the machines' counters: probes that failed, suspicions each started itself
/// (not learned), suspicion timers that fired (deaths declared), refutations of itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    pub probes_failed: u64,
    pub suspicions_started: u64,
    pub deaths_declared: u64,
    pub refutations: u64,
}

impl Origins {
    fn of(world: &World) -> Origins {
        (0..world.len()).fold(Origins::default(), |sum, i| {
            let stats = world.swim(i).stats();
            Origins {
                probes_failed: sum.probes_failed + stats.probes_failed,
                suspicions_started: sum.suspicions_started + stats.suspicions_started,
                deaths_declared: sum.deaths_declared + stats.deaths_declared,
                refutations: sum.refutations + stats.refutations,
            }
        })
    }

    fn since(self, start: Origins) -> Origins {
        Origins {
            probes_failed: self.probes_failed - start.probes_failed,
            suspicions_started: self.suspicions_started - start.suspicions_started,
            deaths_declared: self.deaths_declared - start.deaths_declared,
            refutations: self.refutations - start.refutations,
        }
    }
}

/// Pauses of the slowed member: 300-500 ms, every 2-5 s.
const PAUSE_US: (u64, u64) = (300 * MS, 500 * MS);
const PAUSE_GAP_US: (u64, u64) = (2 * SECOND_US, 5 * SECOND_US);

pub fn false_failures(
    n: usize,
    member_hours: f64,
    loss_ppm: u64,
    slowed: bool,
    seed: u64,
    options: &Options,
) -> Result<FalseFailures, String> {
    let (mut world, _) = formed_world(n, seed, options)?;
    world.link.datagram_loss_ppm = loss_ppm;
    let start = Origins::of(&world);
    let mut rng = Rng::new(seed ^ 0x5107);
    let slow = slowed.then(|| 1 + (rng.next_u64() % (n as u64 - 1)) as usize);
    let end_us = world.now_us() + (member_hours * 3600.0 / n as f64 * SECOND_US as f64) as u64;
    let mut next_pause_us = world.now_us() + rng.range(PAUSE_GAP_US.0, PAUSE_GAP_US.1);
    let mut tally = Tally::default();
    while world.now_us() < end_us {
        let step_end = (world.now_us() + SECOND_US).min(end_us);
        match slow {
            Some(node) if next_pause_us <= step_end => {
                world.run_until(next_pause_us);
                let pause_us = rng.range(PAUSE_US.0, PAUSE_US.1 + 1);
                world.pause(node, pause_us);
                next_pause_us += pause_us + rng.range(PAUSE_GAP_US.0, PAUSE_GAP_US.1 + 1);
            }
            _ => world.run_until(step_end),
        }
        tally.count(world.take_observed(), n);
    }
    Ok(FalseFailures {
        seed,
        members: n,
        member_hours,
        failed_episodes: tally.episodes,
        failed_views: tally.failed_views,
        suspect_views: tally.suspect_views,
        refuted_views: tally.refuted_views,
        origins: Origins::of(&world).since(start),
        deadline_stalls: world.deadline_stalls,
        slowed: slow,
        failed_at: tally.failed_at,
    })
}

#[derive(Default)]
struct Tally {
    /// Each observer's view of each member that is not plain alive.
    views: HashMap<(usize, String), SwimState>,
    /// How many observers hold a member dead right now.
    dead_holders: HashMap<String, usize>,
    episodes: u64,
    failed_views: u64,
    /// (when, observer, member) of each failed view, to replay and inspect.
    failed_at: Vec<(u64, usize, String)>,
    suspect_views: u64,
    refuted_views: u64,
}

impl Tally {
    fn count(&mut self, observed: Vec<Observed>, _n: usize) {
        for seen in observed {
            let MemberEvent::StateChanged { name, state } = seen.event else {
                continue;
            };
            let key = (seen.observer, name.clone());
            let before = self.views.get(&key).copied().unwrap_or(SwimState::Alive);
            if before == state {
                continue;
            }
            let holders = self.dead_holders.entry(name).or_default();
            match state {
                SwimState::Dead => {
                    self.failed_views += 1;
                    self.failed_at
                        .push((seen.at_us, seen.observer, key.1.clone()));
                    self.episodes += u64::from(*holders == 0);
                    *holders += 1;
                }
                SwimState::Suspect => self.suspect_views += 1,
                SwimState::Alive => self.refuted_views += 1,
                _ => {}
            }
            if before == SwimState::Dead {
                *holders = holders.saturating_sub(1);
            }
            if state == SwimState::Alive {
                self.views.remove(&key);
            } else {
                self.views.insert(key, state);
            }
        }
    }
}

/// The median and the 99th percentile (nearest rank; with fewer than 100 samples, the max).
pub fn median_p99(samples: &[u64]) -> Option<(u64, u64)> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let last = sorted.len().checked_sub(1)?;
    let p99 = ((sorted.len() as f64 * 0.99).ceil() as usize).saturating_sub(1);
    Some((sorted[last / 2], sorted[p99.min(last)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_of_few_samples_is_the_max() {
        assert_eq!(median_p99(&[5, 1, 3]), Some((3, 5)));
        assert_eq!(median_p99(&[]), None);
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(median_p99(&hundred), Some((50, 99)));
    }

    /// The bench at 5 members: a killed member is suspected and declared failed by everyone,
    /// within what memberlist's defaults allow (first probe + probe, then the longest timer).
    #[test]
    fn smoke_five_members_detect_a_death_within_the_formula() {
        let options = Options::default();
        for trial in 0..2 {
            let seed = trial_seed(1, 5, trial);
            let sample = detection_trial(5, seed, &options).expect("forms");
            let (_, max_s) = limits(&options, 5);
            let suspect_ms = sample.first_suspect_ms.expect("suspected");
            let failed_ms = sample.all_failed_ms.expect("failed everywhere");
            assert!(
                suspect_ms <= 6_000,
                "seed {seed}: suspected after {suspect_ms} ms"
            );
            let bound_ms = suspect_ms + (max_s * 1_000.0) as u64 + 1_000;
            assert!(
                failed_ms <= bound_ms,
                "seed {seed}: failed after {failed_ms} ms > {bound_ms}"
            );
            assert_eq!(sample.deadline_stalls, 0, "seed {seed}");
        }
    }

    #[test]
    fn a_death_view_counts_once_per_episode() {
        let event = |observer, state| Observed {
            at_us: 0,
            observer,
            event: MemberEvent::StateChanged {
                name: "n0003".into(),
                state,
            },
        };
        let mut tally = Tally::default();
        let seen = [
            event(1, SwimState::Suspect),
            event(1, SwimState::Dead),
            event(2, SwimState::Dead),
            event(2, SwimState::Dead),
            event(1, SwimState::Alive),
            event(2, SwimState::Alive),
            event(2, SwimState::Dead),
        ];
        tally.count(seen.to_vec(), 5);
        assert_eq!((tally.episodes, tally.failed_views), (2, 3));
        assert_eq!((tally.suspect_views, tally.refuted_views), (1, 2));
    }
}
