//! Tests of the write-ahead log over every disk, including crashes on the simulated one.

use super::disk::tests::TempDir;
use super::record::encode_frame;
use super::*;
use concord_core::raft::{
    ClusterConfig, Entry, EntryPayload, HardState, NodeId, Snapshot, SnapshotMeta,
};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn entry(term: u64, index: u64) -> Entry {
    let payload = EntryPayload::Command(format!("set k{index}={term}").into_bytes());
    Entry {
        term,
        index,
        payload,
    }
}

fn entries(term: u64, indexes: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
    indexes.map(|index| entry(term, index)).collect()
}

fn hard_state(term: u64, commit_index: u64) -> HardState {
    HardState {
        term,
        voted_for: Some(NodeId::new("n1")),
        commit_index,
    }
}

fn snapshot(last_index: u64, last_term: u64) -> Snapshot {
    let config = ClusterConfig::with_voters([NodeId::new("n1"), NodeId::new("n2")]);
    let meta = SnapshotMeta {
        last_index,
        last_term,
        config,
    };
    Snapshot {
        meta,
        data: format!("state at {last_index}").into_bytes(),
    }
}

fn recover(disk: &(impl Disk + Clone)) -> (RaftStorage, Recovered) {
    RaftStorage::recover(Box::new(disk.clone())).expect("recovers")
}

fn log_bytes(disk: &dyn Disk) -> Vec<u8> {
    disk.read(LOG_FILE).unwrap().unwrap_or_default()
}

/// Writes three batches and a hard-state-only record, then checks a restart reads them back.
fn check_round_trip(disk: &(impl Disk + Clone)) {
    let (mut storage, fresh) = recover(disk);
    assert_eq!(
        (fresh.hard_state, fresh.entries.len()),
        (HardState::default(), 0)
    );
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=4))
        .unwrap();
    storage.persist(None, &entries(1, 5..=6)).unwrap();
    storage
        .persist(Some(&hard_state(2, 5)), &entries(2, 7..=7))
        .unwrap();
    storage.persist(Some(&hard_state(2, 7)), &[]).unwrap();
    drop(storage);
    let (storage, recovered) = recover(disk);
    let mut expected = entries(1, 1..=6);
    expected.push(entry(2, 7));
    assert_eq!(recovered.entries, expected);
    assert_eq!(
        (recovered.hard_state, recovered.snapshot),
        (hard_state(2, 7), None)
    );
    assert_eq!(
        (storage.last_index(), recovered.torn_tail_truncated_bytes),
        (7, 0)
    );
}

#[test]
fn round_trip_on_file_disk() {
    let dir = TempDir::new("wal");
    /// FileDisk is not Clone: reopen the directory for each "process".
    #[derive(Clone)]
    struct Reopen(Arc<std::path::PathBuf>);
    impl Disk for Reopen {
        fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
            FileDisk::open(&*self.0)?.read(name)
        }
        fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            FileDisk::open(&*self.0)?.append(name, bytes)
        }
        fn sync(&self, name: &str) -> io::Result<()> {
            FileDisk::open(&*self.0)?.sync(name)
        }
        fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
            FileDisk::open(&*self.0)?.write_atomic(name, bytes)
        }
        fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
            FileDisk::open(&*self.0)?.truncate(name, len_bytes)
        }
    }
    check_round_trip(&Reopen(Arc::new(dir.0.clone())));
    // And through one long-lived FileDisk, as the node uses it.
    let (_, recovered) = RaftStorage::recover(Box::new(FileDisk::open(&dir.0).unwrap())).unwrap();
    assert_eq!(recovered.entries.len(), 7);
    assert!(dir.0.join(LOG_FILE).exists());
}

#[test]
fn round_trip_on_mem_disk() {
    check_round_trip(&MemDisk::new());
}

