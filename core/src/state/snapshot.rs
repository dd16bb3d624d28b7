//! The snapshot format: every table in one versioned blob.
//!
//! Format 5 (today): `SNAPSHOT_MAGIC`, the version as a little-endian u32, then the bincode
//! of `StateMachine` (KV, the table indexes, the catalog, the autopilot config, the sessions,
//! a restore's staged bytes). Format 4 has the same header and the state machine before
//! sessions (`StateMachineV4`, frozen here); it is still read, with no sessions. Format 3 is
//! the state machine before autopilot (`StateMachineV3`, frozen here); it is still read, with
//! no autopilot config stored. Format 2 has the same header and the bincode of the state
//! machine before the catalog (`StateMachineV2`, frozen here); it is still read, with an
//! empty catalog. Format 1 (before tables existed) is the bare bincode of the KV store; it
//! is still read. The magic cannot begin a format-1 snapshot: those begin with the count of
//! live keys as a little-endian u64, and the magic read that way is above 2^63.

use super::{StagedRestore, StateMachine, TableId};
use crate::agent::autopilot::AutopilotConfig;
use crate::catalog::CatalogStore;
use crate::kv::KvStore;
use crate::session::SessionStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Begins every snapshot of format 2 or later.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"\xffCONCORD";
/// The format this build writes; it reads this one and every older one.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 5;
const HEADER_BYTES: usize = SNAPSHOT_MAGIC.len() + 4;

impl StateMachine {
    pub fn to_snapshot_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_BYTES);
        bytes.extend_from_slice(&SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        // Only strings, bytes and integers in ordered maps: bincode has nothing to refuse.
        bincode::serialize_into(&mut bytes, self).expect("the state machine always encodes");
        bytes
    }

    /// The state as `to_snapshot_bytes` encodes it, but with no restore under way: what a
    /// snapshot save answers. Staged bytes belong to a restore in flight on this cluster's
    /// log; restored elsewhere they would sit there forever, and they may be most of the
    /// size. Encoded from borrows (no copy of the state).
    pub fn to_archive_bytes(&self) -> Vec<u8> {
        let view = StateMachineView {
            kv: &self.kv,
            table_indexes: &self.table_indexes,
            catalog: &self.catalog,
            autopilot: &self.autopilot,
            sessions: &self.sessions,
            staged_restore: None,
        };
        let mut bytes = Vec::with_capacity(HEADER_BYTES);
        bytes.extend_from_slice(&SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        bincode::serialize_into(&mut bytes, &view).expect("the state machine always encodes");
        bytes
    }

    /// Decodes a snapshot of any format this build knows, and refuses one whose contents
    /// contradict themselves (the state machine's assertions would fire later, far from the
    /// cause). The error says which format was seen and why it cannot be used.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<StateMachine, String> {
        let Some(body) = bytes.strip_prefix(&SNAPSHOT_MAGIC[..]) else {
            return from_format_1(bytes);
        };
        let version = body
            .get(..4)
            .map(|v| u32::from_le_bytes(v.try_into().expect("four bytes")))
            .ok_or("snapshot is cut short inside its header")?;
        let decode_error =
            |e: bincode::Error| format!("snapshot of format {version} cannot be decoded: {e}");
        let state: StateMachine = match version {
            2 => bincode::deserialize::<StateMachineV2>(&body[4..])
                .map_err(decode_error)?
                .into(),
            3 => bincode::deserialize::<StateMachineV3>(&body[4..])
                .map_err(decode_error)?
                .into(),
            4 => bincode::deserialize::<StateMachineV4>(&body[4..])
                .map_err(decode_error)?
                .into(),
            SNAPSHOT_FORMAT_VERSION => bincode::deserialize(&body[4..]).map_err(decode_error)?,
            _ => {
                return Err(format!(
                    "snapshot format {version} is not one this build reads (formats 1 to \
                     {SNAPSHOT_FORMAT_VERSION}); it was written by a newer Concord, or is damaged"
                ))
            }
        };
        state
            .check_invariants()
            .map_err(|e| format!("snapshot of format {version} is inconsistent: {e}"))?;
        Ok(state)
    }
}

