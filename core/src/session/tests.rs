//! Sessions through the state machine: create re-checked at apply, invalidation (destroy and
//! the catalog sweep) releasing or deleting the session's keys.

use super::{Behavior, ServiceCheck, LOCK_DELAY_NS_MAX};
use crate::catalog::test_support::{catalog, check, register_checks};
use crate::catalog::{CatalogCommand, CheckStatus};
use crate::kv::LockChange;
use crate::state::test_support::*;
use crate::state::{StateMachine, TableId};

#[test]
fn create_is_checked_against_the_catalog_with_consuls_texts() {
    let mut state = StateMachine::new();
    let s = session("s1", "n1", Behavior::Release, 0);
    assert_eq!(
        state.check_session_create(&s),
        Err("Missing node registration".into())
    );
    assert!(!state.apply(1, &create(s.clone())), "re-checked at apply");
    register_node(&mut state, 2, "n1", true);
    assert_eq!(state.check_session_create(&s), Ok(()));
    let mut missing = s.clone();
    missing.node_checks.push("nope".into());
    let error = state.check_session_create(&missing);
    assert_eq!(error, Err("Missing check 'nope' registration".into()));
    let mut on_service = s.clone();
    on_service.service_checks = vec![ServiceCheck {
        id: "check:web1".into(),
        namespace: String::new(),
    }];
    assert_eq!(state.check_session_create(&on_service), Ok(()));
    let critical = check("check:web1", "web1", CheckStatus::Critical);
    assert!(state.apply(4, &catalog(register_checks("n1", vec![critical]))));
    let error = state.check_session_create(&on_service);
    assert_eq!(error, Err("Check 'check:web1' is in critical state".into()));
    assert!(!state.apply(5, &create(on_service)));
    assert!(state.sessions().is_empty());
    assert_eq!(state.table_index(TableId::Sessions), 0);
}

#[test]
fn create_stores_indexes_and_refuses_a_duplicate_id() {
    let mut state = with_sessions();
    let s1 = state.sessions().get("s1").expect("created").clone();
    assert_eq!((s1.create_index, s1.modify_index), (3, 3));
    assert_eq!(state.table_index(TableId::Sessions), 4);
    let before = state.clone();
    assert!(!state.apply(11, &create(session("s1", "n1", Behavior::Delete, 0))));
    assert_eq!(state, before);
    assert_eq!(state.check_invariants(), Ok(()));
}

#[test]
fn destroy_releases_or_deletes_the_keys_with_lock_delay() {
    let mut state = with_sessions();
    assert!(state.apply(11, &lock("r", "held", "s1")));
    assert!(state.apply(12, &lock("d", "held", "s2")));
    let released = state.apply_traced(13, 1, &destroy("s1"));
    assert!(released.ok);
    let change = LockChange {
        key: "r".into(),
        before: Some("s1".into()),
        after: None,
        lock_index: 1,
        modify_index: 13,
        deleted: false,
        delay_ns: 5_000_000_000,
    };
    assert_eq!(released.lock_changes, vec![change]);
    let r = entry(&state, "r");
    assert_eq!((r.session, r.lock_index, r.modify_index), (None, 1, 13));
    assert_eq!(r.value, b"held");
    assert_eq!(state.table_index(TableId::Sessions), 13);
    let deleted = state.apply_traced(14, 1, &destroy("s2"));
    assert_eq!(deleted.lock_changes.len(), 1);
    let change = &deleted.lock_changes[0];
    assert!(change.deleted && change.key == "d");
    assert_eq!(change.delay_ns, LOCK_DELAY_NS_MAX, "90 s capped at 60 s");
    assert!(state.kv().get("d").is_none());
    assert_eq!(
        state.watch_index(&crate::state::WatchKey::KvPrefix("d".into())),
        14
    );
    assert!(state.sessions().is_empty());
    assert_eq!(state.check_invariants(), Ok(()));
}

#[test]
fn destroying_an_unknown_session_answers_true_and_moves_nothing() {
    let mut state = with_sessions();
    let before = state.clone();
    let outcome = state.apply_traced(11, 1, &destroy("nope"));
    assert!(outcome.ok && outcome.lock_changes.is_empty());
    assert_eq!(state, before);
}

/// Sessions on n1 (s1, s2) and n2 (s3), each holding a key; `break_it` applies a catalog
/// write at 20, after which exactly the sessions in `ended` must be gone.
fn sweep_case(break_it: CatalogCommand, ended: &[&str]) {
    let mut state = with_sessions();
    register_node(&mut state, 5, "n2", false);
    assert!(state.apply(7, &create(session("s3", "n2", Behavior::Release, 0))));
    for (index, id) in [(11, "s1"), (12, "s2"), (13, "s3")] {
        assert!(state.apply(index, &lock(&format!("k/{id}"), "v", id)));
    }
    let outcome = state.apply_traced(20, 1, &catalog(break_it));
    let gone: Vec<String> = ["s1", "s2", "s3"]
        .into_iter()
        .filter(|id| state.sessions().get(id).is_none())
        .map(String::from)
        .collect();
    assert_eq!(gone, ended);
    assert_eq!(outcome.lock_changes.len(), ended.len());
    for change in &outcome.lock_changes {
        assert_eq!(change.modify_index, 20);
        assert!(ended.contains(&change.before.as_deref().unwrap_or_default()));
    }
    let sessions_index = if ended.is_empty() { 7 } else { 20 };
    assert_eq!(state.table_index(TableId::Sessions), sessions_index);
    assert_eq!(state.check_invariants(), Ok(()));
}

#[test]
fn a_node_deregistered_ends_its_sessions() {
    let deregister = CatalogCommand::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
    };
    sweep_case(deregister, &["s1", "s2"]);
}

#[test]
fn a_check_gone_critical_ends_the_sessions_that_name_it() {
    let critical = check("serfHealth", "", CheckStatus::Critical);
    sweep_case(register_checks("n2", vec![critical]), &["s3"]);
    let warning = check("serfHealth", "", CheckStatus::Warning);
    sweep_case(register_checks("n2", vec![warning]), &[]);
}

#[test]
fn a_check_deleted_ends_the_sessions_that_name_it() {
    let gone = CatalogCommand::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: Some("serfHealth".into()),
    };
    sweep_case(gone, &["s1", "s2"]);
    let other = CatalogCommand::Deregister {
        node: "n1".into(),
        service_id: Some("web1".into()),
        check_id: None,
    };
    sweep_case(other, &[]);
}
