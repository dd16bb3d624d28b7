//! On-disk framing: `[length u32 LE][crc32 u32 LE of the payload][payload]`, where the payload is
//! a bincode value. The log is a sequence of such frames; the snapshot file is exactly one.

use super::error::{Corruption, StorageError};
use bincode::Options;
use concord_core::raft::snapshot::SNAPSHOT_SIZE_BYTES_MAX;
use concord_core::raft::{Entry, HardState};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io;

/// Length and checksum, before each payload.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Largest log record payload written or read. A length above it is never trusted: it is a
/// torn or corrupt header, and believing it could make us allocate gigabytes.
pub const RECORD_SIZE_BYTES_MAX: u32 = 64 << 20;

/// Room in a snapshot frame beyond the state's bytes: index, term and the Raft configuration.
const SNAPSHOT_META_BYTES_MAX: usize = 1 << 20;

/// Largest snapshot frame payload written or read: the core's bound on a snapshot's state
/// (`SNAPSHOT_SIZE_BYTES_MAX`, defined once there) plus its metadata, so every snapshot the
/// core accepts can be stored.
pub const SNAPSHOT_FRAME_BYTES_MAX: u32 =
    (SNAPSHOT_SIZE_BYTES_MAX + SNAPSHOT_META_BYTES_MAX) as u32;
const _: () = assert!(SNAPSHOT_SIZE_BYTES_MAX + SNAPSHOT_META_BYTES_MAX <= u32::MAX as usize);

/// One record of the log. `Cow` lets `persist` encode the caller's slices without copying them,
/// while decoding yields owned values. Variants are append-only: their order is the format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record<'a> {
    HardState(Cow<'a, HardState>),
    /// Entries with contiguous indexes; they replace every entry at index >= the first one.
    Entries(Cow<'a, [Entry]>),
    /// One persist call carrying both, as one record so a torn write keeps both or neither:
    /// never a commit index ahead of the entries on disk.
    HardStateAndEntries(Cow<'a, HardState>, Cow<'a, [Entry]>),
    /// First record of a compacted log: the entries continue the snapshot ending here.
    Base {
        index: u64,
        term: u64,
    },
}

/// One bincode configuration for writing and reading: compact varints, a size limit so a
/// corrupt length prefix inside a payload cannot trigger a huge allocation, and no trailing
/// bytes so a payload must be exactly one value.
fn codec(size_max: u32) -> impl Options {
    bincode::DefaultOptions::new().with_limit(u64::from(size_max))
}

/// Encodes `value` as one frame, or refuses with `InvalidInput` if it exceeds `size_max`.
pub fn encode_frame<T: Serialize + ?Sized>(value: &T, size_max: u32) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; RECORD_HEADER_BYTES];
    codec(size_max)
        .serialize_into(&mut frame, value)
        .map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("record not encodable: {error}"),
            )
        })?;
    let payload_len = u32::try_from(frame.len() - RECORD_HEADER_BYTES).expect("limited above");
    let crc = crc32fast::hash(&frame[RECORD_HEADER_BYTES..]);
    frame[0..4].copy_from_slice(&payload_len.to_le_bytes());
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Decodes the frame starting at `offset`: the value and the frame's whole length.
pub fn decode_frame<T: DeserializeOwned>(
    bytes: &[u8],
    offset: usize,
    size_max: u32,
) -> Result<(T, usize), Corruption> {
    let payload = frame_payload(bytes, offset, size_max)?;
    let value = codec(size_max)
        .deserialize(payload)
        .map_err(|error| Corruption::Undecodable {
            detail: error.to_string(),
        })?;
    Ok((value, RECORD_HEADER_BYTES + payload.len()))
}

/// The checked payload of the frame at `offset`: bounds and checksum, not decoding.
fn frame_payload(bytes: &[u8], offset: usize, size_max: u32) -> Result<&[u8], Corruption> {
    let rest = &bytes[offset..];
    if rest.len() < RECORD_HEADER_BYTES {
        return Err(Corruption::HeaderPastEnd {
            available: rest.len() as u64,
        });
    }
    let length = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes"));
    let stored = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    // Every payload encodes at least an enum tag, so an empty one (as in a zero-filled
    // tail, whose checksum of nothing is 0 too) is never valid.
    if length == 0 || length > size_max {
        return Err(Corruption::LengthOutOfBounds {
            length,
            max: size_max,
        });
    }
    let available = (rest.len() - RECORD_HEADER_BYTES) as u64;
    if u64::from(length) > available {
        return Err(Corruption::PayloadPastEnd { length, available });
    }
    let payload = &rest[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + length as usize];
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(Corruption::ChecksumMismatch { stored, computed });
    }
    Ok(payload)
}

