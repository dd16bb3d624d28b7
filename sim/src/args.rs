//! Argument helpers both builds of the binary share (the simulator's `cli.rs` and the real
//! runner's `real_cli.rs`).

use concord_node::PlantedBug;

pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A `# key: value` header line of a scenario file.
pub fn header(text: &str, key: &str) -> Option<String> {
    let prefix = format!("# {key}:");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.trim().to_string())
}

pub fn parse_bug(name: Option<String>) -> Result<PlantedBug, String> {
    match name.as_deref() {
        None | Some("none") => Ok(PlantedBug::None),
        Some(name) => PlantedBug::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = PlantedBug::all().into_iter().map(|b| b.name()).collect();
            format!("unknown planted bug {name} (known: {})", known.join(", "))
        }),
    }
}

pub fn default_seed() -> u64 {
    std::env::var("MADSIM_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

pub fn parse_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.split_once("..")?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}

/// `--margins`: one line per `expect ... within D` that passed, for `cargo xtask real compare`.
pub fn print_margins(margins: &[concord_sim::world::Margin]) {
    for margin in margins {
        println!(
            "margin line={} took_ms={} bound_ms={}",
            margin.line, margin.took_ms, margin.bound_ms
        );
    }
}

/// `schedule --seed N`: prints the fuzz schedule of a seed (the same text both worlds run).
pub fn print_schedule(args: &[String]) -> i32 {
    match flag(args, "--seed").map(|s| s.parse::<u64>()) {
        Some(Ok(seed)) => {
            print!("{}", concord_sim::fuzz::schedule::generate(seed));
            0
        }
        Some(Err(e)) => {
            eprintln!("schedule: --seed: {e}");
            2
        }
        None => {
            eprintln!("usage: concord-sim schedule --seed N");
            2
        }
    }
}
