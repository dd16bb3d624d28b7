//! The Raft write-ahead log: hard state and entries in an append-only log file, with group
//! commit, plus a snapshot file that lets the log be compacted.
//!
//! Files: `raft.log` (records, see `record.rs`) and `raft.snapshot` (one record). Invariant
//! after `recover` and after every `save_snapshot`: the log begins with a `Base` record equal
//! to the snapshot's last index and term (or none if there is no snapshot).

use super::disk::Disk;
use super::error::{Corruption, StorageError};
use super::record::{
    decode_frame, encode_frame, scan_log, Record, RECORD_HEADER_BYTES, RECORD_SIZE_BYTES_MAX,
    SNAPSHOT_FRAME_BYTES_MAX,
};
use crate::metrics::Histogram;
use concord_core::raft::{Entry, HardState, Snapshot};
use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::Instant;

pub const LOG_FILE: &str = "raft.log";
/// The most bytes one write can add to the log: one record, plus a filesystem block that a
/// crash may leave zero-filled past it. A bad tail longer than this cannot be a torn write.
pub const LOG_WRITE_BYTES_MAX: u64 =
    (RECORD_HEADER_BYTES as u64 + RECORD_SIZE_BYTES_MAX as u64) + FILESYSTEM_BLOCK_BYTES;
const FILESYSTEM_BLOCK_BYTES: u64 = 4096;
pub const SNAPSHOT_FILE: &str = "raft.snapshot";

/// What the log did since it was opened: for benchmarks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// `persist` calls that wrote something.
    pub persists: u64,
    pub entries_written: u64,
    /// fsyncs of the log asked for by `persist` (atomic writes sync on their own).
    pub syncs: u64,
    /// Hard states written by `persist_commit`, without an fsync.
    pub unsynced_commits: u64,
    /// Bytes handed to the disk: log appends and whole-file rewrites.
    pub bytes_written: u64,
    pub snapshots_saved: u64,
}

/// The durable state found by `recover`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// Its commit index is at least the snapshot's last index: a snapshot holds only
    /// committed entries, even if the log's last hard state predates it.
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot, contiguous, truncations replayed.
    pub entries: Vec<Entry>,
    /// Bytes of a torn write cut from the log's end.
    pub torn_tail_truncated_bytes: u64,
    /// A crash fell between writing a snapshot and compacting the log; recovery compacted.
    pub finished_interrupted_compaction: bool,
}

/// The node's Raft storage. One writer; every write is durable when the call returns, but
/// for `persist_commit`'s, which the next synced write makes durable.
pub struct RaftStorage {
    disk: Box<dyn Disk>,
    snapshot_index: u64,
    /// Index of the last entry on disk, or the snapshot's if there are none after it.
    last_index: u64,
    /// Set by a failed write: the log's end is unknown (maybe half a record), so appending
    /// more could bury garbage mid-log. Only a restart, which scans and repairs, clears it.
    failed: bool,
    stats: StorageStats,
    /// Where the time of each log fsync goes (`NodeHandle::metrics`), if anywhere.
    fsync_timer: Option<Arc<Histogram>>,
}

