//! A fuzz schedule is a scenario generated from the seed: the cluster, a safety phase of random
//! faults under client load, then a liveness phase. Being a scenario, it can be shrunk line by
//! line and saved as a file that replays it.

use concord_core::rng::Rng;
use std::collections::BTreeSet;

/// Fault steps in the safety phase.
pub const SAFETY_STEPS_MIN: u64 = 8;
pub const SAFETY_STEPS_MAX: u64 = 20;
/// Marks the lines the shrinker may remove.
pub const SAFETY_BEGIN: &str = "# safety phase";
pub const SAFETY_END: &str = "# liveness phase";
/// How long after the liveness phase's write every node must list every other alive.
const MEMBERS_CONVERGE_S: u64 = 20;

struct Generator {
    rng: Rng,
    servers: Vec<String>,
    down: BTreeSet<String>,
    left: BTreeSet<String>,
    lines: Vec<String>,
    added: u64,
    knobs: Knobs,
}

/// The schedule for `seed`, as scenario text.
pub fn generate(seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x5c4e_d01e);
    let count = if rng.chance(1, 2) { 3 } else { 5 };
    let servers: Vec<String> = (1..=count).map(|i| format!("s{i}")).collect();
    let mut g = Generator {
        rng,
        servers,
        down: BTreeSet::new(),
        left: BTreeSet::new(),
        lines: Vec::new(),
        added: 0,
        knobs: Knobs::draw(seed),
    };
    g.line(format!("# fuzz schedule for seed {seed}"));
    g.setup(count);
    g.line(SAFETY_BEGIN.to_string());
    for _ in 0..g.rng.range(SAFETY_STEPS_MIN, SAFETY_STEPS_MAX + 1) {
        g.step();
    }
    g.line(SAFETY_END.to_string());
    g.liveness();
    g.lines.join("\n") + "\n"
}

impl Generator {
    fn line(&mut self, line: String) {
        self.lines.push(line);
    }

    fn pick(&mut self) -> String {
        self.servers[self.rng.range(0, self.servers.len() as u64) as usize].clone()
    }

    fn up(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter(|s| !self.down.contains(*s))
            .cloned()
            .collect()
    }

    fn setup(&mut self, count: usize) {
        for s in self.servers.clone() {
            let flags = &self.knobs.server_flags;
            self.line(format!(
                "start {s} -server -bootstrap-expect {count}{flags}"
            ));
        }
        self.line("start c1".into());
        for s in self
            .servers
            .clone()
            .iter()
            .skip(1)
            .chain(["c1".to_string()].iter())
        {
            self.line(format!("try-join {s} s1"));
        }
        self.line("expect leader within 20s".into());
        self.line("expect write within 10s".into());
    }

    /// One step: client load in the background, one or two faults, some time.
    fn step(&mut self) {
        let ops = self.rng.range(3, 10);
        let mix = &self.knobs.load_mix;
        self.line(format!("load-start clients=3 ops={ops}{mix}"));
        for _ in 0..self.rng.range(1, 3) {
            self.fault();
        }
        let wait_ms = self.rng.range(100, 2500);
        self.line(format!("wait {wait_ms}ms"));
        self.line("load-wait".into());
    }

    fn fault(&mut self) {
        match self.rng.range(0, 24) {
            0..=2 => self.partition_halves(),
            3 => self.isolate(),
            4 => self.bridge(),
            5 => self.ring(),
            6 => self.one_way(),
            7 => self.swizzle(),
            8..=9 => self.kill_or_restart(),
            10 => self.pause(),
            11 => self.network(),
            12 => self.leave_or_rejoin(),
            13 => self.add_server(),
            14 => self.line("transfer-leader".into()),
            20..=21 => self.pause_leader_reading(),
            22..=23 => self.kill_after_ack(),
            _ => self.line("heal".into()),
        }
    }

    /// The leader (whoever it is when the line runs) paused while consistent reads queue up
    /// at it; longer than an election timeout, mostly.
    fn pause_leader_reading(&mut self) {
        let pause_ms = self.rng.range(200, 3000);
        let reads = self.rng.range(1, 6);
        self.line(format!("pause-leader-reading {pause_ms}ms {reads}"));
    }

    /// The leader, or a follower, killed the moment the leader acknowledges a write; back
    /// after a while (the run's own kills and restarts are tracked apart).
    fn kill_after_ack(&mut self) {
        let who = if self.rng.chance(1, 2) {
            "leader"
        } else {
            "follower"
        };
        let down_ms = self.rng.range(0, 2000);
        self.line(format!("kill-after-ack {who} {down_ms}ms"));
    }

