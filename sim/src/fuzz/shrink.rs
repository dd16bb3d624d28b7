//! Shrinking a failing schedule: remove safety-phase lines while the run still fails the same
//! way (greedy delta debugging, chunks halving down to single lines), then save the smallest
//! schedule as a scenario file that replays it, and its timeline as HTML.

use super::{failure_path, run_schedule, schedule};
use concord_node::PlantedBug;
use std::path::PathBuf;

/// Runs of the shrinker per failure, at most.
pub const SHRINK_RUNS_MAX: usize = 400;

pub struct Saved {
    pub scenario: PathBuf,
    pub timeline: PathBuf,
    pub lines_before: usize,
    pub lines_after: usize,
}

/// The kind of a failure: what property broke (the text before the first detail).
pub fn failure_kind(failure: &str) -> String {
    const KINDS: [&str; 15] = [
        // `checker/catalog_synced.rs`: anti-entropy did not converge.
        "the catalog still differs",
        // The coordination checkers (`lock_holders.rs`, `fencing.rs`, `txn_atomic.rs`) and
        // the liveness of locks (`check-locks`).
        "lock holders",
        "lock index",
        "lock grants",
        "fencing",
        "txn not atomic",
        "check-locks",
        "election safety",
        "state machine safety",
        "leader completeness",
        "acknowledged write lost",
        "not linearizable",
        "panic",
        "no write committed",
        "leader",
    ];
    KINDS
        .iter()
        .find(|k| failure.contains(*k))
        .map_or_else(|| "other".to_string(), |k| k.to_string())
}

/// Shrinks `seed`'s schedule while it fails like `failure`; writes the scenario and timeline.
pub fn shrink_and_save(seed: u64, bug: PlantedBug, failure: &str) -> Saved {
    let kind = failure_kind(failure);
    let lines: Vec<String> = schedule::generate(seed).lines().map(String::from).collect();
    let begin = lines
        .iter()
        .position(|l| l == schedule::SAFETY_BEGIN)
        .map_or(0, |i| i + 1);
    let end = lines
        .iter()
        .position(|l| l == schedule::SAFETY_END)
        .unwrap_or(lines.len());
    let (head, middle, tail) = (
        lines[..begin].to_vec(),
        lines[begin..end].to_vec(),
        lines[end..].to_vec(),
    );
    let still_fails = |middle: &[String]| -> bool {
        let text = [head.as_slice(), middle, tail.as_slice()]
            .concat()
            .join("\n")
            + "\n";
        let outcome = run_schedule(seed, bug, text);
        outcome
            .failure
            .as_deref()
            .is_some_and(|f| failure_kind(f) == kind)
    };
    let middle = shrink_lines(middle, still_fails);
    let text = [head.as_slice(), middle.as_slice(), tail.as_slice()]
        .concat()
        .join("\n")
        + "\n";
    // One more run of the smallest schedule, drawn (runs are deterministic: it fails again).
    let last = super::run_schedule_with_timeline(seed, bug, text.clone());
    let failure_text = last.failure.clone().unwrap_or_else(|| failure.to_string());
    save(
        seed,
        bug,
        &failure_text,
        &text,
        lines.len(),
        &last.timeline_html,
    )
}

/// Greedy chunk removal; returns the smallest failing lines.
fn shrink_lines(mut lines: Vec<String>, still_fails: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut runs = 0;
    let mut chunk = lines.len().div_ceil(2).max(1);
    while chunk >= 1 && runs < SHRINK_RUNS_MAX {
        let mut start = 0;
        let mut removed_any = false;
        while start < lines.len() && runs < SHRINK_RUNS_MAX {
            let end = (start + chunk).min(lines.len());
            // `start` lines stay: later lines (and the liveness phase) name the nodes they start.
            let kept = lines[start..end].iter().filter(|l| l.starts_with("start "));
            let candidate: Vec<String> = lines[..start]
                .iter()
                .chain(kept)
                .chain(&lines[end..])
                .cloned()
                .collect();
            if candidate.len() == lines.len() {
                start = end;
                continue;
            }
            runs += 1;
            if still_fails(&candidate) {
                lines = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = if chunk == 1 { 1 } else { chunk / 2 };
    }
    lines
}

fn save(
    seed: u64,
    bug: PlantedBug,
    failure: &str,
    text: &str,
    lines_before: usize,
    html: &str,
) -> Saved {
    let scenario = failure_path(seed, bug, "scn");
    let timeline = failure_path(seed, bug, "html");
    let _ = std::fs::create_dir_all(scenario.parent().expect("has a parent"));
    let header = format!(
        "# seed: {seed}\n# bug: {}\n# failure: {}\n# replay: cargo xtask sim run {}\n",
        bug.name(),
        failure.replace('\n', " "),
        scenario.display()
    );
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("# fuzz schedule"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&scenario, format!("{header}{body}")).expect("write the shrunk scenario");
    std::fs::write(&timeline, html).expect("write the timeline");
    let lines_after = body.lines().count();
    let scenario = std::fs::canonicalize(&scenario).unwrap_or(scenario);
    let timeline = std::fs::canonicalize(&timeline).unwrap_or(timeline);
    Saved {
        scenario,
        timeline,
        lines_before,
        lines_after,
    }
}
