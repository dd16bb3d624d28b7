//! Commands replicated through the Raft log. The state machine they apply to, and its
//! snapshot format, are in `crate::state`.

use crate::catalog::CatalogCommand;
use crate::kv::KvCommand;
use crate::state::TableId;
use serde::{Deserialize, Serialize};

/// One replicated write. New tables add variants at the end: bincode numbers variants by
/// position, so entries already in logs keep their meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Kv(KvCommand),
    Catalog(CatalogCommand),
    Autopilot(super::autopilot::AutopilotCommand),
    /// Create or invalidate a session.
    Session(crate::session::SessionCommand),
    /// A KV transaction: all its operations apply at one index, or none.
    Txn(Vec<crate::kv::txn::TxnOp>),
    /// One step of restoring a snapshot archive through the log (`state::restore`).
    Restore(crate::state::RestoreCommand),
}

impl Command {
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("commands always encode")
    }

    /// Entries come from our own log: a command that does not decode is a broken invariant
    /// (corruption passed the CRC, or a version mismatch), and the caller panics with context.
    pub fn decode(bytes: &[u8]) -> Result<Command, String> {
        bincode::deserialize(bytes).map_err(|e| e.to_string())
    }

    /// The table the command writes first (for a catalog write: services when it carries a
    /// service, checks when only checks, nodes otherwise). See `tables` for all it may touch.
    pub fn table(&self) -> TableId {
        self.tables()[0]
    }

    /// Every table the command may write: a catalog write can touch nodes, services and
    /// checks at once (a node deregistration removes all three kinds), and then end the
    /// sessions that depended on them, releasing or deleting their keys.
    pub fn tables(&self) -> &'static [TableId] {
        match self {
            Command::Kv(_) => &[TableId::Kv],
            Command::Catalog(catalog) => with_sessions_swept(catalog.tables()),
            Command::Autopilot(_) => &[TableId::Autopilot],
            // Invalidating a session releases or deletes its keys.
            Command::Session(_) => &[TableId::Sessions, TableId::Kv],
            Command::Txn(_) => &[TableId::Kv],
            Command::Restore(_) => &TableId::ALL,
        }
    }
}

/// A catalog write's tables, then the sessions and KV tables its sweep may write (every
/// catalog write touches nodes or checks, so every one may end sessions).
fn with_sessions_swept(catalog: &'static [TableId]) -> &'static [TableId] {
    use TableId::{Checks, Kv, Nodes, Services, Sessions};
    match catalog {
        [Services, Nodes, Checks] => &[Services, Nodes, Checks, Sessions, Kv],
        [Nodes] => &[Nodes, Sessions, Kv],
        [Checks, Nodes] => &[Checks, Nodes, Sessions, Kv],
        [Services, Checks] => &[Services, Checks, Sessions, Kv],
        [Checks] => &[Checks, Sessions, Kv],
        [Nodes, Services, Checks] => &[Nodes, Services, Checks, Sessions, Kv],
        // A list not known here: every table is a safe superset.
        _ => &TableId::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kv_command_keeps_its_log_encoding() {
        let command = Command::Kv(KvCommand::Delete { key: "k".into() });
        let bytes = command.encode();
        // Variant 0 (Kv), then KvCommand variant 2 (Delete): logs written before tables
        // existed decode to the same command.
        assert_eq!(&bytes[..8], &[0, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(Command::decode(&bytes), Ok(command.clone()));
        assert_eq!(command.table(), TableId::Kv);
    }

    #[test]
    fn a_catalog_command_is_the_next_variant_and_names_every_table_it_touches() {
        let command = Command::Catalog(CatalogCommand::Deregister {
            node: "n1".into(),
            service_id: Some("web1".into()),
            check_id: None,
        });
        let bytes = command.encode();
        // Variant 1 (Catalog), then CatalogCommand variant 1 (Deregister).
        assert_eq!(&bytes[..8], &[1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(Command::decode(&bytes), Ok(command.clone()));
        assert_eq!(command.table(), TableId::Services);
        let swept = [TableId::Sessions, TableId::Kv];
        let tables = [&[TableId::Services, TableId::Checks][..], &swept].concat();
        assert_eq!(command.tables(), tables);
    }
}