impl RaftStorage {
    /// Reads what `disk` holds, repairs a torn tail, finishes an interrupted compaction, and
    /// returns the storage ready for writing. An empty disk recovers to the initial state.
    pub fn recover(disk: Box<dyn Disk>) -> Result<(RaftStorage, Recovered), StorageError> {
        let snapshot = read_snapshot(&*disk)?;
        let (log, torn_tail_truncated_bytes) = read_log(&*disk)?;
        let (snapshot_index, snapshot_term) = snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.meta.last_index, s.meta.last_term));
        if log.base_index > snapshot_index {
            let snapshot_index = snapshot.as_ref().map(|s| s.meta.last_index);
            let log_base_index = log.base_index;
            return Err(StorageError::SnapshotBehindLog {
                snapshot_index,
                log_base_index,
            });
        }
        // The log continues another snapshot point only if a crash fell between the two
        // writes of `save_snapshot` (or the log disagrees with the snapshot at its index).
        let compaction_interrupted =
            (log.base_index, log.base_term) != (snapshot_index, snapshot_term);
        // A new log starts with a record written atomically, so that a log with content but
        // no valid record at all can only be damage, never a torn first write.
        let fresh = log.is_empty && snapshot.is_none();
        let mut hard_state = log.hard_state.clone();
        hard_state.commit_index = hard_state.commit_index.max(snapshot_index);
        let entries = log.entries_after(snapshot_index, snapshot_term);
        let mut storage = RaftStorage {
            disk,
            snapshot_index,
            last_index: entries.last().map_or(snapshot_index, |entry| entry.index),
            failed: false,
            stats: StorageStats::default(),
            fsync_timer: None,
        };
        if compaction_interrupted {
            tracing::info!(
                snapshot_index,
                "finishing a log compaction a crash interrupted"
            );
        }
        if compaction_interrupted || fresh {
            storage.rewrite_log(snapshot_term, &hard_state, &entries)?;
        }
        let recovered = Recovered {
            hard_state,
            snapshot,
            entries,
            torn_tail_truncated_bytes,
            finished_interrupted_compaction: compaction_interrupted,
        };
        Ok((storage, recovered))
    }

    /// Records the time of each log fsync into `timer`.
    pub fn time_fsyncs_into(&mut self, timer: Arc<Histogram>) {
        self.fsync_timer = Some(timer);
    }

    /// Makes `hard_state` (if any) and `entries` durable with one append and one fsync: group
    /// commit, whatever the batch size. Entries must be contiguous and continue the log; those
    /// at an index already present replace it and everything after (Raft truncation).
    pub fn persist(&mut self, hard_state: Option<&HardState>, entries: &[Entry]) -> io::Result<()> {
        self.check_usable()?;
        assert_contiguous(entries);
        if let Some(first) = entries.first() {
            assert!(
                first.index > self.snapshot_index && first.index <= self.last_index + 1,
                "entries from {} do not continue a log of {}..={}",
                first.index,
                self.snapshot_index + 1,
                self.last_index
            );
        }
        let record = match (hard_state, entries) {
            (None, []) => return Ok(()),
            (Some(hard_state), []) => Record::HardState(Cow::Borrowed(hard_state)),
            (None, _) => Record::Entries(Cow::Borrowed(entries)),
            (Some(hard_state), _) => {
                Record::HardStateAndEntries(Cow::Borrowed(hard_state), Cow::Borrowed(entries))
            }
        };
        // Encoding fails before anything is written, so an oversized batch leaves no trace.
        let frame = encode_frame(&record, RECORD_SIZE_BYTES_MAX)?;
        self.write(|disk| disk.append(LOG_FILE, &frame))?;
        let started = Instant::now();
        self.write(|disk| disk.sync(LOG_FILE))?;
        if let Some(timer) = &self.fsync_timer {
            timer.observe_since(started);
        }
        self.stats.persists += 1;
        self.stats.syncs += 1;
        self.stats.entries_written += entries.len() as u64;
        self.stats.bytes_written += frame.len() as u64;
        if let Some(last) = entries.last() {
            self.last_index = last.index;
        }
        Ok(())
    }

    /// Writes a hard state that differs from the last only in its commit index, without an
    /// fsync (etcd-io/raft's `MustSync`): a crash may lose it, and recovery then starts from
    /// an older commit index, which Raft learns again from the leader. The next `persist`
    /// syncs it along with its own record (records are appended in order).
    pub fn persist_commit(&mut self, hard_state: &HardState) -> io::Result<()> {
        self.check_usable()?;
        assert!(
            hard_state.commit_index <= self.last_index,
            "commit index {} beyond the log's end {}",
            hard_state.commit_index,
            self.last_index
        );
        let frame = encode_frame(
            &Record::HardState(Cow::Borrowed(hard_state)),
            RECORD_SIZE_BYTES_MAX,
        )?;
        self.write(|disk| disk.append(LOG_FILE, &frame))?;
        self.stats.unsynced_commits += 1;
        self.stats.bytes_written += frame.len() as u64;
        Ok(())
    }

    /// Stores `snapshot` and compacts the log to `hard_state` plus `retained_entries`, which
    /// must directly follow the snapshot (or be empty, to drop the whole log).
    pub fn save_snapshot(
        &mut self,
        snapshot: &Snapshot,
        hard_state: &HardState,
        retained_entries: &[Entry],
    ) -> io::Result<()> {
        self.check_usable()?;
        let (last_index, last_term) = (snapshot.meta.last_index, snapshot.meta.last_term);
        assert!(
            last_index >= self.snapshot_index,
            "snapshot at {last_index} is older"
        );
        assert_contiguous(retained_entries);
        if let Some(first) = retained_entries.first() {
            assert_eq!(
                first.index,
                last_index + 1,
                "retained entries must follow the snapshot"
            );
        }
        let snapshot_frame = encode_frame(snapshot, SNAPSHOT_FRAME_BYTES_MAX)?;
        let log = compacted_log(last_index, last_term, hard_state, retained_entries)?;
        // Snapshot first. A crash between the two writes leaves the new snapshot with the old
        // log, which `recover` reconciles and compacts. The other order could leave a log that
        // continues a snapshot that is not on disk.
        self.write(|disk| {
            disk.write_atomic(SNAPSHOT_FILE, &snapshot_frame)?;
            disk.write_atomic(LOG_FILE, &log)
        })?;
        self.stats.snapshots_saved += 1;
        self.stats.bytes_written += (snapshot_frame.len() + log.len()) as u64;
        self.snapshot_index = last_index;
        self.last_index = retained_entries
            .last()
            .map_or(last_index, |entry| entry.index);
        Ok(())
    }

    /// The stored snapshot, read back from disk (to send to a follower, say).
    pub fn load_snapshot(&self) -> Result<Option<Snapshot>, StorageError> {
        read_snapshot(&*self.disk)
    }

    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn stats(&self) -> StorageStats {
        self.stats
    }

    /// Rewrites the log atomically as `save_snapshot` would have: after a crash between its two
    /// writes (else entries appended from now on would continue a log that disagrees with the
    /// snapshot, and the next recovery would drop them with it), and to start a new log.
    fn rewrite_log(
        &mut self,
        snapshot_term: u64,
        hard_state: &HardState,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        let snapshot_index = self.snapshot_index;
        let bytes = compacted_log(snapshot_index, snapshot_term, hard_state, entries)
            .map_err(StorageError::io(LOG_FILE))?;
        self.write(|disk| disk.write_atomic(LOG_FILE, &bytes))
            .map_err(StorageError::io(LOG_FILE))?;
        self.stats.bytes_written += bytes.len() as u64;
        Ok(())
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            let message = "storage failed on an earlier write; restart to recover";
            return Err(io::Error::other(message));
        }
        Ok(())
    }

    fn write<T>(&mut self, op: impl FnOnce(&dyn Disk) -> io::Result<T>) -> io::Result<T> {
        let result = op(&*self.disk);
        self.failed |= result.is_err();
        result
    }
}

