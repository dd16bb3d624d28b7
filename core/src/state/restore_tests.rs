//! Restores through the log: staged chunks, the hash check, and indexes after a commit.

use super::test_support::*;
use super::{RestoreCommand, StateMachine, TableId, WatchKey, RESTORE_CHUNK_BYTES_MAX};
use crate::agent::command::Command;
use crate::catalog::test_support::{catalog, register};
use crate::kv::KvCommand;
use sha2::{Digest, Sha256};

fn begin(id: u64, bytes: &[u8]) -> Command {
    Command::Restore(RestoreCommand::Begin {
        id,
        total_bytes: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
    })
}

fn chunk(id: u64, offset: u64, bytes: &[u8]) -> Command {
    Command::Restore(RestoreCommand::Chunk {
        id,
        offset,
        bytes: bytes.to_vec(),
    })
}

fn commit(id: u64) -> Command {
    Command::Restore(RestoreCommand::Commit { id })
}

/// The state to restore: written up to index 40 (past the restore's index), with keys, a
/// tombstone, a service, sessions and a lock.
fn source() -> StateMachine {
    let mut state = with_sessions();
    assert!(state.apply(30, &set("a/x", "1")));
    assert!(state.apply(31, &set("a/gone", "1")));
    assert!(state.apply(
        32,
        &Command::Kv(KvCommand::Delete {
            key: "a/gone".into()
        })
    ));
    assert!(state.apply(40, &lock("a/lock", "held", "s1")));
    state
}

/// The state restored into, at index 12, and the watch keys looked at.
fn target() -> (StateMachine, Vec<WatchKey>) {
    let mut state = StateMachine::new();
    assert!(state.apply(10, &set("old", "v")));
    assert!(state.apply(11, &catalog(register("n9", Some(("db1", "db", &[])), &[]))));
    assert!(state.apply(12, &set("a/x", "old")));
    let mut keys: Vec<WatchKey> = TableId::ALL.into_iter().map(WatchKey::Table).collect();
    for prefix in ["", "a/", "a/gone", "old", "never"] {
        keys.push(WatchKey::KvPrefix(prefix.into()));
    }
    for name in ["web", "db", "absent"] {
        keys.push(WatchKey::Service(name.into()));
    }
    for name in ["n1", "n9", "absent"] {
        keys.push(WatchKey::Node(name.into()));
    }
    (state, keys)
}

fn restore_in_chunks(state: &mut StateMachine, first_index: u64, bytes: &[u8]) -> u64 {
    assert!(state.apply(first_index, &begin(7, bytes)));
    let mut index = first_index;
    for (n, piece) in bytes.chunks(bytes.len() / 3 + 1).enumerate() {
        index += 1;
        let offset = (n * (bytes.len() / 3 + 1)) as u64;
        assert!(state.apply(index, &chunk(7, offset, piece)), "chunk {n}");
    }
    index + 1
}

#[test]
fn a_commit_replaces_the_state_and_raises_every_watch_index_to_its_index() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, keys) = target();
    let before: Vec<u64> = keys.iter().map(|k| state.watch_index(k)).collect();
    let commit_index = restore_in_chunks(&mut state, 13, &bytes);
    assert!(state.apply(commit_index, &commit(7)));
    assert_eq!(commit_index, 17, "Begin at 13, 3 chunks, Commit");
    for (key, before) in keys.iter().zip(before) {
        let after = state.watch_index(key);
        assert!(
            after >= before && after >= commit_index,
            "{key:?}: {before} -> {after}"
        );
    }
    assert!(state.kv().get("old").is_none(), "replaced, not merged");
    let lock = entry(&state, "a/lock");
    assert_eq!((lock.session.as_deref(), lock.lock_index), (Some("s1"), 1));
    assert_eq!(lock.modify_index, 17, "40 clamped to the restore's index");
    assert_eq!(entry(&state, "a/x").modify_index, 17);
    assert_eq!(state.sessions().len(), 2);
    assert_eq!(state.staged_restore(), None);
    assert_eq!(state.check_invariants(), Ok(()));
    // Writes after the restore move indexes as usual.
    assert!(state.apply(18, &set("a/x", "new")));
    assert_eq!(state.watch_index(&WatchKey::KvPrefix("a/x".into())), 18);
    assert!(state.apply(19, &destroy("s1")));
    assert_eq!(entry(&state, "a/lock").session, None);
}