/// `StateMachine`'s fields by reference, in its order: bincode encodes it exactly as the
/// state machine (a test holds them equal).
#[derive(Serialize)]
struct StateMachineView<'a> {
    kv: &'a KvStore,
    table_indexes: &'a BTreeMap<TableId, u64>,
    catalog: &'a CatalogStore,
    autopilot: &'a Option<AutopilotConfig>,
    sessions: &'a SessionStore,
    staged_restore: Option<&'a StagedRestore>,
}

/// Format 1: the KV store alone, as `StateSnapshot { kv }` encoded it before tables existed.
fn from_format_1(bytes: &[u8]) -> Result<StateMachine, String> {
    let kv = KvStore::from_snapshot_bytes(bytes).map_err(|e| {
        format!("snapshot has no format header and is not a format-1 (KV only) snapshot: {e}")
    })?;
    Ok(StateMachine {
        kv,
        ..StateMachine::default()
    })
}

/// The state machine as format 2 encoded it (before the catalog). Frozen: never change it,
/// or format-2 snapshots stop decoding.
#[derive(Deserialize)]
struct StateMachineV2 {
    kv: KvStore,
    table_indexes: BTreeMap<TableId, u64>,
}

impl From<StateMachineV2> for StateMachine {
    fn from(old: StateMachineV2) -> StateMachine {
        StateMachine {
            kv: old.kv,
            table_indexes: old.table_indexes,
            ..StateMachine::default()
        }
    }
}

/// The state machine as format 3 encoded it (before autopilot). Frozen: never change it, or
/// format-3 snapshots stop decoding.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct StateMachineV3 {
    kv: KvStore,
    table_indexes: BTreeMap<TableId, u64>,
    catalog: CatalogStore,
}

impl From<StateMachineV3> for StateMachine {
    fn from(old: StateMachineV3) -> StateMachine {
        StateMachine {
            kv: old.kv,
            table_indexes: old.table_indexes,
            catalog: old.catalog,
            ..StateMachine::default()
        }
    }
}

/// The state machine as format 4 encoded it (before sessions and restores). Frozen: never
/// change it, or format-4 snapshots stop decoding.
#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
struct StateMachineV4 {
    kv: KvStore,
    table_indexes: BTreeMap<TableId, u64>,
    catalog: CatalogStore,
    autopilot: Option<AutopilotConfig>,
}

