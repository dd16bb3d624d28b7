//! A restored KV store brought to the restore's log index (`StateMachine`'s restore commit).

use super::KvStore;

impl KvStore {
    /// Lowers every index above `index` to it, then raises the store's indexes to it: the
    /// tombstone floor (so every prefix index is at least `index`), the last change and the
    /// last applied index. Blocking reads on any prefix wake, none goes backwards.
    pub(crate) fn clamp_and_raise(&mut self, index: u64) {
        for entry in self.entries.values_mut() {
            entry.create_index = entry.create_index.min(index);
            entry.modify_index = entry.modify_index.min(index);
        }
        self.graveyard.raise_floor(index);
        self.last_change_index = index;
        self.last_applied_index = index;
    }
}
