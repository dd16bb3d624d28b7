//! A digest of the whole KV state, so that a checker can compare servers' state machines
//! directly at each applied index instead of waiting for a read to hit a diverged key.

use super::KvStore;
use crate::kv::types::KvEntry;
use std::hash::{DefaultHasher, Hasher};

impl KvStore {
    /// SipHash (std's `DefaultHasher`, fixed keys) over every field of the store: keys,
    /// values, indexes, sessions, tombstones. Equal stores, equal digests, on every server of
    /// one build. Walked field by field rather than through serde, which hands a value over
    /// one byte at a time: values are hashed as whole slices. Only checkers call it (the apply
    /// journal is off outside the simulator), after every applied entry.
    pub fn digest(&self) -> u64 {
        // Destructured so that a new field cannot be left out of the digest unnoticed.
        let KvStore {
            entries,
            graveyard,
            last_change_index,
            last_applied_index,
        } = self;
        let mut hasher = DefaultHasher::new();
        hasher.write_usize(entries.len());
        for (key, entry) in entries {
            write_text(&mut hasher, key);
            write_entry(&mut hasher, entry);
        }
        hasher.write_usize(graveyard.len());
        for (key, delete_index) in graveyard.iter() {
            write_text(&mut hasher, key);
            hasher.write_u64(*delete_index);
        }
        hasher.write_u64(graveyard.floor_index());
        hasher.write_u64(*last_change_index);
        hasher.write_u64(*last_applied_index);
        hasher.finish()
    }
}

fn write_entry(hasher: &mut DefaultHasher, entry: &KvEntry) {
    let KvEntry {
        key,
        value,
        flags,
        create_index,
        modify_index,
        lock_index,
        session,
    } = entry;
    write_text(hasher, key);
    hasher.write_usize(value.len());
    hasher.write(value);
    for index in [*flags, *create_index, *modify_index, *lock_index] {
        hasher.write_u64(index);
    }
    match session {
        None => hasher.write_u8(0),
        Some(session) => {
            hasher.write_u8(1);
            write_text(hasher, session);
        }
    }
}

/// Length first, so that adjacent strings cannot trade bytes.
fn write_text(hasher: &mut DefaultHasher, text: &str) {
    hasher.write_usize(text.len());
    hasher.write(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use crate::kv::types::KvEntry;
    use crate::kv::{KvCommand, KvStore};

    fn set(key: &str, value: &str) -> KvCommand {
        KvCommand::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            flags: 0,
        }
    }

    #[test]
    fn every_field_of_an_entry_and_the_tombstones_show() {
        let mut base = KvStore::new();
        base.apply(1, &set("k", "v"));
        let digest = base.digest();
        let mut flagged = base.clone();
        flagged.entries.get_mut("k").expect("set").flags = 9;
        let mut locked = base.clone();
        locked.entries.get_mut("k").expect("set").session = Some("s".into());
        let mut shifted = base.clone();
        // The same bytes split differently between key and value.
        let entry = shifted.entries.remove("k").expect("set");
        shifted.entries.insert(
            "kv".into(),
            KvEntry {
                key: "kv".into(),
                value: vec![],
                ..entry
            },
        );
        let mut buried = base.clone();
        buried.apply(2, &KvCommand::Delete { key: "k".into() });
        let mut buried_and_set = buried.clone();
        buried_and_set.last_change_index = 1;
        for other in [&flagged, &locked, &shifted, &buried, &buried_and_set] {
            assert_ne!(other.digest(), digest, "{other:?}");
        }
        assert_ne!(buried.digest(), buried_and_set.digest());
        assert_eq!(base.clone().digest(), digest);
    }

    #[test]
    fn equal_histories_equal_digests_and_any_change_shows() {
        let (mut a, mut b) = (KvStore::new(), KvStore::new());
        for store in [&mut a, &mut b] {
            store.apply(1, &set("k", "v"));
            store.apply(2, &KvCommand::Delete { key: "gone".into() });
        }
        assert_eq!(a.digest(), b.digest());
        let before = b.digest();
        b.apply(3, &set("k", "w"));
        assert_ne!(a.digest(), b.digest(), "a new value changes the digest");
        a.apply(3, &set("k", "v"));
        assert_ne!(
            a.digest(),
            before,
            "a new modify index changes the digest too"
        );
        assert_ne!(a.digest(), b.digest());
    }
}
