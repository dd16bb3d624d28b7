//! Unit tests of the KV store's Consul semantics, one behaviour each.

use super::*;

fn set(key: &str, value: &str) -> KvCommand {
    KvCommand::Set {
        key: key.to_string(),
        value: value.as_bytes().to_vec(),
        flags: 0,
    }
}

fn cas(key: &str, value: &str, modify_index: u64) -> KvCommand {
    KvCommand::Cas {
        key: key.to_string(),
        value: value.as_bytes().to_vec(),
        flags: 7,
        modify_index,
    }
}

fn delete(key: &str) -> KvCommand {
    KvCommand::Delete {
        key: key.to_string(),
    }
}

fn delete_cas(key: &str, modify_index: u64) -> KvCommand {
    KvCommand::DeleteCas {
        key: key.to_string(),
        modify_index,
    }
}

fn delete_tree(prefix: &str) -> KvCommand {
    KvCommand::DeleteTree {
        prefix: prefix.to_string(),
    }
}

/// A store holding `keys`, written at indexes 1, 2, ... in order.
fn store_with(keys: &[&str]) -> KvStore {
    let mut store = KvStore::new();
    for (position, key) in keys.iter().enumerate() {
        assert!(store.apply(position as u64 + 1, &set(key, "v")));
    }
    store
}

fn value_of(store: &KvStore, key: &str) -> Option<Vec<u8>> {
    store.get(key).map(|entry| entry.value.clone())
}

#[test]
fn set_creates_then_updates_keeping_create_index() {
    let mut store = KvStore::new();
    assert!(store.apply(3, &set("a", "one")));
    let entry = store.get("a").expect("created").clone();
    assert_eq!((entry.create_index, entry.modify_index), (3, 3));
    assert_eq!((entry.flags, entry.lock_index, entry.session), (0, 0, None));
    assert!(store.apply(5, &set("a", "two")));
    let entry = store.get("a").expect("updated");
    assert_eq!((entry.create_index, entry.modify_index), (3, 5));
    assert_eq!(entry.value, b"two");
    assert_eq!((store.index(), store.len()), (5, 1));
}

#[test]
fn cas_zero_creates_only_if_absent() {
    let mut store = KvStore::new();
    assert!(store.apply(1, &cas("a", "first", 0)));
    assert_eq!(store.get("a").expect("created").flags, 7);
    assert!(!store.apply(2, &cas("a", "second", 0)));
    assert_eq!(value_of(&store, "a"), Some(b"first".to_vec()));
    assert_eq!(store.index(), 1, "a refused CAS changes nothing");
}

#[test]
fn cas_mismatch_is_refused_and_changes_nothing() {
    let mut store = store_with(&["a"]);
    let before = store.clone();
    assert!(!store.apply(4, &cas("a", "x", 2)));
    assert_eq!(store.get("a"), before.get("a"));
    assert_eq!(store.index(), 1);
    assert_eq!(store.prefix_index("a"), 1);
    assert_eq!(store.last_applied_index(), 4);
}

#[test]
fn cas_match_updates() {
    let mut store = store_with(&["a"]);
    assert!(store.apply(6, &cas("a", "x", 1)));
    let entry = store.get("a").expect("present");
    assert_eq!(
        (entry.create_index, entry.modify_index, entry.flags),
        (1, 6, 7)
    );
}

#[test]
fn cas_with_index_on_absent_key_is_refused() {
    let mut store = KvStore::new();
    assert!(!store.apply(1, &cas("a", "x", 5)));
    assert!(store.is_empty());
}

#[test]
fn delete_is_true_even_when_absent_and_then_moves_no_index() {
    let mut store = store_with(&["a"]);
    assert!(store.apply(2, &delete("a")));
    assert_eq!((store.get("a"), store.index()), (None, 2));
    assert!(store.apply(3, &delete("a")));
    assert_eq!(store.index(), 2);
    assert_eq!(store.prefix_index("a"), 2);
}

#[test]
fn delete_cas_needs_the_current_modify_index() {
    let mut store = store_with(&["a"]);
    assert!(!store.apply(2, &delete_cas("a", 7)));
    assert!(store.get("a").is_some());
    assert!(!store.apply(3, &delete_cas("a", 0)));
    assert!(store.apply(4, &delete_cas("a", 1)));
    assert!(store.get("a").is_none());
    assert_eq!(store.index(), 4);
}

#[test]
fn delete_cas_of_absent_key_is_true_as_in_consul() {
    let mut store = KvStore::new();
    assert!(store.apply(1, &delete_cas("missing", 0)));
    assert!(store.apply(2, &delete_cas("missing", 9)));
    assert_eq!(store.index(), 0, "nothing was deleted");
}