#[test]
fn round_trip_on_sim_disk_across_a_crash() {
    let disk = SimDisk::new();
    check_round_trip(&disk);
    disk.crash(99);
    let (_, recovered) = recover(&disk);
    assert_eq!(
        (recovered.entries.len(), recovered.hard_state),
        (7, hard_state(2, 7))
    );
}

#[test]
fn group_commit_is_one_append_and_one_sync_per_persist() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    // A new log's first record is written atomically, not appended.
    let first_record_bytes = storage.stats().bytes_written;
    assert_eq!(first_record_bytes, log_bytes(&disk).len() as u64);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=100))
        .unwrap();
    assert_eq!((disk.stats().appends, disk.stats().syncs), (1, 1));
    storage
        .persist(Some(&hard_state(1, 100)), &entries(1, 101..=200))
        .unwrap();
    storage.persist(None, &[]).unwrap();
    assert_eq!((disk.stats().appends, disk.stats().syncs), (2, 2));
    let stats = storage.stats();
    assert_eq!(
        (stats.persists, stats.syncs, stats.entries_written),
        (2, 2, 200)
    );
    assert_eq!(
        stats.bytes_written - first_record_bytes,
        disk.stats().bytes_appended
    );
}

#[test]
fn torn_tail_is_cut_back_to_the_last_whole_record() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
        .unwrap();
    storage.persist(None, &entries(1, 4..=5)).unwrap();
    let whole = log_bytes(&disk).len();
    storage
        .persist(Some(&hard_state(1, 6)), &entries(1, 6..=9))
        .unwrap();
    let full = log_bytes(&disk);
    // The third record lost its last 5 bytes.
    disk.write_atomic(LOG_FILE, &full[..full.len() - 5])
        .unwrap();
    let (storage, recovered) = recover(&disk);
    assert_eq!(recovered.entries, entries(1, 1..=5));
    assert_eq!(
        recovered.torn_tail_truncated_bytes,
        (full.len() - 5 - whole) as u64
    );
    assert_eq!((log_bytes(&disk).len(), storage.last_index()), (whole, 5));
    let (_, again) = recover(&disk);
    assert_eq!(
        (again.torn_tail_truncated_bytes, again.entries.len()),
        (0, 5)
    );
}

#[test]
fn zero_filled_and_checksum_damaged_tails_are_torn_writes() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
        .unwrap();
    let whole = log_bytes(&disk);
    disk.append(LOG_FILE, &[0; 512]).unwrap();
    assert_eq!(recover(&disk).1.torn_tail_truncated_bytes, 512);
    // Last record complete in length but its payload's end never reached the disk.
    storage.persist(None, &entries(1, 4..=4)).unwrap();
    let mut damaged = log_bytes(&disk);
    let end = damaged.len();
    damaged[end - 3..].fill(0);
    disk.write_atomic(LOG_FILE, &damaged).unwrap();
    let (_, recovered) = recover(&disk);
    assert_eq!((recovered.entries.len(), log_bytes(&disk)), (3, whole));
}

/// A power loss can leave a whole file zero-filled. That is not a torn write (every log starts
/// with a whole record), so recovery refuses it rather than start empty and forget the
/// acknowledged entries, the term and the vote.
#[test]
fn zero_filled_log_is_refused_not_taken_for_a_torn_tail() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(3, 2)), &entries(3, 1..=20))
        .unwrap();
    let zeros = vec![0; log_bytes(&disk).len()];
    disk.write_atomic(LOG_FILE, &zeros).unwrap();
    let error = RaftStorage::recover(Box::new(disk.clone()))
        .err()
        .expect("refused");
    assert!(
        matches!(&error, StorageError::DamagedTail { file, offset_bytes: 0, .. } if file == LOG_FILE),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("raft.log: damaged from byte offset 0"),
        "{message}"
    );
    assert_eq!(log_bytes(&disk), zeros, "the evidence is left as it was");
}

