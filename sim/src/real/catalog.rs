//! The agent's own services and checks (`Request::Local`) and the catalog and health reads
//! (`Request::Catalog`) over HTTP: the calls, and Consul's JSON (`api_types::catalog`) back
//! into the core's catalog types, inverse to `node/src/http/catalog_json.rs`.

use super::client::{escape, query, Call};
use concord_core::agent::local::{CheckInput, CheckKind, LocalRequest};
use concord_core::agent::{ApiError, CatalogAnswer, CatalogRead};
use concord_core::catalog::{
    CheckDefinition, CheckStatus, HealthCheck, Node, Service, ServiceAddress, ServiceEntry,
    ServiceRegistration, Weights,
};
use concord_node::api_types::catalog as json;
use std::collections::BTreeMap;

/// The call of a local request, `None` for the kinds without a route here yet.
pub fn local_call(request: &LocalRequest) -> Option<Call> {
    Some(match request {
        LocalRequest::RegisterService {
            service,
            checks,
            replace_existing_checks,
        } => {
            let replace = if *replace_existing_checks {
                "?replace-existing-checks"
            } else {
                ""
            };
            let body = register_body(service, checks)?;
            Call::new("PUT", format!("/v1/agent/service/register{replace}")).with_body(body)
        }
        LocalRequest::DeregisterService { id } => Call::new(
            "PUT",
            format!("/v1/agent/service/deregister/{}", escape(id)),
        ),
        LocalRequest::TtlUpdate { id, status, output } => {
            let body = serde_json::json!({"Status": status.as_str(), "Output": output});
            let path = format!("/v1/agent/check/update/{}", escape(id));
            Call::new("PUT", path).with_body(body.to_string().into_bytes())
        }
        LocalRequest::Services => Call::new("GET", "/v1/agent/services".into()),
        LocalRequest::Checks => Call::new("GET", "/v1/agent/checks".into()),
        _ => return None,
    })
}

/// `AgentServiceRegistration` with its checks; TTL checks only (the simulator's kind).
fn register_body(service: &ServiceRegistration, checks: &[CheckInput]) -> Option<Vec<u8>> {
    let tagged: BTreeMap<&String, serde_json::Value> = service
        .tagged_addresses
        .iter()
        .map(|(k, a)| (k, serde_json::json!({"Address": a.address, "Port": a.port})))
        .collect();
    let checks = checks.iter().map(check_body).collect::<Option<Vec<_>>>()?;
    let body = serde_json::json!({
        "ID": service.id,
        "Name": service.name,
        "Tags": service.tags,
        "Port": service.port,
        "Address": service.address,
        "TaggedAddresses": tagged,
        "Meta": service.meta,
        "Weights": {"Passing": service.weights.passing, "Warning": service.weights.warning},
        "EnableTagOverride": service.enable_tag_override,
        "Kind": service.kind,
        "Checks": checks,
    });
    Some(body.to_string().into_bytes())
}

fn check_body(input: &CheckInput) -> Option<serde_json::Value> {
    let CheckKind::Ttl { ttl_ms } = input.kind else {
        return None;
    };
    let ms = |ms: u64| (ms > 0).then(|| format!("{ms}ms"));
    let check = &input.check;
    Some(serde_json::json!({
        "CheckID": check.check_id,
        "Name": check.name,
        "Notes": check.notes,
        "Status": check.status.as_str(),
        "TTL": format!("{ttl_ms}ms"),
        "SuccessBeforePassing": input.success_before_passing,
        "FailuresBeforeCritical": input.failures_before_critical,
        "DeregisterCriticalServiceAfter": ms(input.deregister_critical_service_after_ms),
    }))
}

