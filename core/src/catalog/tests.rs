//! Behaviour of `CatalogStore::apply` and the reads, against Consul's semantics.

use super::test_support::{check, node_reg, register, register_checks};
use super::*;
use crate::state::TableId;
use std::collections::BTreeSet;

fn deregister(node: &str, service_id: Option<&str>, check_id: Option<&str>) -> CatalogCommand {
    CatalogCommand::Deregister {
        node: node.into(),
        service_id: service_id.map(String::from),
        check_id: check_id.map(String::from),
    }
}

fn tables(list: &[TableId]) -> BTreeSet<TableId> {
    list.iter().copied().collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_registration_writes_node_service_and_checks_at_its_index() {
    let mut store = CatalogStore::new();
    let applied = store.apply(
        3,
        &register("n1", Some(("web1", "web", &["v1"])), &["web1"]),
    );
    assert!(applied.ok);
    let all = [TableId::Nodes, TableId::Services, TableId::Checks];
    assert_eq!(applied.tables, tables(&all));
    let (node, services) = store.node("n1").expect("registered");
    assert_eq!(
        (node.create_index, node.modify_index, node.address.as_str()),
        (3, 3, "10.0.0.1")
    );
    assert_eq!(services[0].tags, strings(&["v1"]));
    let checks = store.node_checks("n1");
    assert_eq!(checks[0].service_name, "web", "copied from the instance");
    assert_eq!(checks[0].service_tags, strings(&["v1"]));
    assert_eq!(store.service_index("web"), 3);
}

#[test]
fn an_identical_registration_moves_no_index() {
    let mut store = CatalogStore::new();
    let command = register("n1", Some(("web1", "web", &["v1"])), &["web1"]);
    store.apply(3, &command);
    let before = store.clone();
    let applied = store.apply(4, &command);
    assert!(applied.ok);
    assert!(applied.tables.is_empty(), "{:?}", applied.tables);
    assert_eq!(store, before, "nothing moved, not even a modify index");
}

#[test]
fn a_changed_registration_keeps_create_and_moves_only_what_changed() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &["v1"])), &[]));
    let applied = store.apply(5, &register("n1", Some(("web1", "web", &["v2"])), &[]));
    assert_eq!(
        applied.tables,
        tables(&[TableId::Services]),
        "the node is as it was"
    );
    let (node, services) = store.node("n1").expect("kept");
    assert_eq!((node.create_index, node.modify_index), (3, 3));
    assert_eq!((services[0].create_index, services[0].modify_index), (3, 5));
    assert_eq!(store.services().get("web"), Some(&strings(&["v2"])));
}

#[test]
fn a_check_of_a_missing_service_is_refused_and_changes_nothing() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", None, &[]));
    let before = store.clone();
    let bad = register_checks("n1", vec![check("c", "nope", CheckStatus::Passing)]);
    let applied = store.apply(4, &bad);
    assert!(!applied.ok);
    assert!(applied.tables.is_empty());
    assert_eq!(store, before);
    // The same check with its service in the same registration is fine.
    let good = register("n1", Some(("nope", "nope", &[])), &["nope"]);
    assert!(store.apply(5, &good).ok);
}

#[test]
fn skip_node_update_keeps_the_node_but_creates_a_missing_one() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", None, &[]));
    let serf =
        |node: &str| register_checks(node, vec![check("serfHealth", "", CheckStatus::Passing)]);
    let applied = store.apply(4, &serf("n1"));
    assert_eq!(applied.tables, tables(&[TableId::Checks]));
    assert_eq!(
        store.node("n1").expect("kept").0.address,
        "10.0.0.1",
        "not clobbered"
    );
    store.apply(5, &serf("n9"));
    assert_eq!(store.node("n9").expect("created").0.create_index, 5);
}