#[test]
fn a_new_log_starts_with_a_whole_record() {
    let disk = MemDisk::new();
    let (_, recovered) = recover(&disk);
    assert_eq!(recovered.entries.len(), 0);
    let bytes = log_bytes(&disk);
    assert!(!bytes.is_empty(), "the first record is written at once");
    let (_, again) = recover(&disk);
    assert_eq!(
        (again.torn_tail_truncated_bytes, again.hard_state),
        (0, HardState::default())
    );
}

#[test]
fn a_bad_tail_longer_than_one_write_is_refused() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
        .unwrap();
    let whole = log_bytes(&disk).len() as u64;
    disk.append(LOG_FILE, &vec![0; LOG_WRITE_BYTES_MAX as usize])
        .unwrap();
    assert_eq!(
        recover(&disk).1.torn_tail_truncated_bytes,
        LOG_WRITE_BYTES_MAX,
        "one write's worth is a torn tail"
    );
    disk.append(LOG_FILE, &vec![0; LOG_WRITE_BYTES_MAX as usize + 1])
        .unwrap();
    let error = RaftStorage::recover(Box::new(disk.clone()))
        .err()
        .expect("refused");
    assert!(
        matches!(&error, StorageError::DamagedTail { offset_bytes, .. } if *offset_bytes == whole),
        "{error}"
    );
}

#[test]
fn corruption_in_the_middle_is_refused_with_file_and_offset() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
        .unwrap();
    let second_at = log_bytes(&disk).len() as u64;
    storage.persist(None, &entries(1, 4..=6)).unwrap();
    storage.persist(None, &entries(1, 7..=9)).unwrap();
    let mut bytes = log_bytes(&disk);
    bytes[second_at as usize + RECORD_HEADER_BYTES + 2] ^= 0x40;
    disk.write_atomic(LOG_FILE, &bytes).unwrap();
    let error = RaftStorage::recover(Box::new(disk.clone()))
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(
        matches!(&error, StorageError::Corrupt { file, offset_bytes, reason: Corruption::ChecksumMismatch { .. }, valid_record_follows_at: Some(_) } if file == LOG_FILE && *offset_bytes == second_at),
        "{message}"
    );
    assert!(
        message.contains(&format!("raft.log: corrupt at byte offset {second_at}")),
        "{message}"
    );
}

#[test]
fn oversized_length_in_the_middle_is_refused() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage.persist(None, &entries(1, 1..=3)).unwrap();
    storage.persist(None, &entries(1, 4..=6)).unwrap();
    let mut bytes = log_bytes(&disk);
    bytes[0..4].copy_from_slice(&(RECORD_SIZE_BYTES_MAX + 1).to_le_bytes());
    disk.write_atomic(LOG_FILE, &bytes).unwrap();
    let error = RaftStorage::recover(Box::new(disk)).err().expect("refused");
    assert!(
        matches!(
            error,
            StorageError::Corrupt {
                offset_bytes: 0,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn overwriting_entries_truncates_the_log_like_raft() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=5))
        .unwrap();
    storage
        .persist(Some(&hard_state(2, 2)), &entries(2, 3..=4))
        .unwrap();
    assert_eq!(storage.last_index(), 4);
    let (storage, recovered) = recover(&disk);
    let expected: Vec<Entry> = entries(1, 1..=2)
        .into_iter()
        .chain(entries(2, 3..=4))
        .collect();
    assert_eq!(recovered.entries, expected);
    assert_eq!(
        (storage.last_index(), recovered.hard_state),
        (4, hard_state(2, 2))
    );
}

#[test]
#[should_panic(expected = "do not continue")]
fn a_gap_in_the_log_is_a_bug_caught_on_write() {
    let (mut storage, _) = recover(&MemDisk::new());
    storage.persist(None, &entries(1, 1..=2)).unwrap();
    storage.persist(None, &entries(1, 4..=5)).unwrap();
}

