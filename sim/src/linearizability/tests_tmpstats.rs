use super::testgen::{corrupt_one_read, history, Shape};
use super::testkit::Rng;
use super::{check, KvOp, KvOutcome, Verdict};
use std::time::Instant;

#[test]
fn tmp_stats() {
    for cas in [false, true] {
        for (clients, keys, ops, unknown) in [
            (8, 1, 2000, 20),
            (16, 1, 2000, 10),
            (16, 1, 5000, 30),
            (32, 1, 5000, 30),
            (64, 1, 5000, 10),
            (64, 2, 20000, 20),
        ] {
            for seed in 0..2 {
                let shape = Shape {
                    clients,
                    keys,
                    ops,
                    unknown_percent: unknown,
                    sequential: false,
                    cas,
                };
                let h = history(&mut Rng::new(seed), shape);
                let unknown_vals: Vec<Vec<u8>> = h
                    .iter()
                    .filter_map(|o| match (&o.op, &o.outcome) {
                        (KvOp::Put { value, .. } | KvOp::Cas { value, .. }, KvOutcome::Unknown) => {
                            Some(value.clone())
                        }
                        _ => None,
                    })
                    .collect();
                let seen = h.iter().filter(|o| matches!(&o.outcome, KvOutcome::Value(Some(v)) if unknown_vals.contains(v))).count();
                let t = Instant::now();
                let v = check(&h);
                let t1 = t.elapsed();
                let (c, _key) = corrupt_one_read(&h).unwrap();
                let t = Instant::now();
                let v2 = check(&c);
                let t2 = t.elapsed();
                println!("cas {cas} {clients}c {keys}k {ops}ops {unknown}%: unknown writes {}, reads of them {seen}; {:?} {t1:?}; corrupted {} {t2:?}", unknown_vals.len(), matches!(v, Verdict::Linearizable), match v2 { Verdict::NotLinearizable{..} => "NL".to_string(), o => format!("{o:?}") });
            }
        }
    }
}
