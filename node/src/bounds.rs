//! Bounds that must fit inside one another. A client can push each of them to its maximum at
//! once, so each container must hold the largest thing that can be put in it: a WAL record the
//! largest batch of new entries, a frame the largest AppendEntries or snapshot chunk. Checked
//! when a node starts, with the node's own (maybe tuned or fuzzed) Raft options.

use crate::storage::RECORD_SIZE_BYTES_MAX;
use crate::transport::frame::FRAME_SIZE_BYTES_MAX;
use crate::transport::limits::INBOUND_BUFFER_BYTES_MAX;
use concord_core::kv::txn::TXN_OPS_MAX;
use concord_core::kv::{COMMAND_SIZE_BYTES_MAX, VALUE_SIZE_BYTES_MAX};
use concord_core::raft::RaftOptions;

/// `Entry::size_bytes` of the largest entry a client can cause: one KV command at its maximum.
pub const ENTRY_SIZE_BYTES_MAX: usize = COMMAND_SIZE_BYTES_MAX + 24;
/// Room for what surrounds a batch of entries in a record or message: the hard state or the
/// message header (terms, indexes, node ids and addresses).
pub const ENVELOPE_OVERHEAD_BYTES_MAX: usize = 64 * 1024;
/// How much larger a batch encodes than the sum of its entries' `size_bytes`: each entry's
/// encoding adds at most 36 bytes (term, index, tags, lengths) to a payload `size_bytes`
/// already counts 24 bytes above, so a factor of 2 is generous.
const ENCODING_EXPANSION_FACTOR: usize = 2;

/// Longest `PUT /v1/txn` body (Consul's `txn_max_req_len` default, its KV value limit).
pub const TXN_BODY_BYTES_MAX: usize = VALUE_SIZE_BYTES_MAX;
/// What one transaction operation adds in the log command beyond the key, value and session
/// bytes its JSON also carries: the verb, three lengths, flags and index (44 bytes in bincode).
const TXN_OP_ENCODED_OVERHEAD_BYTES_MAX: usize = 64;

// A transaction's key, value and session bytes all come from its body (base64 values only
// shrink when decoded), so the largest transaction fits one log command.
const _: () = assert!(
    TXN_BODY_BYTES_MAX + TXN_OPS_MAX * TXN_OP_ENCODED_OVERHEAD_BYTES_MAX + 64
        <= COMMAND_SIZE_BYTES_MAX
);
// The largest command fits one frame when forwarded, and one entry fits a record.
const _: () = assert!(COMMAND_SIZE_BYTES_MAX + ENVELOPE_OVERHEAD_BYTES_MAX <= FRAME_SIZE_BYTES_MAX);
const _: () = assert!(FRAME_SIZE_BYTES_MAX <= RECORD_SIZE_BYTES_MAX as usize);
// The core's default for what one forwarded request or answer may carry is the node's frame
// less its envelope (the node sets exactly that; core tests use the default).
const _: () = assert!(
    concord_core::agent::config::FORWARD_BYTES_MAX_DEFAULT
        == FRAME_SIZE_BYTES_MAX - ENVELOPE_OVERHEAD_BYTES_MAX
);

/// The largest batch a bound of `bytes_max` lets through, encoded: batches stop before passing
/// the bound but always take one entry, which may be the largest.
fn batch_encoded_bytes_max(bytes_max: usize) -> usize {
    bytes_max.max(ENTRY_SIZE_BYTES_MAX) * ENCODING_EXPANSION_FACTOR + ENVELOPE_OVERHEAD_BYTES_MAX
}