#[test]
fn sim_crash_loses_unsynced_data_and_keeps_synced_data() {
    for draw in 0..100 {
        let disk = SimDisk::new();
        let (mut storage, _) = recover(&disk);
        storage
            .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
            .unwrap();
        disk.hold_syncs(true);
        storage
            .persist(Some(&hard_state(1, 3)), &entries(1, 4..=6))
            .unwrap();
        let report = disk.crash(draw);
        let (_, recovered) = recover(&disk);
        let whole_batch_survived = recovered.entries.len() == 6;
        assert!(
            whole_batch_survived || recovered.entries == entries(1, 1..=3),
            "draw {draw}"
        );
        assert_eq!(
            recovered.hard_state.commit_index,
            if whole_batch_survived { 3 } else { 0 }
        );
        assert!(
            report.unsynced_bytes_lost == 0 || !whole_batch_survived,
            "draw {draw}"
        );
    }
}

#[test]
fn snapshot_compacts_the_log_and_recovers() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 8)), &entries(1, 1..=10))
        .unwrap();
    let before = log_bytes(&disk).len();
    storage
        .save_snapshot(&snapshot(6, 1), &hard_state(1, 8), &entries(1, 7..=10))
        .unwrap();
    assert!(log_bytes(&disk).len() < before);
    storage.persist(None, &entries(2, 11..=11)).unwrap();
    let (storage, recovered) = recover(&disk);
    assert_eq!(recovered.snapshot, Some(snapshot(6, 1)));
    let expected: Vec<Entry> = entries(1, 7..=10)
        .into_iter()
        .chain([entry(2, 11)])
        .collect();
    assert_eq!(
        (recovered.entries, recovered.hard_state),
        (expected, hard_state(1, 8))
    );
    assert_eq!((storage.snapshot_index(), storage.last_index()), (6, 11));
    assert!(!recovered.finished_interrupted_compaction);
}

#[test]
fn snapshot_dropping_the_whole_log_recovers_empty() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 3)), &entries(1, 1..=3))
        .unwrap();
    // A follower installing a leader's snapshot past its log keeps none of it.
    storage
        .save_snapshot(&snapshot(20, 3), &hard_state(3, 20), &[])
        .unwrap();
    storage.persist(None, &entries(3, 21..=21)).unwrap();
    let (storage, recovered) = recover(&disk);
    assert_eq!(
        (recovered.entries, storage.load_snapshot().unwrap()),
        (vec![entry(3, 21)], Some(snapshot(20, 3)))
    );
    assert_eq!(recovered.hard_state, hard_state(3, 20));
}

/// A crash after the snapshot file was written but before the log was compacted.
fn interrupt_snapshot(disk: &MemDisk, snapshot: &Snapshot) {
    let frame = encode_frame(snapshot, SNAPSHOT_FRAME_BYTES_MAX).unwrap();
    disk.write_atomic(SNAPSHOT_FILE, &frame).unwrap();
}

#[test]
fn crash_between_snapshot_and_compaction_recovers_and_finishes_it() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 2)), &entries(1, 1..=8))
        .unwrap();
    interrupt_snapshot(&disk, &snapshot(5, 1));
    let (mut storage, recovered) = recover(&disk);
    assert!(recovered.finished_interrupted_compaction);
    assert_eq!(
        (recovered.entries, recovered.hard_state.commit_index),
        (entries(1, 6..=8), 5)
    );
    storage.persist(None, &entries(2, 7..=7)).unwrap();
    let (_, again) = recover(&disk);
    let expected: Vec<Entry> = [entry(1, 6), entry(2, 7)].into();
    assert_eq!(
        (again.entries, again.finished_interrupted_compaction),
        (expected, false)
    );
}

#[test]
fn snapshot_conflicting_with_the_old_log_drops_it_for_good() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=8))
        .unwrap();
    // The leader's snapshot has term 2 at index 5: our entries from there on are stale.
    interrupt_snapshot(&disk, &snapshot(5, 2));
    let (mut storage, recovered) = recover(&disk);
    assert_eq!((recovered.entries.len(), storage.last_index()), (0, 5));
    storage.persist(None, &entries(2, 6..=6)).unwrap();
    assert_eq!(recover(&disk).1.entries, entries(2, 6..=6));
}

