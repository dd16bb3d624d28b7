//! The core stays sans-IO: no async runtime, no files or sockets, no clock, no unseeded
//! randomness, no unordered maps, and no dependency that could bring them in.

use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "madsim",
    "async fn",
    ".await",
    "std::fs",
    "std::net",
    "std::time",
    "Instant::now",
    "SystemTime",
    "thread_rng",
    "rand::random",
    "HashMap",
    "HashSet",
    "std::thread",
    "std::process",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_sources_do_no_io() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10, "scanned too few files: {files:?}");
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            // A `Duration` is a plain value, no clock: the one item of std::time allowed.
            let code = line
                .split("//")
                .next()
                .unwrap_or("")
                .replace("std::time::Duration", "Duration");
            for pattern in FORBIDDEN {
                if code.contains(pattern) {
                    hits.push(format!(
                        "{}:{}: {pattern}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "core must stay sans-IO:\n{}",
        hits.join("\n")
    );
}

#[test]
fn core_depends_only_on_pure_crates() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['=', ' ', '.']).next())
        .filter(|n| !n.trim().is_empty())
        .collect();
    for name in &names {
        assert!(
            // sha2: a restore's integrity check (pure computation, no I/O); serde_bytes:
            // byte vectors encoded in one piece (the same bincode bytes, not byte by byte).
            ["serde", "bincode", "sha2", "serde_bytes"].contains(&name.trim()),
            "core depends on {name}: only pure crates allowed"
        );
    }
    assert!(!names.is_empty());
}