/// Whether `options` fit the storage's record size and the transport's frame size.
pub fn check(options: &RaftOptions) -> Result<(), String> {
    let record_bytes_max = RECORD_SIZE_BYTES_MAX as usize;
    let persist = batch_encoded_bytes_max(options.persist_bytes_max);
    if persist > record_bytes_max {
        return Err(format!(
            "persist_bytes_max {} can make a log record of {persist} bytes, over the \
             record maximum of {record_bytes_max}",
            options.persist_bytes_max
        ));
    }
    let append = batch_encoded_bytes_max(options.append_bytes_max);
    let chunk = options.snapshot_chunk_bytes_max + ENVELOPE_OVERHEAD_BYTES_MAX;
    if append.max(chunk) > FRAME_SIZE_BYTES_MAX {
        return Err(format!(
            "append_bytes_max {} or snapshot_chunk_bytes_max {} can make a message larger \
             than the frame maximum of {FRAME_SIZE_BYTES_MAX} bytes",
            options.append_bytes_max, options.snapshot_chunk_bytes_max
        ));
    }
    // A leader pipelines `inflight_messages_max` appends or snapshot chunks to a follower:
    // all of them together fit the follower's inbound buffer, so a full pipeline never waits
    // on it alone.
    let pipeline = options.inflight_messages_max * append.max(chunk);
    if pipeline > INBOUND_BUFFER_BYTES_MAX {
        return Err(format!(
            "inflight_messages_max {} messages of up to {} bytes exceed the inbound buffer \
             of {INBOUND_BUFFER_BYTES_MAX} bytes",
            options.inflight_messages_max,
            append.max(chunk)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::command::Command;
    use concord_core::kv::{KvCommand, KEY_SIZE_BYTES_MAX};
    use concord_core::raft::{Entry, EntryPayload};

    #[test]
    fn default_and_fast_options_fit() {
        assert_eq!(check(&RaftOptions::default()), Ok(()));
        assert_eq!(check(&RaftOptions::fast()), Ok(()));
    }

    #[test]
    fn options_that_do_not_fit_are_refused_naming_the_option() {
        let too_big_persist = RaftOptions {
            persist_bytes_max: RECORD_SIZE_BYTES_MAX as usize,
            ..RaftOptions::default()
        };
        assert!(check(&too_big_persist)
            .unwrap_err()
            .contains("persist_bytes_max"));
        let too_big_append = RaftOptions {
            append_bytes_max: FRAME_SIZE_BYTES_MAX,
            ..RaftOptions::default()
        };
        assert!(check(&too_big_append)
            .unwrap_err()
            .contains("append_bytes_max"));
    }

    #[test]
    fn a_pipeline_larger_than_the_inbound_buffer_is_refused() {
        let too_deep = RaftOptions {
            inflight_messages_max: 64,
            ..RaftOptions::default()
        };
        assert!(check(&too_deep)
            .unwrap_err()
            .contains("inflight_messages_max"));
    }

    /// The largest transaction a body can ask for: every op's key, value and session strings
    /// filling the body (values as raw bytes: what they decode to is smaller than the base64).
    #[test]
    fn the_largest_transaction_fits_one_command() {
        use concord_core::kv::txn::{TxnOp, TxnVerb};
        let op_json_overhead = r#"{"KV":{"Verb":"set","Key":"","Value":"","Session":""}},"#.len();
        let strings_bytes = TXN_BODY_BYTES_MAX / TXN_OPS_MAX - op_json_overhead;
        let op = TxnOp {
            verb: TxnVerb::CheckNotExists,
            key: "k".repeat(strings_bytes / 3),
            value: vec![0xff; strings_bytes / 3],
            flags: u64::MAX,
            index: u64::MAX,
            session: "s".repeat(strings_bytes / 3),
        };
        let command = Command::Txn(vec![op; TXN_OPS_MAX]);
        let encoded = command.encode();
        assert!(encoded.len() <= COMMAND_SIZE_BYTES_MAX, "{}", encoded.len());
        let per_op = (encoded.len() - TXN_OPS_MAX * (strings_bytes / 3) * 3) / TXN_OPS_MAX;
        assert!(per_op <= TXN_OP_ENCODED_OVERHEAD_BYTES_MAX, "{per_op}");
    }

    #[test]
    fn the_largest_command_is_within_its_stated_maximum() {
        let command = Command::Kv(KvCommand::Cas {
            key: "k".repeat(KEY_SIZE_BYTES_MAX),
            value: vec![0xff; VALUE_SIZE_BYTES_MAX],
            flags: u64::MAX,
            modify_index: u64::MAX,
        });
        let encoded = command.encode();
        assert!(encoded.len() <= COMMAND_SIZE_BYTES_MAX, "{}", encoded.len());
        let entry = Entry {
            term: u64::MAX,
            index: u64::MAX,
            payload: EntryPayload::Command(encoded),
        };
        assert!(entry.size_bytes() <= ENTRY_SIZE_BYTES_MAX);
        let encoded_entry = bincode::serialize(&entry).unwrap();
        assert!(encoded_entry.len() <= entry.size_bytes() * ENCODING_EXPANSION_FACTOR);
    }
}