#[test]
fn log_compacted_past_a_missing_snapshot_is_refused() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 4)), &entries(1, 1..=4))
        .unwrap();
    storage
        .save_snapshot(&snapshot(4, 1), &hard_state(1, 4), &[])
        .unwrap();
    let only_log = MemDisk::new();
    only_log.write_atomic(LOG_FILE, &log_bytes(&disk)).unwrap();
    let error = RaftStorage::recover(Box::new(only_log))
        .err()
        .expect("refused");
    assert!(matches!(
        error,
        StorageError::SnapshotBehindLog {
            snapshot_index: None,
            log_base_index: 4
        }
    ));
}

#[test]
fn corrupt_snapshot_file_is_refused() {
    let disk = MemDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .save_snapshot(&snapshot(4, 1), &hard_state(1, 4), &[])
        .unwrap();
    let mut bytes = disk.read(SNAPSHOT_FILE).unwrap().unwrap();
    bytes.push(0);
    disk.write_atomic(SNAPSHOT_FILE, &bytes).unwrap();
    let error = RaftStorage::recover(Box::new(disk)).err().expect("refused");
    assert!(
        error
            .to_string()
            .starts_with("raft.snapshot: corrupt at byte offset 0"),
        "{error}"
    );
}

/// Fails appends while `broken` is set, as a full disk would.
#[derive(Clone)]
struct FlakyDisk {
    inner: MemDisk,
    broken: Arc<AtomicBool>,
}

impl Disk for FlakyDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.inner.read(name)
    }
    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        if self.broken.load(Ordering::Relaxed) {
            self.inner.append(name, &bytes[..bytes.len() / 2])?;
            return Err(io::Error::other("no space left"));
        }
        self.inner.append(name, bytes)
    }
    fn sync(&self, name: &str) -> io::Result<()> {
        self.inner.sync(name)
    }
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_atomic(name, bytes)
    }
    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        self.inner.truncate(name, len_bytes)
    }
}

#[test]
fn a_failed_write_stops_all_writes_until_restart() {
    let disk = FlakyDisk {
        inner: MemDisk::new(),
        broken: Arc::new(AtomicBool::new(true)),
    };
    let (mut storage, _) = recover(&disk);
    assert!(storage.persist(None, &entries(1, 1..=3)).is_err());
    disk.broken.store(false, Ordering::Relaxed);
    // Appending after half a record would bury it mid-log, where recovery must refuse it.
    assert!(storage.persist(None, &entries(1, 1..=3)).is_err());
    let (mut storage, recovered) = recover(&disk);
    assert!(recovered.torn_tail_truncated_bytes > 0);
    storage.persist(None, &entries(1, 1..=3)).unwrap();
    assert_eq!(recover(&disk).1.entries, entries(1, 1..=3));
}

mod crash_property {
    use super::*;
    use proptest::prelude::*;

