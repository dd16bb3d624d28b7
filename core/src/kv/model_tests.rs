//! Property test: the KV store against a plain map model under random command sequences, over
//! a small key alphabet so that CAS hits, prefixes overlap and keys are deleted and recreated.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const KEYS: [&str; 6] = ["a", "a/b", "a/c", "a/b/c", "b", "b/x"];
const PREFIXES: [&str; 8] = ["", "a", "a/", "a/b", "a/b/", "b", "b/x", "c"];

/// key -> (value, flags, CreateIndex, ModifyIndex)
type Model = BTreeMap<String, (Vec<u8>, u64, u64, u64)>;

/// How a CAS index is chosen, resolved against the model so that matches are frequent.
#[derive(Clone, Debug)]
enum CasPick {
    Zero,
    Current,
    Arbitrary(u64),
}

#[derive(Clone, Debug)]
enum Step {
    Set {
        key: usize,
        value: u8,
        flags: u64,
    },
    Cas {
        key: usize,
        value: u8,
        flags: u64,
        pick: CasPick,
    },
    Delete {
        key: usize,
    },
    DeleteCas {
        key: usize,
        pick: CasPick,
    },
    DeleteTree {
        prefix: usize,
    },
}

fn cas_pick() -> impl Strategy<Value = CasPick> {
    prop_oneof![
        Just(CasPick::Zero),
        Just(CasPick::Current),
        (1..200u64).prop_map(CasPick::Arbitrary)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let key = 0..KEYS.len();
    prop_oneof![
        3 => (key.clone(), 0..3u8, 0..3u64).prop_map(|(key, value, flags)| Step::Set { key, value, flags }),
        3 => (key.clone(), 0..3u8, 0..3u64, cas_pick())
            .prop_map(|(key, value, flags, pick)| Step::Cas { key, value, flags, pick }),
        2 => key.clone().prop_map(|key| Step::Delete { key }),
        2 => (key, cas_pick()).prop_map(|(key, pick)| Step::DeleteCas { key, pick }),
        1 => (0..PREFIXES.len()).prop_map(|prefix| Step::DeleteTree { prefix }),
    ]
}

fn resolve(model: &Model, key: &str, pick: &CasPick) -> u64 {
    match pick {
        CasPick::Zero => 0,
        CasPick::Current => model.get(key).map_or(1, |entry| entry.3),
        CasPick::Arbitrary(index) => *index,
    }
}

fn command(model: &Model, step: &Step) -> KvCommand {
    let value_of = |value: &u8| vec![*value; *value as usize];
    match step {
        Step::Set { key, value, flags } => KvCommand::Set {
            key: KEYS[*key].into(),
            value: value_of(value),
            flags: *flags,
        },
        Step::Cas {
            key,
            value,
            flags,
            pick,
        } => KvCommand::Cas {
            key: KEYS[*key].into(),
            value: value_of(value),
            flags: *flags,
            modify_index: resolve(model, KEYS[*key], pick),
        },
        Step::Delete { key } => KvCommand::Delete {
            key: KEYS[*key].into(),
        },
        Step::DeleteCas { key, pick } => KvCommand::DeleteCas {
            key: KEYS[*key].into(),
            modify_index: resolve(model, KEYS[*key], pick),
        },
        Step::DeleteTree { prefix } => KvCommand::DeleteTree {
            prefix: PREFIXES[*prefix].into(),
        },
    }
}

/// Consul's semantics written as directly as possible.
fn model_apply(model: &mut Model, index: u64, cmd: &KvCommand) -> bool {
    let put = |model: &mut Model, key: &str, value: &[u8], flags: u64| {
        let create = model.get(key).map_or(index, |entry| entry.2);
        model.insert(key.to_string(), (value.to_vec(), flags, create, index));
    };
    match cmd {
        KvCommand::Set { key, value, flags } => put(model, key, value, *flags),
        KvCommand::Cas {
            key,
            value,
            flags,
            modify_index,
        } => {
            let current = model.get(key).map_or(0, |entry| entry.3);
            if current != *modify_index {
                return false;
            }
            put(model, key, value, *flags);
        }
        KvCommand::Delete { key } => {
            model.remove(key);
        }
        KvCommand::DeleteCas { key, modify_index } => match model.get(key) {
            Some(entry) if entry.3 != *modify_index => return false,
            _ => {
                model.remove(key);
            }
        },
        KvCommand::DeleteTree { prefix } => {
            model.retain(|key, _| !key.starts_with(prefix.as_str()))
        }
        KvCommand::Lock { .. } | KvCommand::Unlock { .. } => return false,
    }
    true
}

fn model_under(model: &Model, prefix: &str) -> Model {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn model_keys(model: &Model, prefix: &str, separator: Option<&str>) -> Vec<String> {
    let mut keys = BTreeSet::new();
    for key in model_under(model, prefix).into_keys() {
        let rest = &key[prefix.len()..];
        match separator.and_then(|sep| rest.split_once(sep).map(|(head, _)| (head, sep))) {
            Some((head, sep)) => keys.insert(format!("{prefix}{head}{sep}")),
            None => keys.insert(key),
        };
    }
    keys.into_iter().collect()
}

fn as_tuple(entry: &KvEntry) -> (Vec<u8>, u64, u64, u64) {
    (
        entry.value.clone(),
        entry.flags,
        entry.create_index,
        entry.modify_index,
    )
}

fn assert_reads_agree(store: &KvStore, model: &Model) {
    assert_eq!(store.len(), model.len());
    for key in KEYS {
        assert_eq!(
            store.get(key).map(as_tuple),
            model.get(key).cloned(),
            "get {key:?}"
        );
    }
    for prefix in PREFIXES {
        let listed: Model = store
            .list(prefix)
            .iter()
            .map(|entry| (entry.key.clone(), as_tuple(entry)))
            .collect();
        assert_eq!(listed, model_under(model, prefix), "list {prefix:?}");
        for separator in [None, Some("/")] {
            let expected = model_keys(model, prefix, separator);
            assert_eq!(
                store.keys(prefix, separator),
                expected,
                "keys {prefix:?} {separator:?}"
            );
        }
    }
}

/// Prefix indexes never go back, jump to `index` when their subtree changed, and (when no
/// tombstone can be dropped) stay put otherwise.
fn assert_prefix_indexes(
    store: &KvStore,
    before: &[(Model, u64)],
    model: &Model,
    index: u64,
    exact: bool,
) {
    for (prefix, (subtree_before, index_before)) in PREFIXES.iter().zip(before) {
        let index_now = store.prefix_index(prefix);
        assert!(
            index_now >= *index_before,
            "prefix_index {prefix:?} went back"
        );
        if model_under(model, prefix) != *subtree_before {
            assert_eq!(index_now, index, "prefix_index {prefix:?} missed a change");
        } else if exact {
            assert_eq!(
                index_now, *index_before,
                "prefix_index {prefix:?} moved for nothing"
            );
        }
    }
}

fn run(steps: &[(u64, Step)], tombstones_max: usize) {
    let exact = steps.len() <= tombstones_max;
    let mut store = KvStore::new();
    let mut model = Model::new();
    let mut index = 0;
    for (gap, step) in steps {
        index += gap;
        let cmd = command(&model, step);
        let before: Vec<(Model, u64)> = PREFIXES
            .iter()
            .map(|p| (model_under(&model, p), store.prefix_index(p)))
            .collect();
        let took_effect = store.apply_bounded(index, &cmd, tombstones_max);
        assert_eq!(
            took_effect,
            model_apply(&mut model, index, &cmd),
            "result of {cmd:?}"
        );
        assert_eq!(store.check_invariants(), Ok(()));
        assert!(store.tombstone_count() <= tombstones_max);
        assert_reads_agree(&store, &model);
        assert_prefix_indexes(&store, &before, &model, index, exact);
    }
    let restored = KvStore::from_snapshot_bytes(&store.to_snapshot_bytes()).expect("round trip");
    assert_eq!(restored, store);
}

fn steps() -> impl Strategy<Value = Vec<(u64, Step)>> {
    proptest::collection::vec((1..3u64, step()), 1..60)
}

proptest! {
    #[test]
    fn store_matches_model(steps in steps()) {
        run(&steps, TOMBSTONES_MAX);
    }

    #[test]
    fn store_matches_model_with_tiny_graveyard(steps in steps()) {
        run(&steps, 2);
    }
}
