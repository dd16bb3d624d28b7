//! Cross-check of the search against brute force on many small random histories, half of
//! them with a read changed at random (so both verdicts occur). The brute force shares only
//! the model with the search: it tries every subset of the unknown-outcome operations and
//! every order of the chosen ones, keeping the orders that respect real time.

use super::history::{KvOp, KvOutcome, Operation};
use super::model::{step, KeyState};
use super::partition::{partition, KeyHistory};
use super::testgen::{history, Shape};
use super::testkit::Rng;
use super::{check, Verdict};

/// Small enough for brute force (operations^operations at worst), big enough to interleave.
const SMALL: Shape = Shape {
    clients: 4,
    keys: 1,
    ops: 8,
    unknown_percent: 35,
    sequential: false,
    cas: true,
};
const SEEDS: u64 = 100_000;

#[test]
fn search_agrees_with_brute_force() {
    let mut violations = 0;
    for seed in 0..SEEDS {
        let mut rng = Rng::new(seed);
        let mut ops = history(&mut rng, SMALL);
        if rng.percent(50) {
            change_a_read(&mut rng, &mut ops);
        }
        let keys = partition(&ops).expect("well-formed");
        let expected = keys.values().all(brute_force);
        let verdict = check(&ops);
        assert_eq!(
            verdict == Verdict::Linearizable,
            expected,
            "seed {seed}: {ops:#?}"
        );
        violations += usize::from(!expected);
    }
    println!("brute force: {violations} of {SEEDS} small histories not linearizable");
    assert!(violations > SEEDS as usize / 10 && violations < SEEDS as usize / 2);
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
