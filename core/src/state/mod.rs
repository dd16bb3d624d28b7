//! The replicated state machine: committed commands applied in log order to a set of tables
//! (KV with its locks, the catalog's nodes, services and checks, sessions; ACL tokens next),
//! each with its own modify index, and the indexes blocking queries watch (`WatchKey`: a
//! table, a KV prefix, a service, a node). Every command applies through one path
//! (`apply.rs`); a restore replaces the whole state through the log (`restore.rs`). One
//! versioned snapshot covers every table (`snapshot.rs`).

mod apply;
mod autopilot;
mod bug;
mod digest;
mod restore;
mod snapshot;
mod tables;

#[cfg(test)]
mod lock_tests;
#[cfg(test)]
mod restore_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod txn_model_tests;
#[cfg(test)]
mod txn_tests;
#[cfg(test)]
mod watch_model_tests;

pub use crate::kv::LockChange;
pub use bug::StateBug;
use digest::encoding_digest;
pub use restore::{RestoreCommand, StagedRestore, RESTORE_CHUNK_BYTES_MAX, RESTORE_SIZE_BYTES_MAX};
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC};
pub use tables::{TableId, WatchKey};

use crate::agent::autopilot::AutopilotConfig;
use crate::agent::command::Command;
use crate::catalog::CatalogStore;
use crate::kv::overlay::Overlay;
use crate::kv::txn::{TxnOp, TxnOutcome};
use crate::kv::KvStore;
use crate::session::{Session, SessionStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every table, at one log index.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    kv: KvStore,
    /// Modify indexes of the tables that keep them here rather than in their own store (all
    /// but KV, whose store keeps its own). Absent means never changed (index 0).
    table_indexes: BTreeMap<TableId, u64>,
    /// Nodes, services and checks; their table indexes are in `table_indexes`.
    catalog: CatalogStore,
    /// Autopilot's replicated configuration, once stored (its index: `TableId::Autopilot`).
    autopilot: Option<AutopilotConfig>,
    /// Live sessions (their index: `TableId::Sessions`).
    sessions: SessionStore,
    /// The bytes of a restore under way (`restore.rs`), until its commit.
    staged_restore: Option<StagedRestore>,
    /// A planted bug, for checker tests only; not replicated state.
    #[serde(skip)]
    planted: bug::Planted,
}

/// What one applied command did, beyond whether it took effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Consul's `true`/`false` answer to the write.
    pub ok: bool,
    /// Every change of a key's lock holder, in order.
    pub lock_changes: Vec<LockChange>,
    /// A transaction's results or errors.
    pub txn: Option<TxnOutcome>,
    /// Why a refused restore step was refused (the answer to a restore names it).
    pub refusal: Option<String>,
}

impl StateMachine {
    pub fn new() -> StateMachine {
        StateMachine::default()
    }

    /// Applies a command committed at log `index`. Returns whether it took effect (Consul's
    /// `true`/`false` answer to a write). The entry's term is taken as 0 (it matters only to
    /// a planted bug).
    pub fn apply(&mut self, index: u64, command: &Command) -> bool {
        self.apply_traced(index, 0, command).ok
    }

    /// Applies a command committed at log `index` in `term`, and says what it did beyond
    /// `true`/`false`: the lock changes it made (for lock-delay and the simulator's lock
    /// checker), a transaction's results. Every command applies through here.
    pub fn apply_traced(&mut self, index: u64, term: u64, command: &Command) -> ApplyOutcome {
        self.observe_term(term);
        self.route(index, term, command)
    }

    /// Plants `bug` (checker tests and the simulator only).
    pub fn plant_bug(&mut self, bug: StateBug) {
        self.planted.bug = Some(bug);
    }

    /// Whether `session` may be created now: Consul's error text if its node is missing, or
    /// a check it names is missing or critical. The leader asks before proposing; the create
    /// checks again when it applies.
    pub fn check_session_create(&self, session: &Session) -> Result<(), String> {
        crate::session::check_against_catalog(&self.catalog, session)
    }

    /// Evaluates a transaction without writing anything (a read-only one needs no log entry):
    /// what it would answer at the current state.
    pub fn read_txn(&self, ops: &[TxnOp]) -> TxnOutcome {
        let index = self.kv.last_applied_index();
        let mut overlay = Overlay::new(&self.kv, &self.sessions, index);
        match crate::kv::txn::evaluate(&mut overlay, ops) {
            Ok(entries) => TxnOutcome::Committed { entries },
            Err(errors) => TxnOutcome::Failed { errors },
        }
    }