#[test]
fn delete_tree_removes_exactly_the_prefix() {
    let mut store = store_with(&["a", "a/b", "a/c", "ab", "b"]);
    assert!(store.apply(10, &delete_tree("a/")));
    assert_eq!(store.keys("", None), ["a", "ab", "b"]);
    assert_eq!(store.index(), 10);
    assert!(store.apply(11, &delete_tree("zz")));
    assert_eq!(store.index(), 10, "deleting nothing moves no index");
}

#[test]
fn delete_tree_with_empty_prefix_deletes_everything() {
    let mut store = store_with(&["a", "b/c"]);
    assert!(store.apply(3, &delete_tree("")));
    assert!(store.is_empty());
    assert_eq!(
        (
            store.index(),
            store.prefix_index("b"),
            store.prefix_index("a")
        ),
        (3, 3, 3)
    );
}

#[test]
fn list_returns_sorted_entries_under_prefix() {
    let store = store_with(&["b/2", "a", "b/1", "c"]);
    let keys: Vec<String> = store.list("b/").into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["b/1", "b/2"]);
    assert_eq!(store.list("").len(), 4);
    assert!(store.list("d").is_empty());
}

#[test]
fn keys_rolls_up_after_the_separator() {
    let store = store_with(&["a/b/c", "a/d", "a/b/e", "b"]);
    assert_eq!(store.keys("a/", Some("/")), ["a/b/", "a/d"]);
    assert_eq!(store.keys("a/", None), ["a/b/c", "a/b/e", "a/d"]);
    assert_eq!(store.keys("", Some("/")), ["a/", "b"]);
    // The prefix need not end at a separator: the roll-up is from its end.
    assert_eq!(store.keys("a", Some("/")), ["a/"]);
}

#[test]
fn keys_roll_up_corner_cases() {
    let store = store_with(&["a/", "a/b", "a/b/", "a/b/c", "x::y::z", "x::w"]);
    // A key equal to the prefix is listed as is; one equal to its roll-up appears once.
    assert_eq!(store.keys("a/", Some("/")), ["a/", "a/b", "a/b/"]);
    assert_eq!(store.keys("", Some("/")), ["a/", "x::w", "x::y::z"]);
    // Separators longer than one byte, and the empty separator meaning "none" (as in Consul).
    assert_eq!(store.keys("x", Some("::")), ["x::"]);
    assert_eq!(store.keys("x::", Some("::")), ["x::w", "x::y::"]);
    assert_eq!(store.keys("a/b", Some("")), ["a/b", "a/b/", "a/b/c"]);
}

#[test]
fn keys_roll_up_multibyte_utf8_keys() {
    let store = store_with(&["é/ü/ñ", "é/ß", "日本/語"]);
    assert_eq!(store.keys("é/", Some("/")), ["é/ß", "é/ü/"]);
    assert_eq!(store.keys("", Some("本")), ["é/ß", "é/ü/ñ", "日本"]);
}

#[test]
fn prefix_index_moves_only_for_changes_under_the_prefix() {
    let mut store = store_with(&["a/x", "b/y"]);
    assert_eq!((store.prefix_index("a/"), store.prefix_index("b/")), (1, 2));
    store.apply(5, &set("b/z", "v"));
    store.apply(6, &delete("b/y"));
    store.apply(7, &cas("b/y", "v", 3));
    assert_eq!(
        store.prefix_index("a/"),
        1,
        "writes outside the prefix do not move it"
    );
    assert_eq!(store.prefix_index("b/"), 6);
    assert_eq!(store.prefix_index("c"), 0, "never written");
    assert_eq!(store.prefix_index(""), 6);
}

#[test]
fn tombstone_keeps_prefix_index_from_going_backwards() {
    let mut store = store_with(&["a/old", "a/new"]);
    assert_eq!(store.prefix_index("a/"), 2);
    store.apply(3, &delete("a/new"));
    assert_eq!(
        store.prefix_index("a/"),
        3,
        "the delete is a change under a/"
    );
    assert_eq!(
        store.prefix_index("a/new"),
        3,
        "and a change of the key itself"
    );
    store.apply(4, &set("a/new", "again"));
    assert_eq!(store.prefix_index("a/new"), 4);
    assert_eq!(store.get("a/new").expect("recreated").create_index, 4);
}