fn assert_contiguous(entries: &[Entry]) {
    for pair in entries.windows(2) {
        assert_eq!(
            pair[1].index,
            pair[0].index + 1,
            "entries are not contiguous"
        );
    }
}

/// A whole compacted log file: the snapshot point, the hard state, the retained entries.
fn compacted_log(
    base_index: u64,
    base_term: u64,
    hard_state: &HardState,
    entries: &[Entry],
) -> io::Result<Vec<u8>> {
    let mut log = encode_frame(
        &Record::Base {
            index: base_index,
            term: base_term,
        },
        RECORD_SIZE_BYTES_MAX,
    )?;
    log.extend(encode_frame(
        &Record::HardState(Cow::Borrowed(hard_state)),
        RECORD_SIZE_BYTES_MAX,
    )?);
    encode_entries(&mut log, entries)?;
    Ok(log)
}

/// Appends `entries` as few records as fit the size bound: the file is written atomically,
/// so unlike a persist batch it may span records.
fn encode_entries(out: &mut Vec<u8>, entries: &[Entry]) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    match encode_frame(
        &Record::Entries(Cow::Borrowed(entries)),
        RECORD_SIZE_BYTES_MAX,
    ) {
        Ok(frame) => out.extend(frame),
        Err(_) if entries.len() > 1 => {
            let (front, back) = entries.split_at(entries.len() / 2);
            encode_entries(out, front)?;
            encode_entries(out, back)?;
        }
        Err(error) => return Err(error),
    }
    Ok(())
}

fn read_snapshot(disk: &dyn Disk) -> Result<Option<Snapshot>, StorageError> {
    let Some(bytes) = disk
        .read(SNAPSHOT_FILE)
        .map_err(StorageError::io(SNAPSHOT_FILE))?
    else {
        return Ok(None);
    };
    let corrupt = |reason| StorageError::Corrupt {
        file: SNAPSHOT_FILE.to_string(),
        offset_bytes: 0,
        reason,
        valid_record_follows_at: None,
    };
    // Written atomically, so any damage here is real corruption, never a torn write.
    let (snapshot, frame_len) =
        decode_frame(&bytes, 0, SNAPSHOT_FRAME_BYTES_MAX).map_err(corrupt)?;
    if frame_len != bytes.len() {
        return Err(corrupt(Corruption::TrailingBytes {
            extra: (bytes.len() - frame_len) as u64,
        }));
    }
    Ok(Some(snapshot))
}