impl From<StateMachineV4> for StateMachine {
    fn from(old: StateMachineV4) -> StateMachine {
        StateMachine {
            kv: old.kv,
            table_indexes: old.table_indexes,
            catalog: old.catalog,
            autopilot: old.autopilot,
            ..StateMachine::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::command::Command;
    use crate::catalog::test_support::{catalog, register};
    use crate::catalog::CatalogCommand;
    use crate::kv::KvCommand;
    use crate::state::{TableId, WatchKey};

    /// Written by `StateSnapshot::encode` of commit 7969c39 (format 1): keys app/config (3),
    /// app/db/url (4), other (written at 5, CAS to 9), app/gone written at 7, deleted at 8.
    const FORMAT_1_FIXTURE: &[u8] = include_bytes!("../../testdata/snapshots/v1-kv-only.bin");

    #[test]
    fn reads_a_snapshot_written_by_format_1() {
        let state = StateMachine::from_snapshot_bytes(FORMAT_1_FIXTURE).expect("format 1 reads");
        let kv = state.kv();
        assert_eq!(kv.len(), 3);
        assert_eq!(kv.get("other").map(|e| e.value.as_slice()), Some(&b"2"[..]));
        assert_eq!(kv.get("app/db/url").map(|e| e.flags), Some(7));
        assert_eq!(state.watch_index(&WatchKey::KvPrefix("app/".into())), 8);
        assert_eq!(state.table_index(TableId::Kv), 9);
        assert_eq!(kv.last_applied_index(), 9);
    }

    /// Written by `to_snapshot_bytes` of commit 3a658a8 (format 2): app/config (3), app/db/url
    /// (4, flags 7, "postgres://db"), other (5), app/gone written at 6 and deleted at 7, and
    /// the sessions table's index set to 6.
    const FORMAT_2_FIXTURE: &[u8] = include_bytes!("../../testdata/snapshots/v2-kv-tables.bin");

    #[test]
    fn reads_a_snapshot_written_by_format_2() {
        let state = StateMachine::from_snapshot_bytes(FORMAT_2_FIXTURE).expect("format 2 reads");
        let kv = state.kv();
        assert_eq!(kv.len(), 3);
        let url = kv.get("app/db/url").expect("kept");
        assert_eq!(
            (url.value.as_slice(), url.flags),
            (&b"postgres://db"[..], 7)
        );
        assert_eq!(state.watch_index(&WatchKey::KvPrefix("app/".into())), 7);
        assert_eq!(state.table_index(TableId::Kv), 7);
        assert_eq!(state.table_index(TableId::Sessions), 6);
    }

    #[test]
    fn format_1_read_then_written_again_is_the_current_format_and_equal() {
        let state = StateMachine::from_snapshot_bytes(FORMAT_1_FIXTURE).expect("format 1 reads");
        let bytes = state.to_snapshot_bytes();
        assert!(bytes.starts_with(&SNAPSHOT_MAGIC));
        assert_eq!(
            &bytes[SNAPSHOT_MAGIC.len()..HEADER_BYTES],
            &SNAPSHOT_FORMAT_VERSION.to_le_bytes()
        );
        assert_eq!(StateMachine::from_snapshot_bytes(&bytes), Ok(state));
    }

    #[test]
    fn format_2_read_has_an_empty_catalog_and_writes_back_as_the_current_format() {
        let state = StateMachine::from_snapshot_bytes(FORMAT_2_FIXTURE).expect("format 2 reads");
        assert!(state.catalog().nodes().is_empty());
        assert_eq!(state.watch_index(&WatchKey::Service("web".into())), 0);
        let bytes = state.to_snapshot_bytes();
        assert_ne!(bytes, FORMAT_2_FIXTURE, "the catalog is written too");
        assert_eq!(StateMachine::from_snapshot_bytes(&bytes), Ok(state));
    }

    #[test]
    fn round_trip_keeps_the_catalog_and_its_watch_indexes() {
        let mut state = StateMachine::new();
        state.apply(
            3,
            &catalog(register("n1", Some(("web1", "web", &["v1"])), &["web1"])),
        );
        state.apply(4, &catalog(register("n2", Some(("db1", "db", &[])), &[])));
        let gone = CatalogCommand::Deregister {
            node: "n2".into(),
            service_id: None,
            check_id: None,
        };
        state.apply(5, &catalog(gone));
        let back = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
        assert_eq!(back, state);
        assert_eq!(back.catalog().health_service("web", &[], false).len(), 1);
        assert_eq!(back.watch_index(&WatchKey::Service("web".into())), 3);
        assert_eq!(
            back.watch_index(&WatchKey::Service("db".into())),
            5,
            "extinct at 5"
        );
        assert_eq!(back.watch_index(&WatchKey::Node("n2".into())), 5);
    }

    #[test]
    fn a_catalog_that_contradicts_itself_is_refused() {
        let mut state = StateMachine::new();
        state.apply(3, &catalog(register("n1", Some(("web1", "web", &[])), &[])));
        // A services table index behind its own instance's modify index.
        state.table_indexes.insert(TableId::Services, 2);
        let error = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).unwrap_err();
        assert!(
            error.contains("inconsistent") && error.contains("n1/web1"),
            "{error}"
        );
    }

    #[test]
    fn round_trip_keeps_every_table() {
        let mut state = StateMachine::new();
        let set = KvCommand::Set {
            key: "k".into(),
            value: b"v".to_vec(),
            flags: 1,
        };
        state.apply(2, &Command::Kv(set));
        state.table_indexes.insert(TableId::AclTokens, 2);
        let back = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
        assert_eq!(back, state);
        assert_eq!(back.table_index(TableId::AclTokens), 2);
    }

    #[test]
    fn a_newer_format_is_refused_with_its_version() {
        let mut bytes = StateMachine::new().to_snapshot_bytes();
        bytes[SNAPSHOT_MAGIC.len()..HEADER_BYTES].copy_from_slice(&6u32.to_le_bytes());
        let error = StateMachine::from_snapshot_bytes(&bytes).unwrap_err();
        assert!(error.contains("snapshot format 6"), "{error}");
        assert!(error.contains("formats 1 to 5"), "{error}");
    }

    #[test]
    fn damage_is_an_error_that_names_the_format() {
        let error = StateMachine::from_snapshot_bytes(&SNAPSHOT_MAGIC[..6]).unwrap_err();
        assert!(error.contains("not a format-1"), "{error}");
        let error = StateMachine::from_snapshot_bytes(&SNAPSHOT_MAGIC).unwrap_err();
        assert!(error.contains("cut short"), "{error}");
        let mut bytes = StateMachine::new().to_snapshot_bytes();
        bytes.truncate(HEADER_BYTES + 3);
        let error = StateMachine::from_snapshot_bytes(&bytes).unwrap_err();
        assert!(error.contains("format 5 cannot be decoded"), "{error}");
        let mut bytes = FORMAT_2_FIXTURE.to_vec();
        bytes.truncate(HEADER_BYTES + 3);
        let error = StateMachine::from_snapshot_bytes(&bytes).unwrap_err();
        assert!(error.contains("format 2 cannot be decoded"), "{error}");
    }

    #[test]
    fn an_inconsistent_state_is_refused() {
        let mut state = StateMachine::new();
        state.table_indexes.insert(TableId::Kv, 5);
        let error = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).unwrap_err();
        assert!(error.contains("inconsistent"), "{error}");
    }