#[test]
fn deregistering_a_node_removes_everything_on_it() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &[])), &["web1"]));
    store.apply(4, &register("n2", Some(("web2", "web", &[])), &[]));
    let applied = store.apply(6, &deregister("n1", None, None));
    assert!(applied.ok);
    assert_eq!(applied.tables.len(), 3);
    assert!(store.node("n1").is_none());
    assert!(store.node_checks("n1").is_empty());
    assert_eq!(
        store.service_nodes("web", &[]).len(),
        1,
        "n2's instance stays"
    );
    assert_eq!(store.service_index("web"), 6);
    assert_eq!(store.node_index("n1"), 6, "the node extinction index");
}

#[test]
fn deregistering_a_service_takes_its_checks_but_not_the_nodes() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &[])), &["web1"]));
    store.apply(
        4,
        &register_checks("n1", vec![check("mem", "", CheckStatus::Passing)]),
    );
    store.apply(5, &deregister("n1", Some("web1"), None));
    let left: Vec<String> = store
        .node_checks("n1")
        .into_iter()
        .map(|c| c.check_id)
        .collect();
    assert_eq!(left, strings(&["mem"]));
    assert!(store.services().is_empty());
    assert_eq!(store.service_index("web"), 5, "web went extinct at 5");
    assert_eq!(
        store.service_index("never-was"),
        5,
        "so did every absent name"
    );
}

#[test]
fn deregistering_what_is_absent_answers_true_and_changes_nothing() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", None, &[]));
    let before = store.clone();
    for command in [
        deregister("n9", None, None),
        deregister("n1", Some("nope"), None),
        deregister("n1", None, Some("nope")),
    ] {
        let applied = store.apply(4, &command);
        assert!(applied.ok && applied.tables.is_empty(), "{command:?}");
    }
    assert_eq!(store, before);
}

#[test]
fn new_tags_on_an_instance_reach_its_checks() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &["a"])), &["web1"]));
    let applied = store.apply(4, &register("n1", Some(("web1", "web", &["b"])), &[]));
    assert!(applied.tables.contains(&TableId::Checks));
    let check = &store.node_checks("n1")[0];
    assert_eq!(
        (check.service_tags.clone(), check.modify_index),
        (strings(&["b"]), 4)
    );
    assert!(store.check_invariants(|_| 4).is_ok());
}

#[test]
fn a_renamed_instance_leaves_its_old_name() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("s1", "old", &[])), &["s1"]));
    store.apply(4, &register("n1", Some(("s1", "new", &[])), &[]));
    assert!(store.service_nodes("old", &[]).is_empty());
    assert_eq!(store.service_index("old"), 4, "extinct at 4");
    assert_eq!(store.service_checks("new").len(), 1, "the check followed");
    assert!(store.check_invariants(|_| 4).is_ok());
}

#[test]
fn a_node_check_moves_the_index_of_every_service_on_that_node_only() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &[])), &[]));
    store.apply(4, &register("n2", Some(("db1", "db", &[])), &[]));
    store.apply(
        7,
        &register_checks("n1", vec![check("serfHealth", "", CheckStatus::Critical)]),
    );
    assert_eq!(store.service_index("web"), 7);
    assert_eq!(store.service_index("db"), 4);
    assert_eq!((store.node_index("n1"), store.node_index("n2")), (7, 4));
}

#[test]
fn services_lists_each_name_with_the_sorted_union_of_its_tags() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("w1", "web", &["b", "a"])), &[]));
    store.apply(4, &register("n2", Some(("w2", "web", &["a", "c"])), &[]));
    store.apply(5, &register("n2", Some(("d1", "db", &[])), &[]));
    let services = store.services();
    assert_eq!(services.get("web"), Some(&strings(&["a", "b", "c"])));
    assert_eq!(services.get("db"), Some(&Vec::new()));
}

#[test]
fn service_nodes_keeps_instances_with_every_asked_tag() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("w1", "web", &["a", "b"])), &[]));
    store.apply(4, &register("n2", Some(("w2", "web", &["a"])), &[]));
    let both = store.service_nodes("web", &strings(&["a", "b"]));
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].0.name, "n1");
    let nodes: Vec<String> = store
        .service_nodes("web", &[])
        .into_iter()
        .map(|(n, _)| n.name)
        .collect();
    assert_eq!(nodes, strings(&["n1", "n2"]));
}

