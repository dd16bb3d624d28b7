//! The log's bookkeeping of what is handed to storage and what is durable: the part the
//! datadriven tests see only indirectly (a wrong count shows up as a write sent early, or a
//! suffix written twice).

use super::RaftLog;
use crate::raft::types::{Entry, EntryPayload, SnapshotMeta};

fn entry(index: u64, term: u64) -> Entry {
    let payload = EntryPayload::Command(format!("e{index}").into_bytes());
    Entry {
        term,
        index,
        payload,
    }
}

fn snapshot_at(last_index: u64, last_term: u64) -> SnapshotMeta {
    SnapshotMeta {
        last_index,
        last_term,
        ..SnapshotMeta::default()
    }
}

/// A log restored from storage with entries `from..=to` of term 1 after a snapshot at `from - 1`.
fn restored(from: u64, to: u64, commit_index: u64) -> RaftLog {
    let entries = (from..=to).map(|i| entry(i, 1)).collect();
    let snapshot_term = if from == 1 { 0 } else { 1 };
    RaftLog::restore(snapshot_at(from - 1, snapshot_term), entries, commit_index)
}

fn indexes(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.index).collect()
}

#[test]
fn restore_counts_everything_given_as_durable() {
    let mut log = restored(1, 3, 2);
    assert_eq!((log.first_index(), log.last_index()), (1, 3));
    assert_eq!((log.persisted_index(), log.commit_index), (3, 2));
    assert!(
        log.take_unpersisted(usize::MAX).is_empty(),
        "nothing to write again"
    );
    let mut log = restored(6, 8, 9);
    assert_eq!((log.first_index(), log.last_index()), (6, 8));
    assert_eq!(
        (log.commit_index, log.applied_index),
        (8, 5),
        "commit clamped to the log"
    );
    assert!(log.take_unpersisted(usize::MAX).is_empty());
}

#[test]
#[should_panic(expected = "restored log is not contiguous")]
fn restore_refuses_a_gap() {
    RaftLog::restore(snapshot_at(0, 0), vec![entry(1, 1), entry(3, 1)], 0);
}

#[test]
fn truncate_forgets_durability_of_what_it_removes() {
    let mut log = restored(3, 6, 3);
    log.truncate_from(5);
    assert_eq!((log.last_index(), log.persisted_index()), (4, 4));
    assert!(
        log.take_unpersisted(usize::MAX).is_empty(),
        "what is left was written"
    );
    log.append(entry(5, 2));
    assert_eq!(indexes(&log.take_unpersisted(usize::MAX)), vec![5]);
    log.on_persisted(5, 1);
    assert_eq!(
        log.persisted_index(),
        4,
        "a report for the old entry 5 does not count"
    );
    log.on_persisted(5, 2);
    assert_eq!(log.persisted_index(), 5);
}

#[test]
#[should_panic(expected = "truncating committed entry")]
fn truncate_refuses_committed_entries() {
    restored(1, 4, 3).truncate_from(3);
}

#[test]
fn install_snapshot_keeps_an_agreeing_suffix_and_its_state() {
    let mut log = restored(1, 3, 1);
    for i in 4..=6 {
        log.append(entry(i, 1));
    }
    log.install_snapshot(snapshot_at(5, 1));
    assert_eq!((log.first_index(), log.last_index()), (6, 6));
    assert_eq!((log.commit_index, log.applied_index), (5, 5));
    assert_eq!(
        log.persisted_index(),
        5,
        "the snapshot is durable, entry 6 not yet"
    );
    assert_eq!(
        indexes(&log.take_unpersisted(usize::MAX)),
        vec![6],
        "only what follows the snapshot"
    );
}

#[test]
fn install_snapshot_clears_a_conflicting_log() {
    let mut log = restored(1, 4, 1);
    log.install_snapshot(snapshot_at(3, 2));
    assert_eq!((log.first_index(), log.last_index()), (4, 3));
    assert_eq!(log.persisted_index(), 3);
    assert!(log.take_unpersisted(usize::MAX).is_empty());
    assert!(log.handed_out_entries().is_empty());
}

#[test]
fn handed_out_entries_are_those_given_to_storage() {
    let mut log = restored(3, 5, 3);
    assert_eq!(indexes(&log.handed_out_entries()), vec![3, 4, 5]);
    log.append(entry(6, 1));
    assert_eq!(
        indexes(&log.handed_out_entries()),
        vec![3, 4, 5],
        "6 not yet handed out"
    );
    assert_eq!(indexes(&log.take_unpersisted(usize::MAX)), vec![6]);
    assert_eq!(indexes(&log.handed_out_entries()), vec![3, 4, 5, 6]);
    let mut empty = RaftLog::restore(snapshot_at(3, 1), Vec::new(), 3);
    empty.append(entry(4, 1));
    assert!(empty.handed_out_entries().is_empty());
}

/// The bytes the log holds follow every change to it, and `size_bytes_through` counts what a
/// compaction at an index would free.
#[test]
fn size_in_bytes_follows_appends_truncation_and_compaction() {
    let mut log = restored(1, 4, 0);
    let each = entry(1, 1).size_bytes();
    assert_eq!(log.size_bytes(), 4 * each);
    log.append(entry(5, 1));
    assert_eq!(log.size_bytes(), 5 * each);
    assert_eq!(log.size_bytes_through(2), 2 * each);
    assert_eq!(log.size_bytes_through(0), 0);
    log.truncate_from(4);
    assert_eq!(log.size_bytes(), 3 * each);
    log.commit_index = 3;
    log.take_committed();
    log.compact(snapshot_at(2, 1));
    assert_eq!((log.size_bytes(), log.size_bytes_through(3)), (each, each));
}
