//! The in-memory Raft log: a snapshot point followed by entries, and what of it is durable.
//!
//! Entries are handed to storage once (`take_unpersisted`) and counted durable only when the
//! driver reports back (`on_persisted`), checked against the term so that a log rewritten in
//! between is never mistaken for the one that was written (the async-storage ABA race).

use super::types::{Entry, SnapshotMeta};

#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    /// Everything up to `snapshot.last_index` is compacted into the snapshot.
    snapshot: SnapshotMeta,
    /// `entries[i].index == snapshot.last_index + 1 + i`.
    entries: Vec<Entry>,
    /// The sum of `entries`' `size_bytes`: what the log holds in memory.
    entries_size_bytes: usize,
    /// The first index not yet handed to storage.
    unpersisted_from: u64,
    /// The last index storage confirmed durable, for this log's contents.
    persisted_index: u64,
    pub commit_index: u64,
    pub applied_index: u64,
}

impl RaftLog {
    /// A log restored from storage: everything given is already durable.
    pub fn restore(snapshot: SnapshotMeta, entries: Vec<Entry>, commit_index: u64) -> RaftLog {
        let first = snapshot.last_index + 1;
        for (offset, entry) in entries.iter().enumerate() {
            assert_eq!(
                entry.index,
                first + offset as u64,
                "restored log is not contiguous"
            );
        }
        let last = snapshot.last_index + entries.len() as u64;
        let commit_index = commit_index.clamp(snapshot.last_index, last);
        let applied_index = snapshot.last_index;
        let entries_size_bytes = entries.iter().map(Entry::size_bytes).sum();
        RaftLog {
            snapshot,
            entries,
            entries_size_bytes,
            unpersisted_from: last + 1,
            persisted_index: last,
            commit_index,
            applied_index,
        }
    }

    pub fn snapshot_meta(&self) -> &SnapshotMeta {
        &self.snapshot
    }