    /// A format-3 snapshot (the state machine before autopilot) reads with its catalog and
    /// no autopilot config, and writes back as format 4 with the config once one is set.
    #[test]
    fn format_3_reads_without_an_autopilot_config() {
        let mut old = StateMachine::new();
        old.apply(3, &catalog(register("n1", Some(("web1", "web", &[])), &[])));
        let v3 = StateMachineV3 {
            kv: old.kv.clone(),
            table_indexes: old.table_indexes.clone(),
            catalog: old.catalog.clone(),
        };
        let mut bytes = SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&bincode::serialize(&v3).unwrap());
        let mut state = StateMachine::from_snapshot_bytes(&bytes).expect("format 3 reads");
        assert_eq!(state, old);
        assert_eq!(state.autopilot(), None);
        let set = crate::agent::autopilot::AutopilotCommand::Set {
            options: Default::default(),
            cas: Some(0),
        };
        assert!(state.apply(4, &Command::Autopilot(set)));
        let back = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
        assert_eq!(back.autopilot().map(|c| c.modify_index), Some(4));
        assert_eq!(back.table_index(TableId::Autopilot), 4);
        assert_eq!(back, state);
    }

    /// A format-4 snapshot (before sessions) reads with its autopilot config and no
    /// sessions, and writes back as format 5.
    #[test]
    fn format_4_reads_without_sessions() {
        let mut old = StateMachine::new();
        old.apply(3, &catalog(register("n1", Some(("web1", "web", &[])), &[])));
        let set = crate::agent::autopilot::AutopilotCommand::Set {
            options: Default::default(),
            cas: Some(0),
        };
        assert!(old.apply(4, &Command::Autopilot(set)));
        let v4 = StateMachineV4 {
            kv: old.kv.clone(),
            table_indexes: old.table_indexes.clone(),
            catalog: old.catalog.clone(),
            autopilot: old.autopilot,
        };
        let mut bytes = SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&bincode::serialize(&v4).unwrap());
        let state = StateMachine::from_snapshot_bytes(&bytes).expect("format 4 reads");
        assert_eq!(state, old);
        assert!(state.sessions().is_empty());
        assert_eq!(state.autopilot().map(|c| c.modify_index), Some(4));
        let again = state.to_snapshot_bytes();
        assert_eq!(
            &again[SNAPSHOT_MAGIC.len()..HEADER_BYTES],
            &5u32.to_le_bytes()
        );
        assert_eq!(StateMachine::from_snapshot_bytes(&again), Ok(state));
    }

    #[test]
    fn format_5_round_trip_keeps_sessions_and_locks() {
        use crate::state::test_support::{lock, with_sessions};
        let mut state = with_sessions();
        assert!(state.apply(11, &lock("k", "v", "s1")));
        let back = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
        assert_eq!(back, state);
        assert_eq!(back.sessions().len(), 2);
        assert_eq!(back.sessions().get("s1").map(|s| s.create_index), Some(3));
        assert_eq!(
            back.kv().get("k").and_then(|e| e.session.clone()),
            Some("s1".into())
        );
        assert_eq!(back.table_index(TableId::Sessions), 4);
    }

    #[test]
    fn an_archive_is_the_snapshot_without_the_staged_restore() {
        use crate::state::test_support::{lock, with_sessions};
        use crate::state::RestoreCommand;
        let mut state = with_sessions();
        assert!(state.apply(11, &lock("k", "v", "s1")));
        assert_eq!(state.to_archive_bytes(), state.to_snapshot_bytes());
        let begin = RestoreCommand::Begin {
            id: 1,
            total_bytes: 4,
            sha256: [0; 32],
        };
        assert!(state.apply(12, &Command::Restore(begin)));
        let chunk = RestoreCommand::Chunk {
            id: 1,
            offset: 0,
            bytes: b"abc".to_vec(),
        };
        assert!(state.apply(13, &Command::Restore(chunk)));
        let archive = StateMachine::from_snapshot_bytes(&state.to_archive_bytes()).expect("reads");
        assert_eq!(archive.staged_restore(), None);
        let mut unstaged = state.clone();
        unstaged.staged_restore = None;
        assert_eq!(archive, unstaged);
        let full = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).expect("reads");
        assert_eq!(full.staged_restore().map(|s| s.bytes.len()), Some(3));
    }

    #[test]
    fn a_session_whose_node_or_check_is_gone_is_refused() {
        use crate::state::test_support::with_sessions;
        for check_id in [Some("serfHealth".to_string()), None] {
            let mut state = with_sessions();
            // Deregistered without the sweep that ends the sessions of the node.
            let gone = CatalogCommand::Deregister {
                node: "n1".into(),
                service_id: None,
                check_id: check_id.clone(),
            };
            let applied = state.catalog.apply(20, &gone);
            for table in applied.tables {
                state.table_indexes.insert(table, 20);
            }
            let error = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).unwrap_err();
            let expected = match check_id {
                Some(_) => r#"names check "serfHealth" on node "n1""#,
                None => r#"is on node "n1", which is not registered"#,
            };
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_lock_naming_no_session_is_refused() {
        use crate::state::test_support::{lock, with_sessions};
        let mut state = with_sessions();
        assert!(state.apply(11, &lock("k", "v", "s1")));
        // Dropping the session without its invalidation leaves a dangling lock.
        state.sessions.remove("s1");
        let error = StateMachine::from_snapshot_bytes(&state.to_snapshot_bytes()).unwrap_err();
        assert!(error.contains(r#"locked by session "s1""#), "{error}");
        let mut state = with_sessions();
        state.table_indexes.insert(TableId::Sessions, 3);
        let error = state.check_invariants().unwrap_err();
        assert!(error.contains(r#"session "s2""#), "{error}");
    }
}
