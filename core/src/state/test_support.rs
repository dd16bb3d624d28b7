//! Builders for the state machine's lock, session, txn and restore tests.

use super::StateMachine;
use crate::agent::command::Command;
use crate::catalog::test_support::{catalog, check, register, register_checks};
use crate::catalog::CheckStatus;
use crate::kv::txn::{TxnOp, TxnVerb};
use crate::kv::{KvCommand, KvEntry};
use crate::session::{Behavior, Session, SessionCommand, SessionSpec};

/// A session `id` on `node` with the default checks (serfHealth) and `lock_delay_ns`.
pub(crate) fn session(id: &str, node: &str, behavior: Behavior, lock_delay_ns: u64) -> Session {
    let spec = SessionSpec::default();
    Session {
        id: id.into(),
        name: String::new(),
        node: node.into(),
        lock_delay_ns,
        behavior,
        ttl: spec.ttl,
        ttl_ms: None,
        node_checks: spec.node_checks,
        service_checks: Vec::new(),
        create_index: 0,
        modify_index: 0,
    }
}

pub(crate) fn create(session: Session) -> Command {
    Command::Session(SessionCommand::Create(Box::new(session)))
}

pub(crate) fn destroy(id: &str) -> Command {
    Command::Session(SessionCommand::Destroy { id: id.into() })
}

/// Registers `node` with a passing serfHealth and, when `service`, the instance `web1` with a
/// passing check `check:web1`.
pub(crate) fn register_node(state: &mut StateMachine, index: u64, node: &str, service: bool) {
    let command = match service {
        true => register(node, Some(("web1", "web", &[])), &["web1"]),
        false => register(node, None, &[]),
    };
    assert!(state.apply(index, &catalog(command)));
    let serf = check("serfHealth", "", CheckStatus::Passing);
    assert!(state.apply(index + 1, &catalog(register_checks(node, vec![serf]))));
}

/// A state at index 10 with node n1 (serfHealth passing, web1 and its check) and sessions
/// s1 (release, 5 s lock-delay) and s2 (delete, 90 s lock-delay) on it.
pub(crate) fn with_sessions() -> StateMachine {
    let mut state = StateMachine::new();
    register_node(&mut state, 1, "n1", true);
    assert!(state.apply(
        3,
        &create(session("s1", "n1", Behavior::Release, 5_000_000_000))
    ));
    assert!(state.apply(
        4,
        &create(session("s2", "n1", Behavior::Delete, 90_000_000_000))
    ));
    state
}

pub(crate) fn lock(key: &str, value: &str, session: &str) -> Command {
    Command::Kv(KvCommand::Lock {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 3,
        session: session.into(),
    })
}

pub(crate) fn unlock(key: &str, value: &str, session: &str) -> Command {
    Command::Kv(KvCommand::Unlock {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 4,
        session: session.into(),
    })
}

pub(crate) fn set(key: &str, value: &str) -> Command {
    Command::Kv(KvCommand::Set {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
    })
}

pub(crate) fn entry(state: &StateMachine, key: &str) -> KvEntry {
    state
        .kv()
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("{key} exists"))
}

/// A txn operation with the fields it uses.
pub(crate) fn op(verb: TxnVerb, key: &str, value: &str, index: u64, session: &str) -> TxnOp {
    TxnOp {
        verb,
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
        index,
        session: session.into(),
    }
}