/// The route of a catalog or health read, with its consistency and blocking flags.
pub fn catalog_call(read: &CatalogRead, flags: &[&str]) -> Call {
    let tags = |tags: &[String]| {
        tags.iter()
            .map(|t| format!("tag={}", escape(t)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let (route, own) = match read {
        CatalogRead::CatalogServices => ("catalog/services".to_string(), String::new()),
        CatalogRead::CatalogService { name, tags: t } => {
            (format!("catalog/service/{}", escape(name)), tags(t))
        }
        CatalogRead::CatalogNodes => ("catalog/nodes".to_string(), String::new()),
        CatalogRead::CatalogNode { name } => {
            (format!("catalog/node/{}", escape(name)), String::new())
        }
        CatalogRead::HealthService {
            name,
            tags: t,
            passing,
        } => {
            let passing = if *passing { "passing" } else { "" };
            let own = [tags(t), passing.to_string()]
                .into_iter()
                .filter(|s| !s.is_empty());
            (
                format!("health/service/{}", escape(name)),
                own.collect::<Vec<_>>().join("&"),
            )
        }
        CatalogRead::HealthChecks { service } => {
            (format!("health/checks/{}", escape(service)), String::new())
        }
        CatalogRead::HealthNode { node } => {
            (format!("health/node/{}", escape(node)), String::new())
        }
        CatalogRead::HealthState { state } => {
            let state = state.map_or("any", CheckStatus::as_str);
            (format!("health/state/{state}"), String::new())
        }
    };
    let mut parts = vec![own.as_str()];
    parts.extend_from_slice(flags);
    Call::new("GET", format!("/v1/{route}{}", query(&parts)))
}

fn unreadable(e: serde_json::Error, body: &[u8]) -> ApiError {
    let body = String::from_utf8_lossy(body);
    ApiError::Unavailable(format!("unreadable catalog answer: {e}: {body}"))
}

/// The answer to `read` from its JSON body.
pub fn catalog_answer(read: &CatalogRead, body: &[u8]) -> Result<CatalogAnswer, ApiError> {
    let parse = |e| unreadable(e, body);
    Ok(match read {
        CatalogRead::CatalogServices => {
            CatalogAnswer::Services(serde_json::from_slice(body).map_err(parse)?)
        }
        CatalogRead::CatalogService { .. } => {
            let list: Vec<json::CatalogService> = serde_json::from_slice(body).map_err(parse)?;
            CatalogAnswer::Instances(list.into_iter().map(instance).collect())
        }
        CatalogRead::CatalogNodes => {
            let list: Vec<json::CatalogNode> = serde_json::from_slice(body).map_err(parse)?;
            CatalogAnswer::Nodes(list.into_iter().map(node).collect())
        }
        CatalogRead::CatalogNode { .. } => {
            let found: Option<json::CatalogNodeServices> =
                serde_json::from_slice(body).map_err(parse)?;
            CatalogAnswer::Node(found.map(|n| {
                (
                    node(n.node),
                    n.services.into_values().map(service).collect(),
                )
            }))
        }
        CatalogRead::HealthService { .. } => {
            let list: Vec<json::ServiceEntry> = serde_json::from_slice(body).map_err(parse)?;
            CatalogAnswer::Entries(list.into_iter().map(entry).collect::<Result<_, _>>()?)
        }
        CatalogRead::HealthChecks { .. }
        | CatalogRead::HealthNode { .. }
        | CatalogRead::HealthState { .. } => CatalogAnswer::Checks(checks(body)?),
    })
}

/// `/v1/agent/services`: by id (the core lists them in id order too).
pub fn local_services(body: &[u8]) -> Result<Vec<Service>, ApiError> {
    let by_id: BTreeMap<String, json_agent::LocalAgentService> =
        serde_json::from_slice(body).map_err(|e| unreadable(e, body))?;
    Ok(by_id.into_values().map(|s| service(s.service)).collect())
}

/// `/v1/agent/checks`: by id.
pub fn local_checks(body: &[u8]) -> Result<Vec<HealthCheck>, ApiError> {
    let by_id: BTreeMap<String, json::HealthCheck> =
        serde_json::from_slice(body).map_err(|e| unreadable(e, body))?;
    by_id.into_values().map(check).collect()
}

use concord_node::api_types::agent as json_agent;

fn checks(body: &[u8]) -> Result<Vec<HealthCheck>, ApiError> {
    let list: Vec<json::HealthCheck> =
        serde_json::from_slice(body).map_err(|e| unreadable(e, body))?;
    list.into_iter().map(check).collect()
}

fn node(n: json::CatalogNode) -> Node {
    Node {
        id: n.id,
        name: n.node,
        address: n.address,
        datacenter: n.datacenter,
        tagged_addresses: n.tagged_addresses,
        meta: n.meta,
        create_index: n.create_index,
        modify_index: n.modify_index,
    }
}

fn tagged(tagged: BTreeMap<String, json::ServiceAddress>) -> BTreeMap<String, ServiceAddress> {
    let address = |a: json::ServiceAddress| ServiceAddress {
        address: a.address,
        port: a.port,
    };
    tagged.into_iter().map(|(k, a)| (k, address(a))).collect()
}

fn service(s: json::AgentService) -> Service {
    Service {
        id: s.id,
        name: s.service,
        tags: s.tags,
        address: s.address,
        port: s.port,
        meta: s.meta,
        weights: Weights {
            passing: s.weights.passing,
            warning: s.weights.warning,
        },
        enable_tag_override: s.enable_tag_override,
        kind: s.kind,
        tagged_addresses: tagged(s.tagged_addresses),
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

/// `catalog/service/NAME` flattens node and instance; the node's own indexes are not shown.
fn instance(c: json::CatalogService) -> (Node, Service) {
    let node = Node {
        id: c.id,
        name: c.node,
        address: c.address,
        datacenter: c.datacenter,
        tagged_addresses: c.tagged_addresses,
        meta: c.node_meta,
        create_index: 0,
        modify_index: 0,
    };
    let service = Service {
        id: c.service_id,
        name: c.service_name,
        tags: c.service_tags,
        address: c.service_address,
        port: c.service_port,
        meta: c.service_meta,
        weights: Weights {
            passing: c.service_weights.passing,
            warning: c.service_weights.warning,
        },
        enable_tag_override: c.service_enable_tag_override,
        kind: c.service_kind,
        tagged_addresses: tagged(c.service_tagged_addresses),
        create_index: c.create_index,
        modify_index: c.modify_index,
    };
    (node, service)
}

fn entry(e: json::ServiceEntry) -> Result<ServiceEntry, ApiError> {
    let checks = e.checks.into_iter().map(check).collect::<Result<_, _>>()?;
    Ok(ServiceEntry {
        node: node(e.node),
        service: service(e.service),
        checks,
    })
}

/// Consul writes an unset duration of a definition as "0s" (`catalog_json::duration_or_zero`).
fn unset_if_zero(text: String) -> String {
    if text == "0s" {
        String::new()
    } else {
        text
    }
}

fn check(c: json::HealthCheck) -> Result<HealthCheck, ApiError> {
    let status = CheckStatus::parse(&c.status).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "check {}: unknown status {:?}",
            c.check_id, c.status
        ))
    })?;
    let d = c.definition;
    let definition = CheckDefinition {
        http: d.http,
        method: d.method,
        header: d.header,
        body: d.body,
        tls_server_name: d.tls_server_name,
        tls_skip_verify: d.tls_skip_verify,
        tcp: d.tcp,
        grpc: d.grpc,
        grpc_use_tls: d.grpc_use_tls,
        interval: unset_if_zero(d.interval),
        timeout: unset_if_zero(d.timeout),
        deregister_critical_service_after: unset_if_zero(d.deregister_critical_service_after),
    };
    Ok(HealthCheck {
        node: c.node,
        check_id: c.check_id,
        name: c.name,
        status,
        notes: c.notes,
        output: c.output,
        service_id: c.service_id,
        service_name: c.service_name,
        service_tags: c.service_tags,
        check_type: c.check_type,
        interval: c.interval,
        timeout: c.timeout,
        definition,
        create_index: c.create_index,
        modify_index: c.modify_index,
    })
}
