//! The transaction workload, over the keys `t0..t2` only (no other operation touches them):
//! a group write setting all three to one value unique in the run (half the steps); a
//! conditional write, a cas of `t0` at the ModifyIndex a read just saw plus sets of `t1` and
//! `t2`, all to one value (three steps in ten; some are refused with 409); or a read of all
//! three in one `get-tree` (two in ten), consistent, default or stale.
//!
//! Since every write sets all three keys at once, a read must see them all absent or all
//! equal (`checker/txn_atomic.rs`); and each key's projection of the transactions goes to the
//! linearizability checker (`checker/linearizable.rs`).

use crate::load::Client;
use concord_core::agent::{Consistency, Request, Response};
use concord_core::kv::txn::{TxnOp, TxnOutcome, TxnVerb};

/// How many txn keys there are.
pub const TXN_KEYS: u64 = 3;
/// Every txn key starts with it; a `get-tree` of it reads them all.
pub const TXN_KEY_PREFIX: &str = "t";

/// The txn keys, in order.
pub fn txn_keys() -> Vec<String> {
    (0..TXN_KEYS)
        .map(|n| format!("{TXN_KEY_PREFIX}{n}"))
        .collect()
}

/// One operation of a transaction, with no index or session unless set.
pub fn txn_op(verb: TxnVerb, key: &str, value: &[u8], flags: u64) -> TxnOp {
    TxnOp {
        verb,
        key: key.to_string(),
        value: value.to_vec(),
        flags,
        index: 0,
        session: String::new(),
    }
}

impl Client {
    /// One transaction step (see the module's comment).
    pub(crate) async fn txn_step(&mut self, target: usize, op: u64) {
        match self.rng.range(0, 10) {
            0..=4 => {
                let ops = self.group_write(op, None);
                self.send_txn(target, ops, Consistency::Default).await;
            }
            5..=7 => {
                let consistency = match self.rng.chance(3, 4) {
                    true => Consistency::Consistent,
                    false => Consistency::Stale,
                };
                let seen = self.read_all(target, consistency).await;
                let ops = self.group_write(op, Some(seen.unwrap_or(0)));
                let target = self.pick_target();
                self.send_txn(target, ops, Consistency::Default).await;
            }
            _ => {
                let consistency = match self.rng.range(0, 3) {
                    0 => Consistency::Consistent,
                    1 => Consistency::Default,
                    _ => Consistency::Stale,
                };
                self.read_all(target, consistency).await;
            }
        }
    }

    /// Sets of every txn key to one unique value; with `cas_index`, the first is a cas at it.
    fn group_write(&mut self, op: u64, cas_index: Option<u64>) -> Vec<TxnOp> {
        let (value, flags) = self.value(op, false);
        let mut ops: Vec<TxnOp> = txn_keys()
            .iter()
            .map(|key| txn_op(TxnVerb::Set, key, &value, flags))
            .collect();
        if let Some(index) = cas_index {
            ops[0].verb = TxnVerb::Cas;
            ops[0].index = index;
        }
        ops
    }

    /// Reads every txn key in one transaction; the ModifyIndex of `t0` it saw (0: absent).
    async fn read_all(&mut self, target: usize, consistency: Consistency) -> Option<u64> {
        let ops = vec![txn_op(TxnVerb::GetTree, TXN_KEY_PREFIX, b"", 0)];
        let first = format!("{TXN_KEY_PREFIX}0");
        match self.send_txn(target, ops, consistency).await {
            Some(Response::Txn {
                outcome: TxnOutcome::Committed { entries },
                ..
            }) => Some(
                entries
                    .iter()
                    .find(|e| e.key == first)
                    .map_or(0, |e| e.modify_index),
            ),
            _ => None,
        }
    }

    async fn send_txn(
        &mut self,
        target: usize,
        ops: Vec<TxnOp>,
        consistency: Consistency,
    ) -> Option<Response> {
        self.send(target, Request::Txn { ops, consistency }).await
    }
}
