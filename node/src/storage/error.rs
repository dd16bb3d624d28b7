//! Why stored state could not be recovered.

use std::fmt;
use std::io;

/// What is wrong with one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Fewer bytes left than a record header.
    HeaderPastEnd {
        available: u64,
    },
    /// A length of zero (never written: a zero-filled tail) or above the bound.
    LengthOutOfBounds {
        length: u32,
        max: u32,
    },
    /// The payload would run past the end of the file.
    PayloadPastEnd {
        length: u32,
        available: u64,
    },
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// The checksum holds but the payload is not a record of this version.
    Undecodable {
        detail: String,
    },
    /// Entries that do not continue the log: a gap, or an overlap with the snapshot.
    IndexGap {
        expected_at_most: u64,
        found: u64,
        base_index: u64,
    },
    /// A batch whose own indexes are not consecutive.
    NotContiguous {
        after: u64,
        found: u64,
    },
    /// Data after the one value the file must hold.
    TrailingBytes {
        extra: u64,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::HeaderPastEnd { available } => {
                write!(f, "record header cut short ({available} of 8 bytes)")
            }
            Corruption::LengthOutOfBounds { length, max } => {
                write!(f, "record length {length} outside 1..={max}")
            }
            Corruption::PayloadPastEnd { length, available } => {
                write!(
                    f,
                    "record length {length} runs past the end ({available} bytes left)"
                )
            }
            Corruption::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            Corruption::Undecodable { detail } => write!(f, "undecodable record: {detail}"),
            Corruption::IndexGap {
                expected_at_most,
                found,
                base_index,
            } => write!(
                f,
                "entries start at index {found}, expected {}..={expected_at_most}",
                base_index + 1
            ),
            Corruption::NotContiguous { after, found } => {
                write!(f, "entry {found} follows entry {after} in one batch")
            }
            Corruption::TrailingBytes { extra } => write!(f, "{extra} unexpected trailing bytes"),
        }
    }
}

#[derive(Debug)]
pub enum StorageError {
    Io {
        file: String,
        source: io::Error,
    },
    /// Damage recovery must not paper over: the node refuses to start rather than lose or
    /// invent acknowledged state.
    Corrupt {
        file: String,
        offset_bytes: u64,
        reason: Corruption,
        /// Where a valid record follows the bad one: proof the damage is not a torn tail.
        valid_record_follows_at: Option<u64>,
    },
    /// The log ends in damage that no torn write could have left (see `check_torn_tail`).
    DamagedTail {
        file: String,
        offset_bytes: u64,
        damaged_bytes: u64,
        reason: Corruption,
        why: &'static str,
    },
    /// The log was compacted past a snapshot that is now missing or older: the entries the
    /// snapshot stood for are gone.
    SnapshotBehindLog {
        snapshot_index: Option<u64>,
        log_base_index: u64,
    },
}

impl StorageError {
    pub(crate) fn io(file: &str) -> impl FnOnce(io::Error) -> StorageError + '_ {
        move |source| StorageError::Io {
            file: file.to_string(),
            source,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { file, source } => write!(f, "{file}: I/O error: {source}"),
            StorageError::Corrupt {
                file,
                offset_bytes,
                reason,
                valid_record_follows_at,
            } => {
                write!(f, "{file}: corrupt at byte offset {offset_bytes}: {reason}")?;
                if let Some(next) = valid_record_follows_at {
                    write!(
                        f,
                        "; a valid record follows at byte {next}, so this is damage"
                    )?;
                    write!(f, " in the middle of the log, not a torn write")?;
                }
                write!(f, "; refusing to start")
            }
            StorageError::DamagedTail {
                file,
                offset_bytes,
                damaged_bytes,
                reason,
                why,
            } => write!(
                f,
                "{file}: damaged from byte offset {offset_bytes} to the end ({damaged_bytes} \
                 bytes): {reason}; this is not a torn write because {why}; refusing to start \
                 (see \"Limits and failure behaviour\" in the README for recovery)"
            ),
            StorageError::SnapshotBehindLog {
                snapshot_index,
                log_base_index,
            } => write!(
                f,
                "the log continues a snapshot at index {log_base_index} but the snapshot file \
                 holds {snapshot_index:?}; refusing to start"
            ),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
