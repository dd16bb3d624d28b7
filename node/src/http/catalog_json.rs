//! The core's catalog data as Consul's JSON (`api_types::catalog`, shared with the CLI).

use crate::api_types::catalog::{
    AgentService, CatalogNode, CatalogNodeServices, CatalogService, HealthCheck,
    HealthCheckDefinition, ServiceAddress, ServiceEntry, Weights,
};
use concord_core::catalog as core;
use std::collections::BTreeMap;

pub fn node_json(node: &core::Node) -> CatalogNode {
    CatalogNode {
        id: node.id.clone(),
        node: node.name.clone(),
        address: node.address.clone(),
        datacenter: node.datacenter.clone(),
        tagged_addresses: node.tagged_addresses.clone(),
        meta: node.meta.clone(),
        create_index: node.create_index,
        modify_index: node.modify_index,
    }
}

fn tagged_json(
    tagged: &BTreeMap<String, core::ServiceAddress>,
) -> BTreeMap<String, ServiceAddress> {
    let address = |a: &core::ServiceAddress| ServiceAddress {
        address: a.address.clone(),
        port: a.port,
    };
    tagged
        .iter()
        .map(|(k, a)| (k.clone(), address(a)))
        .collect()
}

fn weights_json(weights: core::Weights) -> Weights {
    Weights {
        passing: weights.passing,
        warning: weights.warning,
    }
}

pub fn service_json(service: &core::Service) -> AgentService {
    AgentService {
        kind: service.kind.clone(),
        id: service.id.clone(),
        service: service.name.clone(),
        tags: service.tags.clone(),
        meta: service.meta.clone(),
        port: service.port,
        address: service.address.clone(),
        tagged_addresses: tagged_json(&service.tagged_addresses),
        weights: weights_json(service.weights),
        enable_tag_override: service.enable_tag_override,
        create_index: service.create_index,
        modify_index: service.modify_index,
    }
}

/// One instance of `catalog/service/:name`, node and service flattened.
pub fn catalog_service_json(node: &core::Node, service: &core::Service) -> CatalogService {
    CatalogService {
        id: node.id.clone(),
        node: node.name.clone(),
        address: node.address.clone(),
        datacenter: node.datacenter.clone(),
        tagged_addresses: node.tagged_addresses.clone(),
        node_meta: node.meta.clone(),
        service_kind: service.kind.clone(),
        service_id: service.id.clone(),
        service_name: service.name.clone(),
        service_tags: service.tags.clone(),
        service_address: service.address.clone(),
        service_tagged_addresses: tagged_json(&service.tagged_addresses),
        service_weights: weights_json(service.weights),
        service_meta: service.meta.clone(),
        service_port: service.port,
        service_enable_tag_override: service.enable_tag_override,
        // The instance's own indexes, as Consul's (the node's are not in this shape).
        create_index: service.create_index,
        modify_index: service.modify_index,
        ..CatalogService::default()
    }
}

fn definition_json(definition: &core::CheckDefinition) -> HealthCheckDefinition {
    HealthCheckDefinition {
        http: definition.http.clone(),
        header: definition.header.clone(),
        method: definition.method.clone(),
        body: definition.body.clone(),
        tls_server_name: definition.tls_server_name.clone(),
        tls_skip_verify: definition.tls_skip_verify,
        tcp: definition.tcp.clone(),
        grpc: definition.grpc.clone(),
        grpc_use_tls: definition.grpc_use_tls,
        interval: duration_or_zero(&definition.interval),
        timeout: duration_or_zero(&definition.timeout),
        deregister_critical_service_after: duration_or_zero(
            &definition.deregister_critical_service_after,
        ),
        ..HealthCheckDefinition::default()
    }
}

/// Consul writes an unset duration of a definition as "0s".
fn duration_or_zero(text: &str) -> String {
    if text.is_empty() {
        "0s".to_string()
    } else {
        text.to_string()
    }
}

pub fn check_json(check: &core::HealthCheck) -> HealthCheck {
    HealthCheck {
        node: check.node.clone(),
        check_id: check.check_id.clone(),
        name: check.name.clone(),
        status: check.status.as_str().to_string(),
        notes: check.notes.clone(),
        output: check.output.clone(),
        service_id: check.service_id.clone(),
        service_name: check.service_name.clone(),
        service_tags: check.service_tags.clone(),
        check_type: check.check_type.clone(),
        interval: check.interval.clone(),
        timeout: check.timeout.clone(),
        exposed_port: 0,
        definition: definition_json(&check.definition),
        create_index: check.create_index,
        modify_index: check.modify_index,
    }
}

pub fn checks_json(checks: &[core::HealthCheck]) -> Vec<HealthCheck> {
    checks.iter().map(check_json).collect()
}

pub fn entry_json(entry: &core::ServiceEntry) -> ServiceEntry {
    ServiceEntry {
        node: node_json(&entry.node),
        service: service_json(&entry.service),
        checks: checks_json(&entry.checks),
    }
}

/// `catalog/node/:node`: the node and its instances by id.
pub fn node_services_json(node: &core::Node, services: &[core::Service]) -> CatalogNodeServices {
    CatalogNodeServices {
        node: node_json(node),
        services: services
            .iter()
            .map(|s| (s.id.clone(), service_json(s)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn check() -> core::HealthCheck {
        core::HealthCheck {
            node: "n1".into(),
            check_id: "c1".into(),
            name: "c1".into(),
            status: core::CheckStatus::Warning,
            notes: String::new(),
            output: String::new(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: vec![],
            check_type: String::new(),
            interval: String::new(),
            timeout: String::new(),
            definition: core::CheckDefinition::default(),
            create_index: 3,
            modify_index: 4,
        }
    }

    #[test]
    fn a_check_has_consuls_field_names_and_empty_lists() {
        let value = serde_json::to_value(check_json(&check())).unwrap();
        assert_eq!(value["CheckID"], "c1");
        assert_eq!(value["Status"], "warning");
        assert_eq!(value["ServiceTags"], Value::Array(vec![]));
        assert_eq!(value["Type"], "");
        assert_eq!(value["Definition"]["Interval"], "0s");
        assert!(value["Definition"]["GRPCUseTLS"].is_boolean());
    }

    #[test]
    fn a_catalog_service_is_flattened_with_the_instance_indexes() {
        let node = core::Node {
            name: "n1".into(),
            address: "10.0.0.1".into(),
            create_index: 1,
            ..Default::default()
        };
        let service = core::Service {
            id: "web1".into(),
            name: "web".into(),
            create_index: 5,
            modify_index: 6,
            ..Default::default()
        };
        let value = serde_json::to_value(catalog_service_json(&node, &service)).unwrap();
        assert_eq!(value["ServiceID"], "web1");
        assert_eq!(value["Address"], "10.0.0.1");
        assert_eq!(value["ServiceTags"], Value::Array(vec![]));
        assert_eq!(value["ServiceProxy"], serde_json::json!({}));
        assert_eq!(
            (value["CreateIndex"].as_u64(), value["ModifyIndex"].as_u64()),
            (Some(5), Some(6))
        );
    }
}