    pub fn first_index(&self) -> u64 {
        self.snapshot.last_index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot.last_index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot.last_term, |e| e.term)
    }

    pub fn persisted_index(&self) -> u64 {
        self.persisted_index
    }

    /// The term of the entry at `index`: `None` when compacted away (below the snapshot) or
    /// beyond the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.last_index {
            return Some(self.snapshot.last_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index <= self.snapshot.last_index {
            return None;
        }
        self.entries
            .get((index - self.snapshot.last_index - 1) as usize)
    }

    /// Entries from `from` on, at most `count_max` of them and about `bytes_max` bytes (never
    /// fewer than one when one exists). `from` must not be compacted.
    pub fn entries_from(&self, from: u64, count_max: usize, bytes_max: usize) -> Vec<Entry> {
        assert!(
            from > self.snapshot.last_index,
            "entries_from({from}) is compacted"
        );
        let start = (from - self.snapshot.last_index - 1) as usize;
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in self.entries.iter().skip(start).take(count_max) {
            bytes += entry.size_bytes();
            if !batch.is_empty() && bytes > bytes_max {
                break;
            }
            batch.push(entry.clone());
        }
        batch
    }

    /// `candidate` is at least as up to date as this log (Raft §5.4.1).
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Appends an entry at the end (the leader's own proposals).
    pub fn append(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index() + 1, "append leaves a gap");
        assert!(entry.term >= self.last_term(), "append goes back in term");
        self.entries_size_bytes += entry.size_bytes();
        self.entries.push(entry);
    }

    /// Bytes of entries held in memory (`Entry::size_bytes`): what compaction frees.
    pub fn size_bytes(&self) -> usize {
        debug_assert_eq!(
            self.entries_size_bytes,
            self.entries.iter().map(Entry::size_bytes).sum::<usize>()
        );
        self.entries_size_bytes
    }

    /// Bytes of the entries up to `index` held in memory: what compacting there would free.
    pub fn size_bytes_through(&self, index: u64) -> usize {
        let count = index.saturating_sub(self.snapshot.last_index) as usize;
        let freed: usize = self.entries.iter().take(count).map(Entry::size_bytes).sum();
        assert!(freed <= self.entries_size_bytes);
        freed
    }

    /// Drops the entries before position `keep_from` (they went into a snapshot).
    fn drop_front(&mut self, keep_from: usize) {
        let dropped: usize = self
            .entries
            .drain(..keep_from)
            .map(|e| e.size_bytes())
            .sum();
        assert!(dropped <= self.entries_size_bytes);
        self.entries_size_bytes -= dropped;
    }

    /// Removes every entry from `index` on. Committed entries are never removed.
    pub fn truncate_from(&mut self, index: u64) {
        assert!(
            index > self.commit_index,
            "truncating committed entry {index} (commit {})",
            self.commit_index
        );
        assert!(index > self.snapshot.last_index);
        let keep = (index - self.snapshot.last_index - 1) as usize;
        let dropped: usize = self.entries.iter().skip(keep).map(Entry::size_bytes).sum();
        self.entries_size_bytes -= dropped;
        self.entries.truncate(keep);
        self.unpersisted_from = self.unpersisted_from.min(index);
        self.persisted_index = self.persisted_index.min(index - 1);
    }

    /// Entries not yet handed to storage, handed over now, about `bytes_max` of them (never
    /// fewer than one): they must be written before any message that depends on them is sent.
    pub fn take_unpersisted(&mut self, bytes_max: usize) -> Vec<Entry> {
        let from = self.unpersisted_from.max(self.first_index());
        if from > self.last_index() {
            return Vec::new();
        }
        let batch = self.entries_from(from, usize::MAX, bytes_max);
        let last = batch.last().expect("at least one entry is taken").index;
        assert!(last >= from && last <= self.last_index());
        self.unpersisted_from = last + 1;
        batch
    }

    /// Whether entries wait to be handed to storage.
    pub fn has_unpersisted(&self) -> bool {
        self.unpersisted_from.max(self.first_index()) <= self.last_index()
    }

    /// Storage made entries up to `index` (of term `term`) durable. Ignored when the log was
    /// rewritten since, so that a stale report never counts a different entry as durable.
    pub fn on_persisted(&mut self, index: u64, term: u64) {
        if index <= self.persisted_index || index >= self.unpersisted_from {
            return;
        }
        if self.term_at(index) == Some(term) {
            self.persisted_index = index;
        }
    }

    /// Committed entries not yet applied, in order.
    pub fn take_committed(&mut self) -> Vec<Entry> {
        let high = self.commit_index.min(self.last_index());
        if self.applied_index >= high {
            return Vec::new();
        }
        let from = self.applied_index + 1;
        let batch: Vec<Entry> = self.entries_from(from, usize::MAX, usize::MAX);
        let batch: Vec<Entry> = batch
            .into_iter()
            .take((high - self.applied_index) as usize)
            .collect();
        self.applied_index = high;
        batch
    }

    /// Drops entries up to `meta.last_index`, which a snapshot now covers.
    pub fn compact(&mut self, meta: SnapshotMeta) {
        assert!(
            meta.last_index <= self.applied_index,
            "compacting past the applied index"
        );
        assert_eq!(
            self.term_at(meta.last_index),
            Some(meta.last_term),
            "snapshot term mismatch"
        );
        let drop_count = (meta.last_index - self.snapshot.last_index) as usize;
        self.drop_front(drop_count);
        self.snapshot = meta;
    }

    /// Replaces the log with a snapshot received from the leader. Entries after the snapshot
    /// point are kept only when the log agrees with the snapshot at that point (hashicorp/raft#697:
    /// a conflicting entry must not survive a snapshot).
    pub fn install_snapshot(&mut self, meta: SnapshotMeta) {
        assert!(
            meta.last_index > self.commit_index,
            "installing an old snapshot"
        );
        let agrees = self.term_at(meta.last_index) == Some(meta.last_term);
        let drop_count = if agrees {
            (meta.last_index - self.snapshot.last_index) as usize
        } else {
            self.entries.len()
        };
        self.drop_front(drop_count);
        self.commit_index = meta.last_index;
        self.applied_index = meta.last_index;
        let last_index = meta.last_index + self.entries.len() as u64;
        // A kept suffix stays as written (or not yet written); a cleared log is rewritten
        // from the snapshot on: nothing after it counts as handed out or durable any more.
        if agrees {
            self.unpersisted_from = self.unpersisted_from.max(meta.last_index + 1);
            self.persisted_index = self.persisted_index.clamp(meta.last_index, last_index);
        } else {
            self.unpersisted_from = meta.last_index + 1;
            self.persisted_index = meta.last_index;
        }
        self.snapshot = meta;
    }

    /// The entries after the snapshot already handed to storage: those the log file holds by
    /// the time a snapshot action runs (actions run in order), and so those its compaction
    /// must keep. Not only the confirmed ones: a write may be handed out and not yet reported.
    pub fn handed_out_entries(&self) -> Vec<Entry> {
        let high = (self.unpersisted_from - 1).min(self.last_index());
        if high < self.first_index() {
            return Vec::new();
        }
        self.entries_from(
            self.first_index(),
            (high - self.snapshot.last_index) as usize,
            usize::MAX,
        )
    }

    /// Iterates entries after the snapshot, newest last.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter()
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