    fn shuffled(&mut self) -> Vec<String> {
        let mut all = self.servers.clone();
        for i in (1..all.len()).rev() {
            all.swap(i, self.rng.range(0, i as u64 + 1) as usize);
        }
        all
    }

    fn partition_halves(&mut self) {
        let all = self.shuffled();
        let split = self.rng.range(1, all.len() as u64) as usize;
        self.line(format!(
            "partition {} | {}",
            all[..split].join(" "),
            all[split..].join(" ")
        ));
    }

    fn isolate(&mut self) {
        let victim = self.pick();
        self.line(format!("isolate {victim}"));
    }

    /// Two sides that cannot talk, and one bridge node that talks to both.
    fn bridge(&mut self) {
        let all = self.shuffled();
        if all.len() < 3 {
            return;
        }
        let (bridge, rest) = all.split_first().expect("at least three");
        let split = self.rng.range(1, rest.len() as u64) as usize;
        self.line(format!("# bridge {bridge}"));
        for a in &rest[..split] {
            for b in &rest[split..] {
                self.line(format!("cut {a} {b}"));
                self.line(format!("cut {b} {a}"));
            }
        }
    }

    /// Each server talks only to its two neighbours on a ring.
    fn ring(&mut self) {
        let ring = self.shuffled();
        let n = ring.len();
        if n < 4 {
            return self.bridge();
        }
        self.line("# ring".into());
        for i in 0..n {
            for j in 0..n {
                let neighbours = (i + 1) % n == j || (j + 1) % n == i;
                if i != j && !neighbours {
                    self.line(format!("cut {} {}", ring[i], ring[j]));
                }
            }
        }
    }

    fn one_way(&mut self) {
        let (a, b) = (self.pick(), self.pick());
        if a != b {
            self.line(format!("cut {a} {b}"));
        }
    }

    /// Clog nodes one by one, then unclog them in another order (FoundationDB's swizzle).
    fn swizzle(&mut self) {
        let order = self.shuffled();
        let count = self.rng.range(1, order.len() as u64 + 1) as usize;
        for name in &order[..count] {
            self.line(format!("clog {name}"));
            let wait_ms = self.rng.range(50, 400);
            self.line(format!("wait {wait_ms}ms"));
        }
        let mut unclog: Vec<String> = order[..count].to_vec();
        for i in (1..unclog.len()).rev() {
            unclog.swap(i, self.rng.range(0, i as u64 + 1) as usize);
        }
        for name in unclog {
            self.line(format!("unclog {name}"));
            let wait_ms = self.rng.range(50, 400);
            self.line(format!("wait {wait_ms}ms"));
        }
    }

    fn kill_or_restart(&mut self) {
        let victim = self.pick();
        if self.left.contains(&victim) {
            return;
        }
        if self.down.remove(&victim) {
            self.line(format!("restart {victim}"));
        } else {
            self.down.insert(victim.clone());
            self.line(format!("kill {victim}"));
        }
    }

    /// A pause longer than the election timeout (a GC pause, a stopped VM).
    fn pause(&mut self) {
        let victim = self.pick();
        if self.down.contains(&victim) {
            return;
        }
        self.line(format!("pause {victim}"));
        let pause_ms = self.rng.range(300, 3000);
        self.line(format!("wait {pause_ms}ms"));
        self.line(format!("resume {victim}"));
    }

    fn network(&mut self) {
        let loss_percent = self.rng.range(0, 15);
        let latency_ms = if self.rng.chance(1, 4) {
            (100, 600)
        } else {
            (1, self.rng.range(2, 50))
        };
        let chaos = self.knobs.chaos();
        self.line(format!(
            "network loss%={loss_percent} latency={}..{}{chaos}",
            latency_ms.0, latency_ms.1
        ));
    }

    /// A server leaves gracefully (and is removed from the voters); later it comes back.
    fn leave_or_rejoin(&mut self) {
        let up = self.up();
        if let Some(name) = self.left.iter().next().cloned() {
            self.left.remove(&name);
            self.down.remove(&name);
            self.line(format!("restart {name}"));
            let contact = up.first().cloned().unwrap_or_else(|| "s1".to_string());
            self.line(format!("try-join {name} {contact}"));
        } else if up.len() > 2 {
            let name = up[self.rng.range(0, up.len() as u64) as usize].clone();
            self.left.insert(name.clone());
            self.down.insert(name.clone());
            self.line(format!("leave {name}"));
        }
    }