#[test]
fn a_damaged_or_incomplete_restore_is_refused_and_leaves_the_state() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, _) = target();
    let before = state.clone();
    // A wrong hash: every chunk lands, the commit is refused.
    let mut wrong = begin(7, &bytes);
    if let Command::Restore(RestoreCommand::Begin { sha256, .. }) = &mut wrong {
        sha256[0] ^= 1;
    }
    assert!(state.apply(13, &wrong));
    assert!(state.apply(14, &chunk(7, 0, &bytes)));
    assert!(!state.apply(15, &commit(7)));
    assert_eq!(state, before);
    // Incomplete, out of order, another restore's chunk.
    assert!(state.apply(16, &begin(8, &bytes)));
    assert!(
        !state.apply(17, &chunk(8, 1, &bytes[1..])),
        "offset past the staged length"
    );
    assert!(!state.apply(18, &chunk(9, 0, &bytes)), "another id");
    assert!(state.apply(19, &chunk(8, 0, &bytes[..10])));
    assert!(!state.apply(20, &chunk(8, 10, &bytes)), "past the total");
    assert!(!state.apply(21, &commit(9)), "another id leaves it staged");
    assert_eq!(state.staged_restore().map(|s| s.bytes.len()), Some(10));
    assert!(!state.apply(22, &commit(8)), "incomplete");
    assert_eq!(state, before);
    // Bytes that hash right but are not a state.
    let garbage = b"not a snapshot".to_vec();
    assert!(state.apply(23, &begin(10, &garbage)));
    assert!(state.apply(24, &chunk(10, 0, &garbage)));
    assert!(!state.apply(25, &commit(10)));
    assert_eq!(state, before);
}

#[test]
fn a_restore_larger_than_the_bound_is_refused_at_begin() {
    let mut state = StateMachine::new();
    let huge = Command::Restore(RestoreCommand::Begin {
        id: 1,
        total_bytes: super::RESTORE_SIZE_BYTES_MAX as u64 + 1,
        sha256: [0; 32],
    });
    assert!(!state.apply(1, &huge));
    assert_eq!(state.staged_restore(), None);
}

#[test]
fn a_staged_restore_survives_a_snapshot() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, _) = target();
    assert!(state.apply(13, &begin(7, &bytes)));
    assert!(state.apply(14, &chunk(7, 0, &bytes[..100])));
    let mut back = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
    assert_eq!(back, state);
    assert!(back.apply(15, &chunk(7, 100, &bytes[100..])));
    assert!(back.apply(16, &commit(7)));
    assert_eq!(back.sessions().len(), 2);
}

/// A leader proposed Begin and a chunk in term 2 and lost its leadership before the rest
/// committed: the first entry of term 3 (a no-op or any command) drops the staged bytes, and
/// no chunk or commit of another term lands on them.
#[test]
fn a_restore_cut_by_a_leader_change_is_dropped_by_the_next_term() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, _) = target();
    let before = state.clone();
    assert!(state.apply_traced(13, 2, &begin(7, &bytes)).ok);
    assert!(state.apply_traced(14, 2, &chunk(7, 0, &bytes[..100])).ok);
    assert_eq!(state.staged_restore().map(|s| s.term), Some(2));
    assert!(state.apply_traced(15, 3, &set("other", "v")).ok);
    assert_eq!(state.staged_restore(), None, "a later term drops it");
    assert!(!state.apply_traced(16, 3, &chunk(7, 100, &bytes[100..])).ok);
    assert!(!state.apply_traced(17, 3, &commit(7)).ok);
    assert_eq!(state.kv().get("old").map(|e| e.modify_index), Some(10));
    // A no-op of a later term (observed by the agent) drops it too.
    let mut state = before;
    assert!(state.apply_traced(13, 2, &begin(7, &bytes)).ok);
    state.observe_term(2);
    assert!(state.staged_restore().is_some(), "its own term keeps it");
    state.observe_term(3);
    assert_eq!(state.staged_restore(), None);
}

#[test]
fn a_chunk_or_commit_of_another_term_than_the_begin_is_refused() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, _) = target();
    assert!(state.apply_traced(13, 5, &begin(7, &bytes)).ok);
    assert!(
        !state.apply_traced(14, 4, &chunk(7, 0, &bytes)).ok,
        "older term"
    );
    assert_eq!(state.staged_restore().map(|s| s.bytes.len()), Some(0));
    assert!(state.apply_traced(15, 5, &chunk(7, 0, &bytes)).ok);
    assert!(!state.apply_traced(16, 4, &commit(7)).ok, "older term");
    assert!(state.staged_restore().is_some(), "a refused step leaves it");
    assert!(state.apply_traced(17, 5, &commit(7)).ok);
    assert_eq!(state.sessions().len(), 2);
}

#[test]
fn a_refused_commit_says_why() {
    let bytes = source().to_snapshot_bytes();
    let (mut state, _) = target();
    assert!(state.apply(13, &begin(7, &bytes)));
    assert!(state.apply(14, &chunk(7, 0, &bytes[..10])));
    let refused = state.apply_traced(15, 0, &commit(7));
    let why = refused.refusal.expect("a reason");
    assert!(why.contains("incomplete: 10 of"), "{why}");
    let refused = state.apply_traced(16, 0, &commit(7));
    assert!(refused.refusal.expect("a reason").contains("not under way"));
}

#[test]
fn the_largest_chunk_fits_one_command() {
    let chunk = Command::Restore(RestoreCommand::Chunk {
        id: u64::MAX,
        offset: u64::MAX,
        bytes: vec![0xff; RESTORE_CHUNK_BYTES_MAX],
    });
    let encoded_bytes = chunk.encode().len();
    assert!(encoded_bytes > RESTORE_CHUNK_BYTES_MAX, "{encoded_bytes}");
    assert!(
        encoded_bytes <= crate::kv::COMMAND_SIZE_BYTES_MAX,
        "{encoded_bytes} > {}",
        crate::kv::COMMAND_SIZE_BYTES_MAX
    );
}