    /// The restore under way, if any.
    pub fn staged_restore(&self) -> Option<&StagedRestore> {
        self.staged_restore.as_ref()
    }

    /// The sessions table.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    pub fn catalog(&self) -> &CatalogStore {
        &self.catalog
    }

    /// The stored autopilot configuration; `None` until a leader stores one.
    pub fn autopilot(&self) -> Option<&AutopilotConfig> {
        self.autopilot.as_ref()
    }

    /// The last log index that changed `table`.
    pub fn table_index(&self, table: TableId) -> u64 {
        match table {
            TableId::Kv => self.kv.index(),
            other => self.table_indexes.get(&other).copied().unwrap_or(0),
        }
    }

    /// The index a blocking read on `key` waits to move past. Never goes backwards while
    /// entries are applied; 0 when nothing it covers ever existed (answers clamp it to 1).
    pub fn watch_index(&self, key: &WatchKey) -> u64 {
        match key {
            WatchKey::Table(table) => self.table_index(*table),
            WatchKey::KvPrefix(prefix) => self.kv.prefix_index(prefix),
            WatchKey::Service(name) => self.catalog.service_index(name),
            WatchKey::Node(name) => self.catalog.node_index(name),
        }
    }

    /// A digest of every table: servers that applied the same entries agree on it (the
    /// simulator's state-agreement checker compares it at each index). For a state with only
    /// KV data it is `KvStore::digest`; otherwise that folded with FNV-1a over the other
    /// tables' encoding (every catalog write that changes something moves a table index).
    pub fn digest(&self) -> u64 {
        // Destructured so that a new table cannot be left out of the digest unnoticed.
        let StateMachine {
            kv,
            table_indexes,
            catalog,
            autopilot,
            sessions,
            staged_restore,
            planted: _,
        } = self;
        let only_kv = table_indexes.is_empty()
            && *catalog == CatalogStore::default()
            && sessions.is_empty()
            && staged_restore.is_none();
        if only_kv {
            return kv.digest();
        }
        let others = (table_indexes, catalog, autopilot, sessions, staged_restore);
        let hash = encoding_digest(&others);
        crate::digest::fnv1a_extend(hash, &kv.digest().to_le_bytes())
    }

    /// Every property `apply` maintains, across tables; an error names the first broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.kv.check_invariants()?;
        if let Some(index) = self.table_indexes.get(&TableId::Kv) {
            return Err(format!(
                "the KV table's index {index} is stored outside the KV store"
            ));
        }
        // A restore raises the table's index with no config stored: only a stored config
        // must be at its table's index.
        if let Some(config) = self.autopilot {
            if config.modify_index != self.table_index(TableId::Autopilot) {
                return Err(format!(
                    "the autopilot config's modify index {} is not its table's index {}",
                    config.modify_index,
                    self.table_index(TableId::Autopilot)
                ));
            }
        }
        self.catalog
            .check_invariants(|table| self.table_index(table))?;
        self.sessions
            .check_invariants(self.table_index(TableId::Sessions))?;
        self.check_locks()?;
        self.check_session_catalog()?;
        self.check_staged_restore()
    }

    /// Every locked key names a stored session.
    fn check_locks(&self) -> Result<(), String> {
        for entry in self.kv.locked() {
            let session = entry.session.as_deref().unwrap_or_default();
            if self.sessions.get(session).is_none() {
                return Err(format!(
                    "key {:?} is locked by session {session:?}, which does not exist",
                    entry.key
                ));
            }
        }
        Ok(())
    }

    /// Every session's node and checks are registered: a create applies only if they are,
    /// and every catalog write that removes a node or a check sweeps that node's sessions at
    /// once (`apply_catalog`); a restore brings a whole state that held this.
    fn check_session_catalog(&self) -> Result<(), String> {
        for session in self.sessions.list() {
            if !self.catalog.has_node(&session.node) {
                return Err(format!(
                    "session {:?} is on node {:?}, which is not registered",
                    session.id, session.node
                ));
            }
            let service_checks = session.service_checks.iter().map(|c| &c.id);
            for check in session.node_checks.iter().chain(service_checks) {
                if self.catalog.check(&session.node, check).is_none() {
                    return Err(format!(
                        "session {:?} names check {check:?} on node {:?}, which is not \
                         registered",
                        session.id, session.node
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_staged_restore(&self) -> Result<(), String> {
        let Some(staged) = &self.staged_restore else {
            return Ok(());
        };
        let staged_bytes = staged.bytes.len() as u64;
        if staged_bytes > staged.total_bytes || staged.total_bytes > RESTORE_SIZE_BYTES_MAX as u64 {
            return Err(format!(
                "restore {} holds {staged_bytes} of {} bytes (at most {RESTORE_SIZE_BYTES_MAX})",
                staged.id, staged.total_bytes
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{catalog, check, register, register_checks};
    use crate::catalog::CheckStatus;
    use crate::kv::KvCommand;

    fn set(key: &str) -> Command {
        Command::Kv(KvCommand::Set {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
        })
    }

    #[test]
    fn each_table_has_its_own_index() {
        let mut state = StateMachine::new();
        state.apply(4, &set("a/x"));
        assert_eq!(state.table_index(TableId::Kv), 4);
        for table in TableId::ALL.into_iter().filter(|t| *t != TableId::Kv) {
            assert_eq!(state.table_index(table), 0, "{}", table.name());
        }
        state.table_indexes.insert(TableId::Services, 9);
        assert_eq!(state.watch_index(&WatchKey::Table(TableId::Services)), 9);
        assert_eq!(state.table_index(TableId::Kv), 4);
    }

    #[test]
    fn a_prefix_index_moves_only_for_writes_under_it() {
        let mut state = StateMachine::new();
        state.apply(3, &set("a/x"));
        state.apply(5, &set("b/y"));
        let a = WatchKey::KvPrefix("a/".into());
        assert_eq!(state.watch_index(&a), 3);
        assert_eq!(state.watch_index(&WatchKey::Table(TableId::Kv)), 5);
        state.apply(6, &Command::Kv(KvCommand::Delete { key: "a/x".into() }));
        assert_eq!(state.watch_index(&a), 6, "a delete moves it (tombstone)");
        assert_eq!(a.tables(), &[TableId::Kv]);
    }

    #[test]
    fn a_catalog_write_moves_only_the_tables_it_changed() {
        let mut state = StateMachine::new();
        assert!(state.apply(3, &catalog(register("n1", Some(("web1", "web", &[])), &[]))));
        let serf = check("serfHealth", "", CheckStatus::Critical);
        assert!(state.apply(5, &catalog(register_checks("n1", vec![serf]))));
        assert_eq!(state.table_index(TableId::Nodes), 3, "skip_node_update");
        assert_eq!(state.table_index(TableId::Services), 3);
        assert_eq!(state.table_index(TableId::Checks), 5);
        assert_eq!(state.table_index(TableId::Kv), 0);
        assert_eq!(state.check_invariants(), Ok(()));
    }

    #[test]
    fn a_check_write_moves_the_service_and_node_watches_through_the_checks_table() {
        let mut state = StateMachine::new();
        state.apply(3, &catalog(register("n1", Some(("web1", "web", &[])), &[])));
        let serf = check("serfHealth", "", CheckStatus::Critical);
        state.apply(5, &catalog(register_checks("n1", vec![serf])));
        for key in [WatchKey::Service("web".into()), WatchKey::Node("n1".into())] {
            assert_eq!(state.watch_index(&key), 5, "{key:?}");
            // The watch filter looks at these tables before the key's own index.
            assert!(key.tables().contains(&TableId::Checks), "{key:?}");
        }
        assert_eq!(state.watch_index(&WatchKey::Service("absent".into())), 0);
    }

    #[test]
    fn a_refused_catalog_write_answers_false_and_moves_nothing() {
        let mut state = StateMachine::new();
        state.apply(3, &catalog(register("n1", None, &[])));
        let before = state.clone();
        let orphan = check("c", "no-such-service", CheckStatus::Passing);
        assert!(!state.apply(4, &catalog(register_checks("n1", vec![orphan]))));
        assert_eq!(state, before);
    }

    #[test]
    fn a_catalog_object_newer_than_its_table_breaks_the_invariants() {
        let mut state = StateMachine::new();
        state.apply(
            3,
            &catalog(register("n1", Some(("web1", "web", &[])), &["web1"])),
        );
        assert_eq!(state.check_invariants(), Ok(()));
        state.table_indexes.insert(TableId::Checks, 2);
        let error = state.check_invariants().unwrap_err();
        assert!(error.contains("n1/check:web1"), "{error}");
    }

    #[test]
    fn digest_is_the_kv_digest_until_other_tables_change() {
        let mut state = StateMachine::new();
        state.apply(3, &set("a"));
        assert_eq!(state.digest(), state.kv().digest());
        let before = state.digest();
        state.table_indexes.insert(TableId::Sessions, 3);
        assert_ne!(state.digest(), before);
        let with_sessions = state.digest();
        state.apply(4, &catalog(register("n1", None, &[])));
        assert_ne!(
            state.digest(),
            with_sessions,
            "the catalog is in the digest"
        );
    }
}
