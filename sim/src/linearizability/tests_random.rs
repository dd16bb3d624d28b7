//! Generated histories: a real register's histories pass, a corrupted read fails, and big
//! cases finish fast (timings are printed; run with `--nocapture` to see them).

use std::time::{Duration, Instant};

use super::testgen::{corrupt_one_read, history, Shape};
use super::testkit::Rng;
use super::{check, Operation, Verdict};

/// Generous wall-clock bound for the big cases: debug build, shared 2-core machine.
const BIG_CASE_DURATION_MAX: Duration = Duration::from_secs(20);
/// Seeds tried for the concurrent cases.
const SEEDS: u64 = 20;

fn timed_check(history: &[Operation]) -> (Verdict, Duration) {
    let start = Instant::now();
    let verdict = check(history);
    (verdict, start.elapsed())
}

const CONCURRENT: Shape = Shape {
    clients: 5,
    keys: 4,
    ops: 200,
    unknown_percent: 5,
    sequential: false,
    cas: true,
};

#[test]
fn sequential_1000_ops_check_fast() {
    let shape = Shape {
        clients: 3,
        keys: 4,
        ops: 1_000,
        unknown_percent: 0,
        sequential: true,
        cas: true,
    };
    let history = history(&mut Rng::new(7), shape);
    let (verdict, took) = timed_check(&history);
    println!("sequential, 1000 ops over 4 keys: {took:?}");
    assert_eq!(verdict, Verdict::Linearizable);
    assert!(took < BIG_CASE_DURATION_MAX, "{took:?}");
}

#[test]
fn concurrent_register_histories_pass() {
    let mut slowest = Duration::ZERO;
    for seed in 0..SEEDS {
        let history = history(&mut Rng::new(seed), CONCURRENT);
        let (verdict, took) = timed_check(&history);
        assert_eq!(verdict, Verdict::Linearizable, "seed {seed}");
        slowest = slowest.max(took);
    }
    println!("concurrent, 200 ops, 4 keys, 5 clients: slowest of {SEEDS} seeds {slowest:?}");
}

#[test]
fn concurrent_register_histories_with_one_corrupted_read_fail() {
    let mut slowest = Duration::ZERO;
    for seed in 0..SEEDS {
        let history = history(&mut Rng::new(seed), CONCURRENT);
        let (corrupted, key) = corrupt_one_read(&history).expect("a read to corrupt");
        let (verdict, took) = timed_check(&corrupted);
        match verdict {
            Verdict::NotLinearizable { key: named, .. } => assert_eq!(named, key, "seed {seed}"),
            other => panic!("seed {seed}: expected a violation on {key}, got {other:?}"),
        }
        slowest = slowest.max(took);
    }
    println!("corrupted, 200 ops, 4 keys, 5 clients: slowest of {SEEDS} seeds {slowest:?}");
}

#[test]
fn big_concurrent_history_with_timeouts_checks_fast() {
    let shape = Shape {
        clients: 10,
        keys: 8,
        ops: 5_000,
        unknown_percent: 10,
        sequential: false,
        cas: true,
    };
    let history = history(&mut Rng::new(42), shape);
    let (verdict, took) = timed_check(&history);
    println!("concurrent, 5000 ops, 8 keys, 10 clients, 10% timeouts: {took:?}");
    assert_eq!(verdict, Verdict::Linearizable);
    assert!(took < BIG_CASE_DURATION_MAX, "{took:?}");
    let (corrupted, key) = corrupt_one_read(&history).expect("a read to corrupt");
    let (verdict, took) = timed_check(&corrupted);
    println!("  the same with one corrupted read: {took:?}");
    assert!(matches!(verdict, Verdict::NotLinearizable { key: named, .. } if named == key));
}

#[test]
fn hot_key_with_many_timeouts_checks_fast() {
    // One key, 16 clients always overlapping, a fifth of the operations timing out: the case
    // the pruning rules are for (without them the search gives up).
    let shape = Shape {
        clients: 16,
        keys: 1,
        ops: 2_000,
        unknown_percent: 20,
        sequential: false,
        cas: false,
    };
    let history = history(&mut Rng::new(5), shape);
    let (verdict, took) = timed_check(&history);
    println!("one key, 2000 ops, 16 clients, 20% timeouts: {took:?}");
    assert_eq!(verdict, Verdict::Linearizable);
    assert!(took < BIG_CASE_DURATION_MAX, "{took:?}");
    let (corrupted, key) = corrupt_one_read(&history).expect("a read to corrupt");
    let (verdict, took) = timed_check(&corrupted);
    println!("  the same with one corrupted read: {took:?}");
    assert!(matches!(verdict, Verdict::NotLinearizable { key: named, .. } if named == key));
}
