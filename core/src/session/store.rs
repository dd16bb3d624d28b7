//! The sessions table: every live session by id.

use super::types::Session;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStore {
    sessions: BTreeMap<String, Session>,
}

impl SessionStore {
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    /// Every session, ordered by id.
    pub fn list(&self) -> Vec<Session> {
        self.sessions.values().cloned().collect()
    }

    /// The sessions of one node, ordered by id.
    pub fn by_node(&self, node: &str) -> Vec<Session> {
        self.sessions
            .values()
            .filter(|s| s.node == node)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub(crate) fn insert(&mut self, session: Session) {
        self.sessions.insert(session.id.clone(), session);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Session> {
        self.sessions.remove(id)
    }

    /// Lowers every create and modify index above `index` to it (a restore at `index`).
    pub(crate) fn clamp_indexes(&mut self, index: u64) {
        for session in self.sessions.values_mut() {
            session.create_index = session.create_index.min(index);
            session.modify_index = session.modify_index.min(index);
        }
    }

    /// Every session is stored under its own id, with create <= modify <= `table_index`.
    pub(crate) fn check_invariants(&self, table_index: u64) -> Result<(), String> {
        for (id, s) in &self.sessions {
            let ordered = s.create_index <= s.modify_index && s.modify_index <= table_index;
            if s.id != *id || !ordered {
                return Err(format!(
                    "session {id:?} is inconsistent (create index {}, modify index {}, table \
                     index {table_index})",
                    s.create_index, s.modify_index
                ));
            }
        }
        Ok(())
    }
}