#[test]
fn dropped_tombstones_raise_the_floor() {
    let mut store = store_with(&["a", "b", "c"]);
    store.apply_bounded(4, &delete("a"), 2);
    store.apply_bounded(5, &delete("b"), 2);
    store.apply_bounded(6, &delete("c"), 2);
    // "a"'s tombstone was dropped; its prefix index stays at its delete, not back to 0.
    assert_eq!(store.prefix_index("a"), 4);
    assert_eq!(
        store.prefix_index("zz"),
        4,
        "the floor is a bound for every prefix"
    );
    assert_eq!(store.prefix_index("c"), 6);
    assert_eq!(store.check_invariants(), Ok(()));
}

#[test]
fn tombstones_are_bounded_by_tombstones_max() {
    let keys: Vec<String> = (0..=TOMBSTONES_MAX).map(|n| format!("k/{n:06}")).collect();
    let mut store = KvStore::new();
    for (position, key) in keys.iter().enumerate() {
        store.apply(position as u64 + 1, &set(key, ""));
    }
    let delete_index = keys.len() as u64 + 1;
    store.apply(delete_index, &delete_tree("k/"));
    assert!(store.is_empty());
    assert_eq!(store.tombstone_count(), TOMBSTONES_MAX);
    assert_eq!(store.prefix_index("k/000000"), delete_index);
    assert_eq!(store.check_invariants(), Ok(()));
}

#[test]
#[should_panic(expected = "out of log order")]
fn apply_asserts_increasing_indexes() {
    let mut store = store_with(&["a"]);
    store.apply(1, &set("b", "v"));
}

#[test]
fn validate_value_sizes() {
    let exact = KvCommand::Set {
        key: "k".into(),
        value: vec![0; VALUE_SIZE_BYTES_MAX],
        flags: 0,
    };
    assert_eq!(validate(&exact), Ok(()));
    let over = KvCommand::Cas {
        key: "k".into(),
        value: vec![0; 512 * 1024 + 1],
        flags: 0,
        modify_index: 0,
    };
    assert_eq!(
        validate(&over),
        Err(KvError::ValueTooLarge {
            size_bytes: 512 * 1024 + 1,
            size_bytes_max: 512 * 1024
        })
    );
}

#[test]
fn validate_keys() {
    assert_eq!(validate(&set("", "v")), Err(KvError::EmptyKey));
    assert_eq!(validate(&delete("")), Err(KvError::EmptyKey));
    assert_eq!(validate(&delete_cas("", 1)), Err(KvError::EmptyKey));
    assert_eq!(validate(&cas("", "v", 0)), Err(KvError::EmptyKey));
    assert_eq!(
        validate(&delete_tree("")),
        Ok(()),
        "an empty prefix means everything"
    );
    let longest = "k".repeat(KEY_SIZE_BYTES_MAX);
    assert_eq!(validate(&delete(&longest)), Ok(()));
    let too_long = "k".repeat(KEY_SIZE_BYTES_MAX + 1);
    assert_eq!(
        validate(&delete_tree(&too_long)),
        Err(KvError::KeyTooLarge {
            size_bytes: KEY_SIZE_BYTES_MAX + 1,
            size_bytes_max: KEY_SIZE_BYTES_MAX
        })
    );
}

#[test]
fn validate_bounds_an_acquires_session_and_value() {
    use crate::kv::COMMAND_SIZE_BYTES_MAX;
    use crate::session::SESSION_ID_BYTES_MAX;
    let lock = |session_bytes: usize, value_bytes: usize| KvCommand::Lock {
        key: "k".repeat(KEY_SIZE_BYTES_MAX),
        value: vec![0; value_bytes],
        flags: u64::MAX,
        session: "s".repeat(session_bytes),
    };
    let largest = lock(SESSION_ID_BYTES_MAX, VALUE_SIZE_BYTES_MAX);
    assert_eq!(validate(&largest), Ok(()));
    let encoded = crate::agent::command::Command::Kv(largest).encode();
    assert!(encoded.len() <= COMMAND_SIZE_BYTES_MAX, "{}", encoded.len());
    assert_eq!(
        validate(&lock(SESSION_ID_BYTES_MAX + 1, 1)),
        Err(KvError::SessionTooLong {
            size_bytes: SESSION_ID_BYTES_MAX + 1,
            size_bytes_max: SESSION_ID_BYTES_MAX
        })
    );
    let unlock = KvCommand::Unlock {
        key: "k".into(),
        value: Vec::new(),
        flags: 0,
        session: "s".repeat(1 << 20),
    };
    assert!(matches!(
        validate(&unlock),
        Err(KvError::SessionTooLong { .. })
    ));
    assert!(matches!(
        validate(&lock(36, VALUE_SIZE_BYTES_MAX + 1)),
        Err(KvError::ValueTooLarge { .. })
    ));
}
