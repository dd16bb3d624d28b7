//! How each command applies: the one path every committed entry takes
//! (`StateMachine::apply_traced`), table by table.

use super::{ApplyOutcome, StateMachine, TableId};
use crate::agent::command::Command;
use crate::catalog::CatalogCommand;
use crate::kv::lock::LockRequest;
use crate::kv::overlay::Overlay;
use crate::kv::txn::{self, TxnOp, TxnOutcome};
use crate::kv::{KvCommand, LockChange, TOMBSTONES_MAX};
use crate::session::invalidate::{invalidate, sweep};
use crate::session::{Session, SessionCommand, SESSIONS_MAX};

impl StateMachine {
    pub(super) fn route(&mut self, index: u64, term: u64, command: &Command) -> ApplyOutcome {
        match command {
            Command::Kv(
                KvCommand::Lock {
                    key,
                    value,
                    flags,
                    session,
                }
                | KvCommand::Unlock {
                    key,
                    value,
                    flags,
                    session,
                },
            ) => {
                let request = LockRequest {
                    key,
                    value,
                    flags: *flags,
                    session,
                };
                let acquire = matches!(command, Command::Kv(KvCommand::Lock { .. }));
                self.apply_lock(index, term, request, acquire)
            }
            Command::Kv(kv) => self.apply_kv(index, kv),
            Command::Catalog(catalog) => self.apply_catalog(index, catalog),
            Command::Autopilot(command) => {
                let ok = super::autopilot::apply(&mut self.autopilot, index, command);
                if ok {
                    self.table_indexes.insert(TableId::Autopilot, index);
                }
                outcome(ok, Vec::new())
            }
            Command::Session(SessionCommand::Create(session)) => {
                outcome(self.create_session(index, session), Vec::new())
            }
            Command::Session(SessionCommand::Destroy { id }) => {
                let changes = invalidate(index, id, &mut self.kv, &mut self.sessions);
                if changes.is_some() {
                    self.table_indexes.insert(TableId::Sessions, index);
                }
                outcome(true, changes.unwrap_or_default())
            }
            Command::Txn(ops) => self.apply_txn(index, ops),
            Command::Restore(restore) => match self.apply_restore(index, term, restore) {
                Ok(()) => outcome(true, Vec::new()),
                Err(why) => ApplyOutcome {
                    refusal: Some(why),
                    ..outcome(false, Vec::new())
                },
            },
        }
    }

    /// A plain KV write. Deleting a locked key ends its hold: reported as a lock change.
    fn apply_kv(&mut self, index: u64, command: &KvCommand) -> ApplyOutcome {
        let held: Vec<(String, String)> = match command {
            KvCommand::Delete { key } | KvCommand::DeleteCas { key, .. } => {
                self.kv.get(key).into_iter().cloned().collect::<Vec<_>>()
            }
            KvCommand::DeleteTree { prefix } => self.kv.list(prefix),
            _ => Vec::new(),
        }
        .into_iter()
        .filter_map(|e| Some((e.key, e.session?)))
        .collect();
        self.kv.begin(index);
        let ok = self.kv.apply_at(index, command, TOMBSTONES_MAX);
        let changes = held
            .into_iter()
            .filter(|(key, _)| self.kv.get(key).is_none())
            .map(|(key, session)| LockChange {
                key,
                before: Some(session),
                after: None,
                lock_index: 0,
                modify_index: index,
                deleted: true,
                delay_ns: 0,
            })
            .collect();
        outcome(ok, changes)
    }

    /// `?acquire=` (`lock`) or `?release=`: one operation through the transaction overlay.
    fn apply_lock(
        &mut self,
        index: u64,
        term: u64,
        request: LockRequest<'_>,
        lock: bool,
    ) -> ApplyOutcome {
        let mut overlay = Overlay::new(&self.kv, &self.sessions, index);
        let ok = if lock {
            let steal = self.planted.steals(request.key, term);
            let granted = overlay.lock(request, steal).is_ok();
            if granted {
                self.planted.granted(request.key, term);
            }
            granted
        } else {
            overlay.unlock(request).is_some()
        };
        let staged = overlay.into_staged();
        if !ok {
            // Refused: nothing moves, not even the store's applied index.
            return outcome(false, Vec::new());
        }
        self.kv.begin(index);
        outcome(true, self.kv.commit(index, staged))
    }

    fn apply_txn(&mut self, index: u64, ops: &[TxnOp]) -> ApplyOutcome {
        let mut overlay = Overlay::new(&self.kv, &self.sessions, index);
        match txn::evaluate(&mut overlay, ops) {
            Ok(entries) => {
                let staged = overlay.into_staged();
                self.kv.begin(index);
                let changes = self.kv.commit(index, staged);
                ApplyOutcome {
                    ok: true,
                    lock_changes: changes,
                    txn: Some(TxnOutcome::Committed { entries }),
                    refusal: None,
                }
            }
            // Rolled back: the state is exactly as before.
            Err(errors) => ApplyOutcome {
                ok: false,
                lock_changes: Vec::new(),
                txn: Some(TxnOutcome::Failed { errors }),
                refusal: None,
            },
        }
    }

    /// A catalog write; then, if it moved nodes or checks, the sessions of its node that may
    /// no longer exist are invalidated at the same index.
    fn apply_catalog(&mut self, index: u64, command: &CatalogCommand) -> ApplyOutcome {
        let applied = self.catalog.apply(index, command);
        // Only the tables the write changed move: an identical re-registration wakes no
        // blocking read.
        let sweeps =
            applied.tables.contains(&TableId::Nodes) || applied.tables.contains(&TableId::Checks);
        for table in applied.tables {
            self.table_indexes.insert(table, index);
        }
        let mut changes = Vec::new();
        if sweeps {
            let node = command.node();
            let (ended, swept) =
                sweep(index, node, &self.catalog, &mut self.kv, &mut self.sessions);
            if ended > 0 {
                self.table_indexes.insert(TableId::Sessions, index);
            }
            changes = swept;
        }
        outcome(applied.ok, changes)
    }

    /// Stores a new session if it may exist now (the leader checked too, but the catalog may
    /// have changed since); its id must be new and the table not full.
    fn create_session(&mut self, index: u64, session: &Session) -> bool {
        let fits = self.sessions.len() < SESSIONS_MAX;
        if session.id.is_empty() || self.sessions.get(&session.id).is_some() || !fits {
            return false;
        }
        if self.check_session_create(session).is_err() {
            return false;
        }
        let mut stored = session.clone();
        stored.create_index = index;
        stored.modify_index = index;
        self.sessions.insert(stored);
        self.table_indexes.insert(TableId::Sessions, index);
        true
    }
}

fn outcome(ok: bool, lock_changes: Vec<LockChange>) -> ApplyOutcome {
    ApplyOutcome {
        ok,
        lock_changes,
        txn: None,
        refusal: None,
    }
}
