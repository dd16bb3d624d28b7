//! The catalog's data, as Consul defines it: nodes, the service instances on them, and the
//! health checks of both. Every collection is ordered (the core is deterministic, and these
//! reach snapshots, digests and answers).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A machine in the catalog, keyed by `name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's UUID; "" when the registration gave none.
    pub id: String,
    pub name: String,
    pub address: String,
    pub datacenter: String,
    /// Consul's `lan`, `lan_ipv4`, `wan`... as plain addresses.
    pub tagged_addresses: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// How a load balancer weighs an instance by its health (Consul's default: 1 and 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    pub passing: u32,
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// A service's tagged address: unlike a node's, it has a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    pub address: String,
    pub port: u16,
}

/// One instance of a service, on one node, keyed by (node, `id`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    /// "" means "use the node's address", as in Consul.
    pub address: String,
    pub port: u16,
    pub meta: BTreeMap<String, String>,
    pub weights: Weights,
    pub enable_tag_override: bool,
    /// "" for a typical service; `connect-proxy`, `mesh-gateway`... otherwise.
    pub kind: String,
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A check's state. Consul's "maintenance" is not one: clients compute it from check IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CheckStatus {
    Passing,
    Warning,
    Critical,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 3] = [
        CheckStatus::Passing,
        CheckStatus::Warning,
        CheckStatus::Critical,
    ];

    /// Consul's spelling, in answers and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
        }
    }

    /// Consul's spelling back; `None` for anything else (callers turn it into
    /// `CatalogError::InvalidCheckStatus`, which carries Consul's message).
    pub fn parse(text: &str) -> Option<CheckStatus> {
        CheckStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How a check runs, as Consul reports it under `Definition`. Durations are Go duration
/// strings ("10s", "0s"), as Consul writes them in answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDefinition {
    pub http: String,
    pub method: String,
    pub header: BTreeMap<String, Vec<String>>,
    pub body: String,
    pub tls_server_name: String,
    pub tls_skip_verify: bool,
    pub tcp: String,
    pub grpc: String,
    pub grpc_use_tls: bool,
    pub interval: String,
    pub timeout: String,
    pub deregister_critical_service_after: String,
}

/// One health check on a node: node-level when `service_id` is "", else of that instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub node: String,
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub notes: String,
    pub output: String,
    pub service_id: String,
    /// Copied from the instance `service_id` names on this node, kept current by the store.
    pub service_name: String,
    pub service_tags: Vec<String>,
    /// "ttl", "http", "tcp", "script"...; "" for serfHealth and maintenance checks.
    pub check_type: String,
    pub interval: String,
    pub timeout: String,
    pub definition: CheckDefinition,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One row of `health/service/:name`: an instance, its node, and the checks that decide its
/// health (the node's own checks, then the instance's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub node: Node,
    pub service: Service,
    pub checks: Vec<HealthCheck>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_status_spellings_round_trip() {
        for status in CheckStatus::ALL {
            assert_eq!(CheckStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CheckStatus::parse("maintenance"), None, "only an aggregate");
        assert_eq!(
            CheckStatus::parse("Passing"),
            None,
            "Consul compares exactly"
        );
    }

    #[test]
    fn weights_default_to_consuls_one_and_one() {
        let service = Service::default();
        assert_eq!(
            service.weights,
            Weights {
                passing: 1,
                warning: 1
            }
        );
        assert!(service.address.is_empty(), "use the node's address");
    }
}