    /// A new server joins the cluster during the faults: it enters as a non-voter.
    fn add_server(&mut self) {
        if self.added >= 2 {
            return;
        }
        self.added += 1;
        let name = format!("n{}", self.added);
        let flags = &self.knobs.server_flags;
        self.line(format!("start {name} -server{flags}"));
        self.line(format!("try-join {name} s1"));
        self.servers.push(name);
    }

    fn liveness(&mut self) {
        for line in ["heal", "network loss%=0 latency=1..5", "revive"] {
            self.line(line.into());
        }
        // Anyone whose join failed during the faults joins now.
        for name in self
            .servers
            .clone()
            .into_iter()
            .skip(1)
            .chain(["c1".to_string()])
        {
            self.line(format!("try-join {name} s1"));
        }
        self.line("expect leader within 15s".into());
        self.line("expect write within 15s".into());
        // The failure detector heals too: every node lists every other alive again, within
        // a reconnect interval plus a suspicion's longest timeout and then some.
        let mut members: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{s}=alive/server"))
            .collect();
        members.push("c1=alive/client".into());
        self.line(format!(
            "expect members all {} within {MEMBERS_CONVERGE_S}s",
            members.join(" ")
        ));
        let mix = &self.knobs.load_mix;
        self.line(format!("load-start clients=2 ops=5{mix}"));
        self.line("load-wait".into());
        // Every lock a client walked away from is free again, within its sessions' bound.
        if self.knobs.load_mix.contains(" lock%=") {
            self.line("check-locks".into());
        }
        // Every agent's own services must reach the catalog (anti-entropy), within its bound.
        self.line("check-catalog".into());
        self.line("check".into());
    }
}

/// What a seed draws besides its faults, from a stream of its own (so the fault schedule of a
/// seed does not depend on them): the servers' snapshot settings, the load's mix of
/// operations, and the message duplication and reordering of each `network` line.
struct Knobs {
    rng: Rng,
    /// Appended to every server's `start` line.
    server_flags: String,
    /// Appended to every `load-start` line.
    load_mix: String,
}

/// Snapshot thresholds (applied entries): mostly a few, so that most seeds compact often and
/// lagging followers get InstallSnapshot; sometimes the simulator's and the product's default.
const SNAPSHOT_THRESHOLDS: [u64; 10] = [2, 3, 4, 6, 8, 12, 16, 32, 64, 8192];
/// InstallSnapshot chunk sizes (bytes): down to a few bytes, up to the product's default. A
/// snapshot of the fuzz load's state takes some kilobytes: at 16 bytes a chunk, a transfer
/// needs hundreds of chunks (tens of round trips, in bursts) and fits the liveness bound.
const SNAPSHOT_CHUNKS_BYTES: [u64; 16] = [
    16, 16, 64, 100, 256, 1024, 1024, 4096, 4096, 65536, 65536, 65536, 262_144, 262_144, 262_144,
    262_144,
];
/// With large values a snapshot holds megabytes: chunks at least this big keep a transfer to
/// a few hundred chunks (at 1 KiB, ten thousand would outlast the liveness bound).
const SNAPSHOT_CHUNK_BYTES_MIN_LARGE: u64 = 16 * 1024;
/// Thresholds at least this with large values: every compaction copies the whole store.
const SNAPSHOT_THRESHOLD_MIN_LARGE: u64 = 16;

/// The share of seeds whose load registers agent services (`svc%`), in percent.
pub const SERVICE_SEEDS_PERCENT: u64 = 50;

/// ` svc%=N` for a share of seeds, else nothing; from a stream of its own, so that the knobs
/// drawn before it (and so every other line of a schedule) are what they were without it.
fn service_mix(seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x5e5f_1ce5);
    if !rng.chance(SERVICE_SEEDS_PERCENT, 100) {
        return String::new();
    }
    format!(" svc%={}", rng.range(5, 40))
}

/// The share of seeds whose load takes locks and runs transactions, in percent.
pub const COORDINATION_SEEDS_PERCENT: u64 = 50;
/// Lock-delays of the coordination seeds' sessions (0 disables it, as Consul's does).
const LOCK_DELAYS_MS: [u64; 3] = [0, 500, 2_000];
/// Session TTLs of the coordination seeds (whole seconds, Consul's shortest first).
const SESSION_TTLS_S: [u64; 2] = [10, 15];

