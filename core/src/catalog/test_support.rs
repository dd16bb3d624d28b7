//! Builders for catalog commands in tests (here and in `state`).

use super::command::ServiceRegistration;
use super::command::{CatalogCommand, CheckRegistration, NodeRegistration, Registration};
use super::types::CheckStatus;
use crate::agent::command::Command;

/// A registration of `node` (address 10.0.0.1), with the service `(id, name, tags)` if any,
/// and a passing check of that service per id in `service_checks`.
pub(crate) fn register(
    node: &str,
    service: Option<(&str, &str, &[&str])>,
    service_checks: &[&str],
) -> CatalogCommand {
    let service = service.map(|(id, name, tags)| ServiceRegistration {
        id: id.into(),
        name: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        port: 8080,
        ..Default::default()
    });
    let checks = service_checks
        .iter()
        .map(|id| check(&format!("check:{id}"), id, CheckStatus::Passing))
        .collect();
    CatalogCommand::Register(Box::new(Registration {
        node: node_reg(node, "10.0.0.1"),
        service,
        checks,
        skip_node_update: false,
    }))
}

pub(crate) fn node_reg(name: &str, address: &str) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        address: address.into(),
        datacenter: "dc1".into(),
        ..Default::default()
    }
}

/// A check named as its id, of `service_id` ("" for a node check).
pub(crate) fn check(id: &str, service_id: &str, status: CheckStatus) -> CheckRegistration {
    CheckRegistration {
        check_id: id.into(),
        name: id.into(),
        status,
        service_id: service_id.into(),
        check_type: "ttl".into(),
        ..Default::default()
    }
}

/// Only `checks` on `node`, leaving the node's data as it is.
pub(crate) fn register_checks(node: &str, checks: Vec<CheckRegistration>) -> CatalogCommand {
    CatalogCommand::Register(Box::new(Registration {
        node: node_reg(node, ""),
        service: None,
        checks,
        skip_node_update: true,
    }))
}

pub(crate) fn catalog(command: CatalogCommand) -> Command {
    Command::Catalog(command)
}
