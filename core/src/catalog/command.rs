//! Catalog writes as they travel through the Raft log. Checked by `validate.rs` before they
//! are proposed; applied by `CatalogStore::apply`, which refuses (and changes nothing) what
//! is inconsistent with the state at its index.

use super::types::{CheckDefinition, CheckStatus, Service, ServiceAddress, Weights};
use crate::state::TableId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One replicated catalog write. New kinds of write add variants at the end: bincode numbers
/// variants by position, so entries already in logs keep their meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogCommand {
    /// `PUT /v1/catalog/register` (and an agent's anti-entropy, and the leader's serfHealth).
    /// Boxed: a registration is large, a deregistration small (same encoding as unboxed).
    Register(Box<Registration>),
    /// `PUT /v1/catalog/deregister`: the node with everything on it when neither id is given;
    /// otherwise the service (with its checks) and/or the check.
    Deregister {
        node: String,
        service_id: Option<String>,
        check_id: Option<String>,
    },
}

impl CatalogCommand {
    /// The tables the command may write, the primary one first: a blocking read on any of
    /// them may have to be looked at after it applies.
    pub fn tables(&self) -> &'static [TableId] {
        use TableId::{Checks, Nodes, Services};
        match self {
            CatalogCommand::Register(reg) if reg.service.is_some() => &[Services, Nodes, Checks],
            CatalogCommand::Register(reg) if reg.checks.is_empty() => &[Nodes],
            CatalogCommand::Register(_) => &[Checks, Nodes],
            CatalogCommand::Deregister {
                service_id: Some(_),
                ..
            } => &[Services, Checks],
            CatalogCommand::Deregister {
                check_id: Some(_), ..
            } => &[Checks],
            CatalogCommand::Deregister { .. } => &[Nodes, Services, Checks],
        }
    }

    /// The node the command writes.
    pub fn node(&self) -> &str {
        match self {
            CatalogCommand::Register(reg) => &reg.node.name,
            CatalogCommand::Deregister { node, .. } => node,
        }
    }
}

/// A node with at most one service and any number of checks, written together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub node: NodeRegistration,
    pub service: Option<ServiceRegistration>,
    pub checks: Vec<CheckRegistration>,
    /// Leave an existing node's data as it is (the leader's serfHealth writes use it so they
    /// do not clobber what the node's agent registered). A missing node is still created.
    pub skip_node_update: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistration {
    pub name: String,
    /// The node's UUID, or "".
    pub id: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
}

/// A service instance; `id` defaults to `name` (filled in by `validate::fill_defaults`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRegistration {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub address: String,
    pub port: u16,
    pub meta: BTreeMap<String, String>,
    pub weights: Weights,
    pub enable_tag_override: bool,
    pub kind: String,
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
}

impl ServiceRegistration {
    /// The instance this registration describes, before the store gives it its indexes.
    pub fn to_service(&self) -> Service {
        Service {
            id: self.id.clone(),
            name: self.name.clone(),
            tags: self.tags.clone(),
            address: self.address.clone(),
            port: self.port,
            meta: self.meta.clone(),
            weights: self.weights,
            enable_tag_override: self.enable_tag_override,
            kind: self.kind.clone(),
            tagged_addresses: self.tagged_addresses.clone(),
            create_index: 0,
            modify_index: 0,
        }
    }
}

/// A check on the registration's node; of the instance `service_id` when that is not "".
/// Its service's name and tags are not carried: the store copies them from the instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRegistration {
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub notes: String,
    pub output: String,
    pub service_id: String,
    pub check_type: String,
    pub interval: String,
    pub timeout: String,
    pub definition: CheckDefinition,
}

impl Default for CheckRegistration {
    /// Consul registers a check critical unless told otherwise.
    fn default() -> CheckRegistration {
        CheckRegistration {
            check_id: String::new(),
            name: String::new(),
            status: CheckStatus::Critical,
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            check_type: String::new(),
            interval: String::new(),
            timeout: String::new(),
            definition: CheckDefinition::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_deregistration_may_touch_every_catalog_table() {
        let node_only = CatalogCommand::Deregister {
            node: "n1".into(),
            service_id: None,
            check_id: None,
        };
        assert_eq!(node_only.tables().len(), 3);
        assert_eq!(node_only.node(), "n1");
        let check_only = CatalogCommand::Deregister {
            node: "n1".into(),
            service_id: None,
            check_id: Some("c".into()),
        };
        assert_eq!(check_only.tables(), &[TableId::Checks]);
    }

    #[test]
    fn a_registration_names_its_primary_table_first() {
        let mut reg = Registration::default();
        assert_eq!(
            CatalogCommand::Register(Box::new(reg.clone())).tables(),
            &[TableId::Nodes]
        );
        reg.checks.push(CheckRegistration::default());
        let tables = CatalogCommand::Register(Box::new(reg.clone())).tables();
        assert_eq!(tables, &[TableId::Checks, TableId::Nodes]);
        reg.service = Some(ServiceRegistration::default());
        let tables = CatalogCommand::Register(Box::new(reg)).tables();
        assert_eq!(tables[0], TableId::Services);
        assert!(
            tables.contains(&TableId::Checks),
            "a service change updates its checks"
        );
    }
}
