//! Test history generators: clients run operations against a real linearizable register, each
//! taking effect at one instant between its invoke and return (or, if it timed out, maybe
//! later or never). What they produce is linearizable by construction; `corrupt_one_read`
//! then makes it provably not.

use std::collections::BTreeMap;

use super::history::{KvOp, KvOutcome, Operation};
use super::testkit::Rng;

/// Time a client waits between operations, at most.
const THINK_MS_MAX: u64 = 10;
/// Time from invoke to effect, and from effect to return, at most.
const LATENCY_MS_MAX: u64 = 30;
/// A client gives up on an operation after this long.
const TIMEOUT_MS: u64 = 100;
/// A timed-out operation takes effect at most this long after its invoke.
const LATE_EFFECT_MS_MAX: u64 = 400;

#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub clients: u64,
    pub keys: u64,
    pub ops: usize,
    /// Percentage of operations that time out (half of them take effect anyway).
    pub unknown_percent: u64,
    /// Whether each operation starts after the previous one returned (no concurrency).
    pub sequential: bool,
    /// Whether clients also use cas and delete-cas (which make the model track ModifyIndex).
    pub cas: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Put,
    Get,
    Delete,
    Cas,
    DeleteCas,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Completes,
    TimesOut { applied: bool },
    Refused,
}

struct Planned {
    client: u64,
    kind: Kind,
    key: String,
    invoke: u64,
    effect_at: u64,
    ret: u64,
    fate: Fate,
}

pub(super) fn history(rng: &mut Rng, shape: Shape) -> Vec<Operation> {
    let planned = plan(rng, shape);
    settle(rng, &planned)
}

/// Who does what when, before any outcome is known.
fn plan(rng: &mut Rng, shape: Shape) -> Vec<Planned> {
    let mut free = vec![0u64; shape.clients as usize];
    let mut planned = Vec::with_capacity(shape.ops);
    for _ in 0..shape.ops {
        // The least busy client goes next, so clients overlap in time.
        let client = (0..free.len()).min_by_key(|c| free[*c]).unwrap_or(0);
        let start = match shape.sequential {
            true => free.iter().copied().max().unwrap_or(0),
            false => free[client],
        };
        let invoke = start + rng.below(THINK_MS_MAX);
        let kinds = [
            Kind::Put,
            Kind::Put,
            Kind::Get,
            Kind::Get,
            Kind::Delete,
            Kind::Cas,
            Kind::DeleteCas,
        ];
        let kinds = &kinds[..kinds.len() - 2 * usize::from(!shape.cas)];
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let fate = match rng.below(100) {
            p if p < shape.unknown_percent => Fate::TimesOut {
                applied: rng.percent(50),
            },
            p if p < shape.unknown_percent + 2 => Fate::Refused,
            _ => Fate::Completes,
        };
        let (effect_at, ret) = match fate {
            Fate::TimesOut { .. } => (invoke + rng.below(LATE_EFFECT_MS_MAX), invoke + TIMEOUT_MS),
            _ => {
                let effect_at = invoke + rng.below(LATENCY_MS_MAX);
                (effect_at, effect_at + rng.below(LATENCY_MS_MAX))
            }
        };
        free[client] = ret;
        let key = format!("k{}", rng.below(shape.keys));
        let client = client as u64;
        planned.push(Planned {
            client,
            kind,
            key,
            invoke,
            effect_at,
            ret,
            fate,
        });
    }
    planned
}