/// The log's frames, each with its byte offset, up to the first bad one.
pub struct LogScan {
    pub records: Vec<(u64, Record<'static>)>,
    /// Bytes of whole, valid records from the start of the file.
    pub valid_len_bytes: u64,
    /// Why the record at `valid_len_bytes` was rejected, if the file does not end there.
    pub bad_tail: Option<Corruption>,
}

/// Reads every record of the log file `file`. On the first bad record it decides between a
/// torn write (nothing valid after it: the scan ends there) and corruption (a valid record
/// follows: the error names where). A record whose checksum holds but that does not decode
/// was written whole, so it is never torn.
pub fn scan_log(file: &str, bytes: &[u8]) -> Result<LogScan, StorageError> {
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let reason = match decode_frame::<Record<'static>>(bytes, offset, RECORD_SIZE_BYTES_MAX) {
            Ok((record, frame_len)) => {
                records.push((offset as u64, record));
                offset += frame_len;
                continue;
            }
            Err(reason) => reason,
        };
        let next_valid = match reason {
            Corruption::Undecodable { .. } => None,
            _ => match next_valid_frame(bytes, offset + 1) {
                None => {
                    let valid_len_bytes = offset as u64;
                    return Ok(LogScan {
                        records,
                        valid_len_bytes,
                        bad_tail: Some(reason),
                    });
                }
                next => next,
            },
        };
        return Err(StorageError::Corrupt {
            file: file.to_string(),
            offset_bytes: offset as u64,
            reason,
            valid_record_follows_at: next_valid.map(|next| next as u64),
        });
    }
    Ok(LogScan {
        records,
        valid_len_bytes: offset as u64,
        bad_tail: None,
    })
}

/// The first offset from `start` where a whole valid record begins. Only run past a bad
/// record, to tell a torn tail (none) from damage in the middle (some). A false "valid" needs a
/// 32-bit checksum match and a decodable payload by chance. The one blind spot: a torn
/// record whose own payload embeds a valid frame (say, a KV value holding a copy of a log)
/// reads as mid-log damage, so recovery refuses rather than truncates: the safe way to fail.
fn next_valid_frame(bytes: &[u8], start: usize) -> Option<usize> {
    (start..bytes.len()).find(|&offset| {
        frame_payload(bytes, offset, RECORD_SIZE_BYTES_MAX).is_ok()
            && decode_frame::<Record<'static>>(bytes, offset, RECORD_SIZE_BYTES_MAX).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::raft::EntryPayload;

    fn entries(indexes: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
        let entry = |index| Entry {
            term: 1,
            index,
            payload: EntryPayload::Command(vec![9; 3]),
        };
        indexes.map(entry).collect()
    }

    #[test]
    fn frame_round_trip_and_borrowed_equals_owned() {
        let batch = entries(1..=3);
        let frame = encode_frame(&Record::Entries(Cow::Borrowed(&batch)), 1 << 20).unwrap();
        let (decoded, len) = decode_frame::<Record>(&frame, 0, 1 << 20).unwrap();
        assert_eq!(decoded, Record::Entries(Cow::Owned(batch)));
        assert_eq!(len, frame.len());
    }

    #[test]
    fn oversized_record_is_refused_on_write() {
        let big = vec![Entry {
            term: 1,
            index: 1,
            payload: EntryPayload::Command(vec![0; 100]),
        }];
        let error = encode_frame(&Record::Entries(Cow::Borrowed(&big)), 64).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn zero_filled_tail_is_torn_not_corrupt() {
        let mut log = encode_frame(&Record::Base { index: 0, term: 0 }, 1024).unwrap();
        let whole = log.len() as u64;
        log.extend_from_slice(&[0; 4096]);
        let scan = scan_log("log", &log).unwrap();
        assert_eq!(scan.valid_len_bytes, whole);
        assert!(matches!(
            scan.bad_tail,
            Some(Corruption::LengthOutOfBounds { length: 0, .. })
        ));
    }

    #[test]
    fn flipped_byte_with_records_after_is_corruption() {
        let one = encode_frame(&Record::Base { index: 0, term: 0 }, 1024).unwrap();
        let mut log = [one.clone(), one.clone(), one.clone()].concat();
        log[one.len() + RECORD_HEADER_BYTES] ^= 0xFF;
        let error = scan_log("log", &log).err().unwrap();
        let StorageError::Corrupt {
            offset_bytes,
            reason,
            valid_record_follows_at,
            ..
        } = error
        else {
            panic!("not a corruption: {error}");
        };
        let expected = (one.len() as u64, Some(2 * one.len() as u64));
        assert_eq!((offset_bytes, valid_record_follows_at), expected);
        assert!(matches!(reason, Corruption::ChecksumMismatch { .. }));
    }
}
