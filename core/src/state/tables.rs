//! The tables of the replicated state machine, and what a blocking read can watch in them.

use serde::{Deserialize, Serialize};

/// One table of the state machine. Each has its own modify index: the last log index that
/// changed it, which a blocking read on the whole table waits to move. KV and the catalog's
/// nodes, services and checks hold data; sessions and ACL tokens are reserved so that the
/// snapshot format and the watch primitive already know them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableId {
    Kv,
    Nodes,
    Services,
    Checks,
    Sessions,
    AclTokens,
    /// The autopilot configuration (one row).
    Autopilot,
}

impl TableId {
    pub const ALL: [TableId; 7] = [
        TableId::Kv,
        TableId::Nodes,
        TableId::Services,
        TableId::Checks,
        TableId::Sessions,
        TableId::AclTokens,
        TableId::Autopilot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TableId::Kv => "kv",
            TableId::Nodes => "nodes",
            TableId::Services => "services",
            TableId::Checks => "checks",
            TableId::Sessions => "sessions",
            TableId::AclTokens => "acl-tokens",
            TableId::Autopilot => "autopilot",
        }
    }
}

/// What a read covers, as a blocking query sees it: its index moves exactly when the data the
/// read returns may have changed (Consul's indexes; spurious moves are allowed, missed ones not).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WatchKey {
    /// A whole table (e.g. `catalog/services` watches the services table).
    Table(TableId),
    /// Every KV key starting with the prefix (a key read watches its key as a prefix, as
    /// Consul does).
    KvPrefix(String),
    /// One service's instances, their nodes and those nodes' checks (`catalog/service/:s`,
    /// `health/service/:s`, `health/checks/:s`); for a service with no instances, the last
    /// index at which any service lost its last instance (Consul's extinction index).
    Service(String),
    /// One node, its instances and its checks (`catalog/node/:n`, `health/node/:n`); for an
    /// absent node, the last index at which any node was removed.
    Node(String),
}

/// `TableId::ALL` with a 'static address, for `WatchKey::tables`.
static TABLES: [TableId; 7] = TableId::ALL;

impl WatchKey {
    /// The tables whose changes can move this key's index: only a change to one of them can
    /// wake a watch on it, so other tables' writes are skipped without a look. A catalog key
    /// moves with writes to any catalog table (a check write moves a service's index).
    pub fn tables(&self) -> &'static [TableId] {
        match self {
            WatchKey::Table(table) => {
                let at = TABLES.iter().position(|t| t == table).expect("every table");
                &TABLES[at..=at]
            }
            WatchKey::KvPrefix(_) => &[TableId::Kv],
            WatchKey::Service(_) | WatchKey::Node(_) => {
                &[TableId::Nodes, TableId::Services, TableId::Checks]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_the_tables_that_can_move_it() {
        for table in TableId::ALL {
            assert_eq!(
                WatchKey::Table(table).tables(),
                &[table],
                "{}",
                table.name()
            );
        }
        assert_eq!(WatchKey::KvPrefix("a/".into()).tables(), &[TableId::Kv]);
        let catalog = [TableId::Nodes, TableId::Services, TableId::Checks];
        assert_eq!(WatchKey::Service("web".into()).tables(), &catalog);
        assert_eq!(WatchKey::Node("n1".into()).tables(), &catalog);
    }
}
