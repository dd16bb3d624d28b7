//! A digest of the whole KV state, so that a checker can compare servers' state machines
//! directly at each applied index instead of waiting for a read to hit a diverged key.

use super::KvStore;

impl KvStore {
    /// FNV-1a over the store's encoding (keys, values, indexes, tombstones): equal stores,
    /// equal digests, on every server. Costs one walk of the store, so only checkers call it
    /// (the apply journal is off outside the simulator).
    pub fn digest(&self) -> u64 {
        crate::state::encoding_digest(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::kv::{KvCommand, KvStore};

    fn set(key: &str, value: &str) -> KvCommand {
        KvCommand::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            flags: 0,
        }
    }

    #[test]
    fn the_digest_is_fnv1a_of_the_whole_encoding() {
        let mut store = KvStore::new();
        store.apply(1, &set("k", "v"));
        store.apply(2, &KvCommand::Delete { key: "gone".into() });
        let bytes = bincode::serialize(&store).expect("encodes");
        assert_eq!(store.digest(), crate::digest::fnv1a(&bytes));
        assert_ne!(store.digest(), crate::digest::fnv1a(&[]));
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