/// Scans and replays the log, cutting a torn tail off the file. Returns the bytes cut.
fn read_log(disk: &dyn Disk) -> Result<(LogState, u64), StorageError> {
    let bytes = disk
        .read(LOG_FILE)
        .map_err(StorageError::io(LOG_FILE))?
        .unwrap_or_default();
    let scan = scan_log(LOG_FILE, &bytes)?;
    let torn_bytes = bytes.len() as u64 - scan.valid_len_bytes;
    if let Some(reason) = &scan.bad_tail {
        check_torn_tail(scan.valid_len_bytes, torn_bytes, reason)?;
        tracing::warn!(
            file = LOG_FILE,
            offset_bytes = scan.valid_len_bytes,
            torn_bytes,
            %reason,
            "torn write at the end of the log: truncating to the last whole record"
        );
        disk.truncate(LOG_FILE, scan.valid_len_bytes)
            .map_err(StorageError::io(LOG_FILE))?;
    }
    let mut log = LogState {
        is_empty: scan.records.is_empty(),
        ..LogState::default()
    };
    for (offset_bytes, record) in scan.records {
        log.apply(record).map_err(|reason| StorageError::Corrupt {
            file: LOG_FILE.to_string(),
            offset_bytes,
            reason,
            valid_record_follows_at: None,
        })?;
    }
    Ok((log, torn_bytes))
}

/// A bad tail is a torn write only if one write could have left it: the last write of a log
/// that already held whole records (every log starts with an atomically written one), and no
/// longer than one write can be. Anything else (a zero-filled file, say) is damage that
/// truncating would turn into silent loss of acknowledged writes, a term and a vote.
fn check_torn_tail(
    valid_len_bytes: u64,
    torn_bytes: u64,
    reason: &Corruption,
) -> Result<(), StorageError> {
    assert!(torn_bytes > 0, "a bad tail has bytes");
    let why = if valid_len_bytes == 0 {
        "no whole record is left before it, and every log starts with one"
    } else if torn_bytes > LOG_WRITE_BYTES_MAX {
        "it is longer than one write to the log can be"
    } else {
        return Ok(());
    };
    Err(StorageError::DamagedTail {
        file: LOG_FILE.to_string(),
        offset_bytes: valid_len_bytes,
        damaged_bytes: torn_bytes,
        reason: reason.clone(),
        why,
    })
}

/// The log as its records replay.
#[derive(Default)]
struct LogState {
    /// The file held no record at all: a new log.
    is_empty: bool,
    base_index: u64,
    base_term: u64,
    hard_state: HardState,
    /// Entries from `base_index + 1`, contiguous.
    entries: Vec<Entry>,
}

impl LogState {
    fn apply(&mut self, record: Record<'static>) -> Result<(), Corruption> {
        match record {
            Record::HardState(hard_state) => self.hard_state = hard_state.into_owned(),
            Record::Entries(entries) => self.append(entries.into_owned())?,
            Record::HardStateAndEntries(hard_state, entries) => {
                self.append(entries.into_owned())?;
                self.hard_state = hard_state.into_owned();
            }
            Record::Base { index, term } => {
                (self.base_index, self.base_term) = (index, term);
                self.entries.clear();
            }
        }
        Ok(())
    }

    fn last_index(&self) -> u64 {
        self.base_index + self.entries.len() as u64
    }

    /// Replaces the entries from the batch's first index on: Raft's truncation.
    fn append(&mut self, batch: Vec<Entry>) -> Result<(), Corruption> {
        let Some(first) = batch.first().map(|entry| entry.index) else {
            return Ok(());
        };
        if first <= self.base_index || first > self.last_index() + 1 {
            let expected_at_most = self.last_index() + 1;
            return Err(Corruption::IndexGap {
                expected_at_most,
                found: first,
                base_index: self.base_index,
            });
        }
        if let Some(pair) = batch
            .windows(2)
            .find(|pair| pair[1].index != pair[0].index + 1)
        {
            return Err(Corruption::NotContiguous {
                after: pair[0].index,
                found: pair[1].index,
            });
        }
        self.entries
            .truncate((first - self.base_index - 1) as usize);
        self.entries.extend(batch);
        Ok(())
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base_index {
            return Some(self.base_term);
        }
        let position = index.checked_sub(self.base_index + 1)?;
        self.entries.get(position as usize).map(|entry| entry.term)
    }

    /// The entries after a snapshot ending at (`index`, `term`). If the log disagrees with the
    /// snapshot there (or does not reach it), what follows belongs to another history and is
    /// dropped, as Raft's InstallSnapshot rule says.
    fn entries_after(self, index: u64, term: u64) -> Vec<Entry> {
        if self.term_at(index) != Some(term) {
            if self.last_index() > index {
                let dropped = self.last_index() - index;
                tracing::warn!(
                    index,
                    term,
                    dropped,
                    "log conflicts with the snapshot: dropping its tail"
                );
            }
            return Vec::new();
        }
        let skip = (index - self.base_index) as usize;
        self.entries.into_iter().skip(skip).collect()
    }
}
