//! Transactions on the agent (`PUT /v1/txn`). One of reads only is a read: served where its
//! consistency says (`requests.rs::route`), through ReadIndex when consistent, answered from
//! `StateMachine::read_txn`, never written to the log. One that writes is checked here (count,
//! sizes, lock-delay) and proposed as one `Command::Txn`, applied all or nothing; its answer
//! comes from the apply (`apply.rs`).

use super::api::{ApiError, Consistency, Response};
use super::command::Command;
use super::pending::{Origin, PendingRead};
use super::Agent;
use crate::kv::txn::{TxnError, TxnOp, TxnOutcome, TxnVerb, TXN_OPS_MAX};
use crate::kv::{KvError, KEY_SIZE_BYTES_MAX, VALUE_SIZE_BYTES_MAX};
use crate::session::SESSION_ID_BYTES_MAX;

impl Agent {
    /// Serves `Request::Txn` on the place `route` chose.
    pub(super) fn serve_txn(&mut self, origin: Origin, ops: Vec<TxnOp>, consistency: Consistency) {
        if let Err(e) = validate_txn(&ops) {
            return self.reply(origin, Err(e));
        }
        if ops.iter().all(|op| op.verb.is_read()) {
            return match consistency {
                Consistency::Consistent => {
                    self.start_consistent_read(origin, PendingRead::Txn(ops))
                }
                Consistency::Default | Consistency::Stale => {
                    let response = self.answer_txn_read(&ops);
                    self.reply(origin, Ok(response))
                }
            };
        }
        if ops.iter().any(|op| op.verb == TxnVerb::Lock) {
            if let Err(error) = self.check_caught_up("transaction") {
                return self.reply(origin, Err(error));
            }
        }
        let errors = self.lock_delay_errors(&ops);
        if !errors.is_empty() {
            let outcome = TxnOutcome::Failed { errors };
            let response = Response::Txn {
                outcome,
                index: 0,
                meta: None,
            };
            return self.reply(origin, Ok(response));
        }
        self.propose_and_wait(origin, Command::Txn(ops));
    }

    /// A read-only transaction's answer from this server's state.
    pub(super) fn answer_txn_read(&self, ops: &[TxnOp]) -> Response {
        let outcome = self.state.read_txn(ops);
        Response::Txn {
            outcome,
            index: 0,
            meta: Some(self.query_meta(self.state.kv().index())),
        }
    }

    /// Consul's leader refuses a transaction's lock on a key under lock-delay before the
    /// log (`failed to lock key "k" due to lock delay`), every such op listed.
    fn lock_delay_errors(&self, ops: &[TxnOp]) -> Vec<TxnError> {
        let delayed = |op: &TxnOp| {
            op.verb == TxnVerb::Lock
                && (self.lock_delays)
                    .delayed_until(&op.key, self.now_ms)
                    .is_some()
        };
        let errors = ops.iter().enumerate().filter(|(_, op)| delayed(op));
        errors
            .map(|(op_index, op)| TxnError {
                op_index,
                what: format!("failed to lock key {:?} due to lock delay", op.key),
            })
            .collect()
    }
}

/// Refuses a transaction the log could not carry: more than `TXN_OPS_MAX` operations, a key
/// or value over its bound, or more key, value and session bytes in all than one value may
/// have (so one `Command::Txn` fits the log's bound on a command, as a KV write does).
pub fn validate_txn(ops: &[TxnOp]) -> Result<(), ApiError> {
    if ops.len() > TXN_OPS_MAX {
        let why = format!(
            "Transaction contains too many operations ({} > {TXN_OPS_MAX})",
            ops.len()
        );
        return Err(ApiError::BadRequest(why));
    }
    for op in ops {
        if op.key.len() > KEY_SIZE_BYTES_MAX {
            return Err(ApiError::Kv(KvError::KeyTooLarge {
                size_bytes: op.key.len(),
                size_bytes_max: KEY_SIZE_BYTES_MAX,
            }));
        }
        if op.session.len() > SESSION_ID_BYTES_MAX {
            return Err(ApiError::Kv(KvError::SessionTooLong {
                size_bytes: op.session.len(),
                size_bytes_max: SESSION_ID_BYTES_MAX,
            }));
        }
    }
    let total_bytes: usize = ops
        .iter()
        .map(|op| op.payload_bytes() + op.session.len())
        .sum();
    if total_bytes > VALUE_SIZE_BYTES_MAX {
        return Err(ApiError::Kv(KvError::ValueTooLarge {
            size_bytes: total_bytes,
            size_bytes_max: VALUE_SIZE_BYTES_MAX,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::COMMAND_SIZE_BYTES_MAX;

    fn op(verb: TxnVerb, key: &str, value_bytes: usize) -> TxnOp {
        TxnOp {
            verb,
            key: key.into(),
            value: vec![7; value_bytes],
            flags: u64::MAX,
            index: u64::MAX,
            session: String::new(),
        }
    }

    #[test]
    fn counts_and_sizes_are_bounded() {
        let many = vec![op(TxnVerb::Set, "k", 1); TXN_OPS_MAX + 1];
        let error = validate_txn(&many).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Transaction contains too many operations (65 > 64)"
        );
        assert!(validate_txn(&many[1..]).is_ok());
        let heavy = vec![op(TxnVerb::Set, "a", VALUE_SIZE_BYTES_MAX / 2); 2];
        assert!(matches!(
            validate_txn(&heavy),
            Err(ApiError::Kv(KvError::ValueTooLarge { .. }))
        ));
        let long_key = "k".repeat(KEY_SIZE_BYTES_MAX + 1);
        let error = validate_txn(&[op(TxnVerb::Get, &long_key, 0)]).unwrap_err();
        assert!(matches!(error, ApiError::Kv(KvError::KeyTooLarge { .. })));
        let mut long_session = op(TxnVerb::Lock, "k", 0);
        long_session.session = "s".repeat(SESSION_ID_BYTES_MAX + 1);
        let error = validate_txn(&[long_session]).unwrap_err();
        assert!(matches!(
            error,
            ApiError::Kv(KvError::SessionTooLong { .. })
        ));
    }

    #[test]
    fn the_largest_accepted_transaction_fits_one_command() {
        // 64 ops, their keys, values and sessions at the total bound, every number at its widest.
        let per_op = VALUE_SIZE_BYTES_MAX / TXN_OPS_MAX;
        let mut ops = vec![op(TxnVerb::Lock, "k", per_op - 1 - 36); TXN_OPS_MAX];
        for op in &mut ops {
            op.session = "0".repeat(36);
        }
        assert!(validate_txn(&ops).is_ok());
        let encoded = Command::Txn(ops).encode();
        assert!(encoded.len() <= COMMAND_SIZE_BYTES_MAX, "{}", encoded.len());
    }
}
