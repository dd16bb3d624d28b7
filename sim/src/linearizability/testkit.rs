//! Test helpers: short constructors for operations, and a small deterministic PRNG.

use super::history::{KvOp, KvOutcome, Operation};

pub(super) fn put(client: u64, key: &str, value: &str, invoke: u64, ret: u64) -> Operation {
    let op = KvOp::Put {
        key: key.into(),
        value: value.into(),
    };
    Operation::new(client, op, KvOutcome::Ok, invoke, ret)
}

/// A put that timed out at the client.
pub(super) fn put_unknown(client: u64, key: &str, value: &str, invoke: u64) -> Operation {
    let mut op = put(client, key, value, invoke, u64::MAX);
    op.outcome = KvOutcome::Unknown;
    op
}

pub(super) fn get(client: u64, key: &str, seen: Option<&str>, invoke: u64, ret: u64) -> Operation {
    let outcome = KvOutcome::Value(seen.map(|v| v.as_bytes().to_vec()));
    Operation::new(client, KvOp::Get { key: key.into() }, outcome, invoke, ret)
}

pub(super) fn delete(client: u64, key: &str, invoke: u64, ret: u64) -> Operation {
    let op = KvOp::Delete { key: key.into() };
    Operation::new(client, op, KvOutcome::Ok, invoke, ret)
}

pub(super) fn cas(
    client: u64,
    key: &str,
    value: &str,
    expect: u64,
    outcome: KvOutcome,
    invoke: u64,
    ret: u64,
) -> Operation {
    let op = KvOp::Cas {
        key: key.into(),
        value: value.into(),
        expect_modify_index: expect,
    };
    Operation::new(client, op, outcome, invoke, ret)
}

pub(super) fn delete_cas(
    client: u64,
    key: &str,
    expect: u64,
    outcome: KvOutcome,
    invoke: u64,
    ret: u64,
) -> Operation {
    let op = KvOp::DeleteCas {
        key: key.into(),
        expect_modify_index: expect,
    };
    Operation::new(client, op, outcome, invoke, ret)
}

/// SplitMix64: tiny, deterministic, good enough to generate test histories.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0; the modulo bias is irrelevant here).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(super) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}