    /// What the log should hold, to compare with what recovery finds.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Model {
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    }

    impl Model {
        fn of(recovered: Recovered) -> Model {
            let Recovered {
                hard_state,
                snapshot,
                entries,
                ..
            } = recovered;
            Model {
                hard_state,
                snapshot,
                entries,
            }
        }

        fn snapshot_index(&self) -> u64 {
            self.snapshot
                .as_ref()
                .map_or(0, |snapshot| snapshot.meta.last_index)
        }

        fn last_index(&self) -> u64 {
            self.entries
                .last()
                .map_or(self.snapshot_index(), |entry| entry.index)
        }

        fn term_at(&self, index: u64) -> Option<u64> {
            let snapshot = self
                .snapshot
                .as_ref()
                .map_or((0, 0), |s| (s.meta.last_index, s.meta.last_term));
            if index == snapshot.0 {
                return Some(snapshot.1);
            }
            self.entries
                .iter()
                .find(|entry| entry.index == index)
                .map(|entry| entry.term)
        }

        fn persisted(&self, hard_state: Option<&HardState>, batch: &[Entry]) -> Model {
            let mut next = self.clone();
            if let Some(first) = batch.first() {
                next.entries.retain(|entry| entry.index < first.index);
                next.entries.extend_from_slice(batch);
            }
            next.hard_state = hard_state.cloned().unwrap_or(next.hard_state);
            next
        }

        /// Raft's rule: keep what follows the snapshot only if the log agrees with it there.
        fn with_snapshot(&self, snapshot: &Snapshot) -> Model {
            let (index, term) = (snapshot.meta.last_index, snapshot.meta.last_term);
            let mut next = self.clone();
            let agrees = self.term_at(index) == Some(term);
            next.entries.retain(|entry| agrees && entry.index > index);
            next.hard_state.commit_index = next.hard_state.commit_index.max(index);
            next.snapshot = Some(snapshot.clone());
            next
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A batch starting up to `rewind` entries back (never below the commit index).
        Persist {
            synced: bool,
            new_term: bool,
            commit: bool,
            rewind: u64,
            count: u64,
        },
        /// A snapshot at a committed index; `interrupted` crashes before compaction.
        Snapshot {
            percent: u64,
            interrupted: bool,
            draw: u64,
        },
        Crash {
            draw: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let persist = (
            any::<bool>(),
            prop::bool::weighted(0.2),
            any::<bool>(),
            0..4u64,
            0..6u64,
        )
            .prop_map(|(synced, new_term, commit, rewind, count)| Op::Persist {
                synced,
                new_term,
                commit,
                rewind,
                count,
            });
        let snapshot =
            (0..=100u64, any::<bool>(), any::<u64>()).prop_map(|(percent, interrupted, draw)| {
                Op::Snapshot {
                    percent,
                    interrupted,
                    draw,
                }
            });
        prop_oneof![8 => persist, 1 => snapshot, 2 => any::<u64>().prop_map(|draw| Op::Crash { draw })]
    }

    /// Durable state, plus the states after each persist whose sync was held: after a crash
    /// recovery must land on exactly one of them (each persist is one all-or-nothing record).
    struct Run {
        disk: SimDisk,
        storage: RaftStorage,
        durable: Model,
        pending: Vec<Model>,
    }

    impl Run {
        fn new() -> Run {
            let disk = SimDisk::new();
            let (storage, recovered) = recover(&disk);
            Run {
                disk,
                storage,
                durable: Model::of(recovered),
                pending: Vec::new(),
            }
        }

        fn current(&self) -> &Model {
            self.pending.last().unwrap_or(&self.durable)
        }

        fn persist(&mut self, synced: bool, new_term: bool, commit: bool, rewind: u64, count: u64) {
            let model = self.current().clone();
            let first = (model.last_index() + 1)
                .saturating_sub(rewind)
                .max(model.hard_state.commit_index + 1);
            let term = model.hard_state.term + u64::from(new_term);
            let batch: Vec<Entry> = (first..first + count)
                .map(|index| entry(term, index))
                .collect();
            let last = if count == 0 {
                model.last_index()
            } else {
                first + count - 1
            };
            let commit_index = if commit {
                last
            } else {
                model.hard_state.commit_index
            };
            let hard_state = HardState {
                term,
                commit_index,
                ..model.hard_state.clone()
            };
            let hard_state = (new_term || commit).then_some(hard_state);
            if hard_state.is_none() && batch.is_empty() {
                return; // Nothing to write, so nothing is synced either.
            }
            self.disk.hold_syncs(!synced);
            self.storage.persist(hard_state.as_ref(), &batch).unwrap();
            self.disk.hold_syncs(false);
            let next = model.persisted(hard_state.as_ref(), &batch);
            if synced {
                (self.durable, self.pending) = (next, Vec::new());
            } else {
                self.pending.push(next);
            }
        }

        fn snapshot(&mut self, percent: u64, interrupted: bool, draw: u64) {
            let model = self.current().clone();
            let (low, high) = (model.snapshot_index(), model.hard_state.commit_index);
            let index = low + (high - low) * percent / 100;
            let Some(term) = model.term_at(index).filter(|_| index > 0) else {
                return;
            };
            let snapshot = snapshot(index, term);
            if interrupted {
                let frame = encode_frame(&snapshot, SNAPSHOT_FRAME_BYTES_MAX).unwrap();
                self.disk.write_atomic(SNAPSHOT_FILE, &frame).unwrap();
                let candidates = [&self.durable].into_iter().chain(&self.pending);
                let expected: Vec<Model> = candidates
                    .map(|model| model.with_snapshot(&snapshot))
                    .collect();
                return self.crash_and_check(draw, expected);
            }
            let next = model.with_snapshot(&snapshot);
            self.storage
                .save_snapshot(&snapshot, &next.hard_state, &next.entries)
                .unwrap();
            (self.durable, self.pending) = (next, Vec::new());
        }

        fn crash(&mut self, draw: u64) {
            let expected = [&self.durable]
                .into_iter()
                .chain(&self.pending)
                .cloned()
                .collect();
            self.crash_and_check(draw, expected);
        }

        fn crash_and_check(&mut self, draw: u64, expected: Vec<Model>) {
            let report = self.disk.crash(draw);
            let (storage, recovered) = recover(&self.disk);
            let got = Model::of(recovered);
            assert!(
                expected.contains(&got),
                "after crash {report:?}: recovered {got:#?}\nexpected one of {expected:#?}"
            );
            assert_eq!(storage.last_index(), got.last_index());
            (self.storage, self.durable, self.pending) = (storage, got, Vec::new());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn crashes_recover_a_prefix_holding_everything_synced(ops in prop::collection::vec(op(), 1..60)) {
            let mut run = Run::new();
            for op in ops {
                match op {
                    Op::Persist { synced, new_term, commit, rewind, count } => run.persist(synced, new_term, commit, rewind, count),
                    Op::Snapshot { percent, interrupted, draw } => run.snapshot(percent, interrupted, draw),
                    Op::Crash { draw } => run.crash(draw),
                }
            }
            run.crash(0);
        }
    }
}

/// A hard state that only moves the commit index is appended without an fsync (MustSync):
/// a crash keeps it or loses it whole, never the entries synced before it, and the next
/// synced write makes it durable with its own record.
#[test]
fn a_commit_only_hard_state_is_written_without_an_fsync_and_a_crash_may_lose_only_it() {
    for draw in 0..100 {
        let disk = SimDisk::new();
        let (mut storage, _) = recover(&disk);
        storage
            .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
            .unwrap();
        let syncs_before = disk.stats().syncs;
        storage.persist_commit(&hard_state(1, 3)).unwrap();
        assert_eq!(disk.stats().syncs, syncs_before, "no fsync for a commit");
        assert_eq!(storage.stats().unsynced_commits, 1);
        disk.crash(draw);
        let (_, recovered) = recover(&disk);
        assert_eq!(recovered.entries, entries(1, 1..=3), "draw {draw}");
        let commit = recovered.hard_state.commit_index;
        assert!(commit == 0 || commit == 3, "draw {draw}: commit {commit}");
    }
    let disk = SimDisk::new();
    let (mut storage, _) = recover(&disk);
    storage
        .persist(Some(&hard_state(1, 0)), &entries(1, 1..=3))
        .unwrap();
    storage.persist_commit(&hard_state(1, 3)).unwrap();
    storage.persist(None, &entries(1, 4..=4)).unwrap();
    disk.crash(7);
    let (_, recovered) = recover(&disk);
    assert_eq!(
        recovered.hard_state.commit_index, 3,
        "synced by the next persist"
    );
}