#[test]
fn health_service_gives_node_checks_first_and_filters_on_passing() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("w1", "web", &[])), &["w1"]));
    store.apply(4, &register("n2", Some(("w2", "web", &[])), &[]));
    let warn = check("a-node-check", "", CheckStatus::Warning);
    store.apply(5, &register_checks("n2", vec![warn]));
    let entries = store.health_service("web", &[], false);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].checks[0].check_id, "a-node-check");
    let passing = store.health_service("web", &[], true);
    let nodes: Vec<&str> = passing.iter().map(|e| e.node.name.as_str()).collect();
    assert_eq!(nodes, ["n1"], "a warning drops the entry too");
    let ids: Vec<String> = store.health_service("web", &[], false)[0]
        .checks
        .iter()
        .map(|c| c.check_id.clone())
        .collect();
    assert_eq!(ids, strings(&["check:w1"]));
}

#[test]
fn a_node_check_comes_before_the_instance_checks_whatever_their_ids() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("w1", "web", &[])), &["w1"]));
    store.apply(
        4,
        &register_checks("n1", vec![check("zzz", "", CheckStatus::Passing)]),
    );
    let entry = &store.health_service("web", &[], false)[0];
    let ids: Vec<&str> = entry.checks.iter().map(|c| c.check_id.as_str()).collect();
    assert_eq!(ids, ["zzz", "check:w1"]);
}

#[test]
fn checks_in_state_and_by_service_and_node() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("w1", "web", &[])), &["w1"]));
    store.apply(
        4,
        &register_checks("n1", vec![check("serfHealth", "", CheckStatus::Critical)]),
    );
    let critical = store.checks_in_state(Some(CheckStatus::Critical));
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].check_id, "serfHealth");
    assert_eq!(store.checks_in_state(None).len(), 2);
    assert_eq!(
        store.service_checks("web").len(),
        1,
        "service-level checks only"
    );
    assert_eq!(store.node_checks("n1").len(), 2);
    assert!(store.node_checks("n9").is_empty());
}

#[test]
fn the_node_data_is_replaced_whole_by_a_registration() {
    let mut store = CatalogStore::new();
    let mut reg = Registration {
        node: node_reg("n1", "10.0.0.1"),
        ..Default::default()
    };
    reg.node.meta.insert("rack".into(), "r1".into());
    store.apply(3, &CatalogCommand::Register(Box::new(reg.clone())));
    reg.node.meta.clear();
    reg.node.address = "10.0.0.2".into();
    let applied = store.apply(4, &CatalogCommand::Register(Box::new(reg)));
    assert_eq!(applied.tables, tables(&[TableId::Nodes]));
    let node = store.node("n1").expect("kept").0;
    assert!(node.meta.is_empty());
    assert_eq!((node.address.as_str(), node.modify_index), ("10.0.0.2", 4));
}

#[test]
fn the_invariants_catch_a_check_without_its_service_and_a_stale_name_index() {
    let mut store = CatalogStore::new();
    store.apply(3, &register("n1", Some(("web1", "web", &[])), &["web1"]));
    assert_eq!(store.check_invariants(|_| 3), Ok(()));
    let mut broken = store.clone();
    broken.services.clear();
    let error = broken.check_invariants(|_| 3).unwrap_err();
    assert!(error.contains("n1/check:web1"), "{error}");
    let mut broken = store.clone();
    broken.instances.clear();
    let error = broken.check_invariants(|_| 3).unwrap_err();
    assert!(error.contains("name index"), "{error}");
}

#[test]
fn a_check_id_given_twice_keeps_the_last_and_reapplies_as_a_no_op() {
    let mut store = CatalogStore::new();
    let twice = vec![
        check("serfHealth", "", CheckStatus::Warning),
        check("serfHealth", "", CheckStatus::Passing),
    ];
    store.apply(3, &register_checks("n1", twice.clone()));
    assert_eq!(store.node_checks("n1")[0].status, CheckStatus::Passing);
    let applied = store.apply(4, &register_checks("n1", twice));
    assert!(applied.tables.is_empty(), "{:?}", applied.tables);
    assert_eq!(store.node_index("n1"), 3);
}
