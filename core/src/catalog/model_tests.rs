//! Property test over random register/deregister sequences on a small alphabet (so that
//! instances move between names, nodes come and go, checks change scope): after every entry
//! the catalog is consistent, every watch index is monotone, moves whenever the read it
//! covers changed, is caught by the watch filter's table pre-check, and an identical
//! re-registration moves nothing.

use super::test_support::{check, node_reg};
use super::*;
use crate::agent::command::Command;
use crate::state::{StateMachine, TableId, WatchKey};
use proptest::prelude::*;

const NODES: [&str; 3] = ["n1", "n2", ""];
const IDS: [&str; 3] = ["s1", "s2", "s3"];
const NAMES: [&str; 3] = ["web", "db", "api"];
const TAGS: [&str; 2] = ["a", "b"];
const CHECKS: [&str; 3] = ["c1", "c2", "serfHealth"];
const ADDRESSES: [&str; 2] = ["10.0.0.1", "10.0.0.2"];

fn registration() -> impl Strategy<Value = CatalogCommand> {
    let service = (
        0..IDS.len(),
        0..NAMES.len(),
        proptest::sample::subsequence(TAGS.to_vec(), 0..=2),
        0..2u16,
    );
    let service = proptest::option::of(service);
    // A check's service: none (a node check) or an id that may not be on the node.
    let checks = proptest::collection::vec((0..CHECKS.len(), 0..=IDS.len(), 0..3usize), 0..3);
    (
        0..NODES.len(),
        0..ADDRESSES.len(),
        any::<bool>(),
        service,
        checks,
    )
        .prop_map(|(node, address, skip_node_update, service, checks)| {
            let service = service.map(|(id, name, tags, port)| ServiceRegistration {
                id: IDS[id].into(),
                name: NAMES[name].into(),
                tags: tags.into_iter().map(String::from).collect(),
                port,
                ..Default::default()
            });
            let checks = checks
                .into_iter()
                .map(|(id, service, status)| {
                    let service_id = IDS.get(service).copied().unwrap_or("");
                    check(CHECKS[id], service_id, CheckStatus::ALL[status])
                })
                .collect();
            CatalogCommand::Register(Box::new(Registration {
                node: node_reg(NODES[node], ADDRESSES[address]),
                service,
                checks,
                skip_node_update,
            }))
        })
}

fn deregistration() -> impl Strategy<Value = CatalogCommand> {
    let id = proptest::option::of(0..IDS.len());
    let check_id = proptest::option::of(0..CHECKS.len());
    (0..NODES.len(), id, check_id).prop_map(|(node, id, check_id)| CatalogCommand::Deregister {
        node: NODES[node].into(),
        service_id: id.map(|i| IDS[i].to_string()),
        check_id: check_id.map(|i| CHECKS[i].to_string()),
    })
}

fn command() -> impl Strategy<Value = CatalogCommand> {
    prop_oneof![3 => registration(), 1 => deregistration()]
}

/// Every key a read can watch here, absent names included.
fn keys() -> Vec<WatchKey> {
    let mut keys = vec![
        WatchKey::Table(TableId::Nodes),
        WatchKey::Table(TableId::Services),
        WatchKey::Table(TableId::Checks),
    ];
    keys.extend(
        NAMES
            .iter()
            .chain(&["ghost"])
            .map(|n| WatchKey::Service(n.to_string())),
    );
    keys.extend(
        NODES
            .iter()
            .chain(&["ghost"])
            .map(|n| WatchKey::Node(n.to_string())),
    );
    keys
}

/// What the reads covered by `key` answer, as one comparable value.
fn read(state: &StateMachine, key: &WatchKey) -> String {
    let catalog = state.catalog();
    match key {
        WatchKey::Table(TableId::Nodes) => format!("{:?}", catalog.nodes()),
        WatchKey::Table(TableId::Services) => format!("{:?}", catalog.services()),
        WatchKey::Table(_) => format!("{:?}", catalog.checks_in_state(None)),
        WatchKey::Service(name) => format!(
            "{:?}{:?}{:?}",
            catalog.health_service(name, &[], false),
            catalog.service_nodes(name, &[]),
            catalog.service_checks(name)
        ),
        WatchKey::Node(name) => format!("{:?}{:?}", catalog.node(name), catalog.node_checks(name)),
        WatchKey::KvPrefix(_) => unreachable!("no KV here"),
    }
}

/// Applies `command` at `index` and checks every watch key against the reads it covers.
fn apply_and_check(
    state: &mut StateMachine,
    index: u64,
    command: &CatalogCommand,
) -> Result<(), TestCaseError> {
    let keys = keys();
    let before: Vec<(u64, String)> = keys
        .iter()
        .map(|k| (state.watch_index(k), read(state, k)))
        .collect();
    let command = Command::Catalog(command.clone());
    state.apply(index, &command);
    prop_assert_eq!(state.check_invariants(), Ok(()));
    for table in TableId::ALL {
        let moved = state.table_index(table) == index;
        prop_assert!(
            !moved || command.tables().contains(&table),
            "{:?} moved",
            table
        );
    }
    for (key, (index_before, read_before)) in keys.iter().zip(before) {
        let index_after = state.watch_index(key);
        prop_assert!(
            index_after >= index_before,
            "{:?} went back: {} -> {}",
            key,
            index_before,
            index_after
        );
        prop_assert!(index_after <= index, "{:?} is ahead of the log", key);
        if read(state, key) != read_before {
            prop_assert!(
                index_after > index_before,
                "{:?}'s read changed at {} but not its index",
                key,
                index
            );
        }
        if index_after > index_before {
            // The watch filter looks at the key's tables first: one of them must have moved.
            let seen = key.tables().iter().any(|t| state.table_index(*t) == index);
            prop_assert!(
                seen,
                "{:?} moved at {} but none of its tables did",
                key,
                index
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn watch_indexes_are_monotone_and_move_when_their_read_changes(
        commands in proptest::collection::vec(command(), 1..40)
    ) {
        let mut state = StateMachine::new();
        let mut index = 0;
        for command in &commands {
            index += 1;
            apply_and_check(&mut state, index, command)?;
            if let CatalogCommand::Register(_) = command {
                // Anti-entropy's case: the same registration again moves nothing at all.
                let before = state.clone();
                index += 1;
                apply_and_check(&mut state, index, command)?;
                prop_assert_eq!(&state, &before, "re-registration at {} changed something", index);
            }
        }
    }
}
