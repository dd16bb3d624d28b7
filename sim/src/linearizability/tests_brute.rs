//! Cross-check of the search against brute force on many small random histories, half of
//! them changed at random (a read's value, or a cas's result) so both verdicts occur. The
//! brute force shares only the model with the search: it tries every subset of the
//! unknown-outcome operations and every order of the chosen ones, keeping the orders that
//! respect real time. It validates the search's pruning rules, which it does not use.

use super::history::{KvOp, KvOutcome, Operation};
use super::model::{step, KeyState};
use super::partition::{partition, KeyHistory};
use super::testgen::{history, Shape};
use super::testkit::Rng;
use super::{check, Verdict};

/// Small enough for brute force (operations! orders at worst), big enough to interleave, with
/// many timeouts since they are what the pruning rules are about.
const SMALL: Shape = Shape {
    clients: 4,
    keys: 1,
    ops: 8,
    unknown_percent: 35,
    sequential: false,
    cas: true,
};
/// Histories tried per shape (with and without cas).
const SEEDS: u64 = 2_000;

#[test]
fn search_agrees_with_brute_force() {
    for cas in [true, false] {
        let shape = Shape { cas, ..SMALL };
        let mut violations = 0;
        for seed in 0..SEEDS {
            let mut rng = Rng::new(seed);
            let mut ops = history(&mut rng, shape);
            if rng.percent(50) {
                change_one(&mut rng, &mut ops);
            }
            let keys = partition(&ops).expect("well-formed");
            let expected = keys.values().all(brute_force);
            let verdict = check(&ops);
            let found = verdict == Verdict::Linearizable;
            assert_eq!(
                found, expected,
                "cas {cas}, seed {seed}: {verdict:?}\n{ops:#?}"
            );
            violations += usize::from(!expected);
        }
        println!("brute force, cas {cas}: {violations} of {SEEDS} not linearizable");
        assert!(violations > SEEDS as usize / 10 && violations < SEEDS as usize / 2);
    }
}

/// Flips a random completed cas's result, or (mostly) calls `change_a_read`.
fn change_one(rng: &mut Rng, ops: &mut [Operation]) {
    let cas: Vec<usize> = (0..ops.len())
        .filter(|i| matches!(ops[*i].outcome, KvOutcome::Ok | KvOutcome::Rejected))
        .filter(|i| matches!(ops[*i].op, KvOp::Cas { .. } | KvOp::DeleteCas { .. }))
        .collect();
    if cas.is_empty() || rng.percent(70) {
        return change_a_read(rng, ops);
    }
    let op = &mut ops[cas[rng.below(cas.len() as u64) as usize]];
    op.outcome = match op.outcome {
        KvOutcome::Ok => KvOutcome::Rejected,
        _ => KvOutcome::Ok,
    };
}

/// Sets a random read's result to a random value written to its key, or absent.
fn change_a_read(rng: &mut Rng, ops: &mut [Operation]) {
    let mut values: Vec<Option<Vec<u8>>> = vec![None];
    for op in ops.iter() {
        if let KvOp::Put { value, .. } | KvOp::Cas { value, .. } = &op.op {
            values.push(Some(value.clone()));
        }
    }
    let reads: Vec<usize> = (0..ops.len())
        .filter(|i| matches!(ops[*i].outcome, KvOutcome::Value(_)))
        .collect();
    if reads.is_empty() {
        return;
    }
    let read = reads[rng.below(reads.len() as u64) as usize];
    let value = values[rng.below(values.len() as u64) as usize].clone();
    ops[read].outcome = KvOutcome::Value(value);
}

fn brute_force(h: &KeyHistory) -> bool {
    let optional: Vec<usize> = (0..h.ops.len()).filter(|i| !h.ops[*i].required).collect();
    (0..1u32 << optional.len()).any(|mask| {
        let chosen: Vec<usize> = (0..h.ops.len())
            .filter(|i| match optional.iter().position(|o| o == i) {
                Some(bit) => mask & (1 << bit) != 0,
                None => true,
            })
            .collect();
        orders(h, &chosen, &mut Vec::new(), KeyState::ABSENT)
    })
}

/// Whether some order of `remaining`, after `placed` (which led to `state`), is legal.
fn orders(h: &KeyHistory, remaining: &[usize], placed: &mut Vec<usize>, state: KeyState) -> bool {
    if remaining.is_empty() {
        return true;
    }
    for (k, &i) in remaining.iter().enumerate() {
        // Real time: nothing placed before i may have been invoked after i returned.
        if placed.iter().any(|&p| h.ops[i].ret < h.ops[p].invoke) {
            continue;
        }
        let Ok(next) = step(state, h.ops[i].action, h.track_index) else {
            continue;
        };
        let rest: Vec<usize> = [&remaining[..k], &remaining[k + 1..]].concat();
        placed.push(i);
        let found = next.states().any(|next| orders(h, &rest, placed, next));
        placed.pop();
        if found {
            return true;
        }
    }
    false
}