/// Runs the planned operations on a register in effect order, and records what clients saw.
fn settle(rng: &mut Rng, planned: &[Planned]) -> Vec<Operation> {
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|i| (planned[*i].effect_at, *i));
    let mut register: BTreeMap<String, (Vec<u8>, u64)> = BTreeMap::new();
    let mut last_index = 0;
    let mut settled: BTreeMap<usize, Operation> = BTreeMap::new();
    for i in order {
        let p = &planned[i];
        let current = register.get(&p.key).map_or(0, |(_, index)| *index);
        let value = format!("v{i}").into_bytes();
        let key = p.key.clone();
        let (op, observed, applies) = match p.kind {
            Kind::Put => (KvOp::Put { key, value }, None, true),
            Kind::Delete => (KvOp::Delete { key }, None, true),
            Kind::Get => (
                KvOp::Get { key },
                register.get(&p.key).map(|e| e.0.clone()),
                false,
            ),
            Kind::Cas => {
                let expect = draw_expect(rng, current, last_index);
                let expect_modify_index = expect;
                (
                    KvOp::Cas {
                        key,
                        value,
                        expect_modify_index,
                    },
                    None,
                    current == expect,
                )
            }
            Kind::DeleteCas => {
                let expect = draw_expect(rng, current, last_index);
                // Applied when absent, whatever it expects (as Consul's).
                let applies = current == 0 || current == expect;
                let expect_modify_index = expect;
                let op = KvOp::DeleteCas {
                    key,
                    expect_modify_index,
                };
                (op, None, applies)
            }
        };
        let takes_effect = matches!(p.fate, Fate::Completes | Fate::TimesOut { applied: true });
        let index = (applies && takes_effect).then(|| {
            last_index += 1;
            last_index
        });
        if let (Some(index), KvOp::Put { value, .. } | KvOp::Cas { value, .. }) = (index, &op) {
            register.insert(p.key.clone(), (value.clone(), index));
        } else if let (Some(_), KvOp::Delete { .. } | KvOp::DeleteCas { .. }) = (index, &op) {
            register.remove(&p.key);
        }
        let outcome = match (p.fate, p.kind) {
            (Fate::Refused, _) => KvOutcome::Failed,
            (Fate::TimesOut { .. }, _) => KvOutcome::Unknown,
            (Fate::Completes, Kind::Get) => KvOutcome::Value(observed),
            (Fate::Completes, Kind::Cas | Kind::DeleteCas) if !applies => KvOutcome::Rejected,
            (Fate::Completes, _) => KvOutcome::Ok,
        };
        let mut operation = Operation::new(p.client, op, outcome, p.invoke, p.ret);
        operation.index = index.filter(|_| p.fate == Fate::Completes);
        settled.insert(i, operation);
    }
    settled.into_values().collect()
}

/// Half the time the client knows the current index, so some cas apply.
fn draw_expect(rng: &mut Rng, current: u64, last_index: u64) -> u64 {
    if rng.percent(50) {
        current
    } else {
        rng.below(last_index + 1)
    }
}

/// Makes one read provably stale: a read that started after a completed write w2 returned,
/// where w2 started after a completed put w returned, now sees w's value (values are unique,
/// so only w wrote it, and w2 lies between w and the read). Returns the history and the key.
pub(super) fn corrupt_one_read(history: &[Operation]) -> Option<(Vec<Operation>, String)> {
    let completed_write =
        |o: &Operation| !matches!(o.op, KvOp::Get { .. }) && o.outcome == KvOutcome::Ok;
    for (r, read) in history.iter().enumerate() {
        let (KvOp::Get { key }, KvOutcome::Value(seen)) = (&read.op, &read.outcome) else {
            continue;
        };
        let same_key = |o: &&Operation| o.op.key() == key;
        let later = history
            .iter()
            .filter(same_key)
            .filter(|w2| completed_write(w2) && w2.return_ms < read.invoke_ms);
        for w2 in later {
            let earlier = history
                .iter()
                .filter(same_key)
                .find_map(|w| match (&w.op, &w.outcome) {
                    (KvOp::Put { value, .. }, KvOutcome::Ok)
                        if w.return_ms < w2.invoke_ms && seen.as_ref() != Some(value) =>
                    {
                        Some(value.clone())
                    }
                    _ => None,
                });
            if let Some(value) = earlier {
                let mut corrupted = history.to_vec();
                corrupted[r].outcome = KvOutcome::Value(Some(value));
                return Some((corrupted, key.clone()));
            }
        }
    }
    None
}