/// ` lock%=N txn%=N lock-delay-ms=N session-ttl-s=N` for a share of seeds, else nothing;
/// from a stream of its own, so that every other line of a schedule is what it was without.
fn coordination_mix(seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x10c4_7a11);
    if !rng.chance(COORDINATION_SEEDS_PERCENT, 100) {
        return String::new();
    }
    let lock = rng.range(5, 26);
    let txn = rng.range(5, 26);
    let delay = LOCK_DELAYS_MS[rng.range(0, LOCK_DELAYS_MS.len() as u64) as usize];
    let ttl = SESSION_TTLS_S[rng.range(0, SESSION_TTLS_S.len() as u64) as usize];
    format!(" lock%={lock} txn%={txn} lock-delay-ms={delay} session-ttl-s={ttl}")
}

impl Knobs {
    fn draw(seed: u64) -> Knobs {
        let mut rng = Rng::new(seed ^ 0x6b6e_0b5e);
        let large_percent = if rng.chance(1, 4) {
            rng.range(1, 10)
        } else {
            0
        };
        let mut load_mix = String::new();
        if rng.chance(3, 4) {
            let cas = rng.range(5, 30);
            let delete_cas = rng.range(0, 10);
            let tree = rng.range(0, 8);
            load_mix = format!(" cas%={cas} delete-cas%={delete_cas} tree%={tree}");
        }
        if large_percent > 0 {
            load_mix += &format!(" large%={large_percent}");
        }
        load_mix += &service_mix(seed);
        load_mix += &coordination_mix(seed);
        let pick = |rng: &mut Rng, from: &[u64]| from[rng.range(0, from.len() as u64) as usize];
        let mut threshold = pick(&mut rng, &SNAPSHOT_THRESHOLDS);
        let mut chunk_bytes = pick(&mut rng, &SNAPSHOT_CHUNKS_BYTES);
        if large_percent > 0 {
            threshold = threshold.max(SNAPSHOT_THRESHOLD_MIN_LARGE);
            chunk_bytes = chunk_bytes.max(SNAPSHOT_CHUNK_BYTES_MIN_LARGE);
        }
        let server_flags = format!(
            " -raft-snapshot-threshold {threshold} -raft-snapshot-chunk-bytes {chunk_bytes}"
        );
        Knobs {
            rng,
            server_flags,
            load_mix,
        }
    }

    /// The duplication and reordering settings of one `network` line (often none).
    fn chaos(&mut self) -> String {
        let mut chaos = String::new();
        if self.rng.chance(1, 2) {
            chaos += &format!(" dup%={}", self.rng.range(1, 20));
        }
        if self.rng.chance(1, 2) {
            let (percent, ms) = (self.rng.range(1, 20), self.rng.range(5, 200));
            chaos += &format!(" reorder%={percent} reorder-ms={ms}");
        }
        chaos
    }
}

#[cfg(test)]
mod knobs_tests {
    use super::generate;
    use crate::scenario::parse::parse;

    /// The knobs reach most seeds (a fuzzer whose schedules never snapshot or never duplicate
    /// tests nothing there), and every schedule parses under the strict settings check.
    #[test]
    fn knobs_reach_most_seeds_and_schedules_parse() {
        let seeds = 200;
        let mut counts = [0u64; 6];
        for seed in 0..seeds {
            let text = generate(seed);
            parse(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            let threshold: u64 = text
                .split("-raft-snapshot-threshold ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .expect("every server start names a snapshot threshold");
            let uses = [
                threshold <= 64,
                text.contains(" cas%="),
                text.contains(" dup%="),
                text.contains(" large%="),
                text.contains(" svc%="),
                text.contains(" lock%=") && text.contains("\ncheck-locks\n"),
            ];
            for (count, used) in counts.iter_mut().zip(uses) {
                *count += u64::from(used);
            }
        }
        let [snapshots, cas, dup, large, services, locks] = counts;
        println!(
            "of {seeds} seeds: snapshots {snapshots}, cas {cas}, dup {dup}, large {large}, \
             services {services}, locks {locks}"
        );
        assert!(locks * 3 >= seeds, "locks in {locks} of {seeds}");
        assert!(
            snapshots * 10 >= seeds * 8,
            "snapshots in {snapshots} of {seeds}"
        );
        assert!(cas * 2 >= seeds && dup * 5 >= seeds && large * 8 >= seeds);
        assert!(services * 3 >= seeds, "services in {services} of {seeds}");
    }
}
