//! The agent requests of service discovery, built as `/v1/agent/service/register`,
//! `/v1/agent/service/deregister` and `/v1/agent/check/pass|warn|fail` build them
//! (`Request::Local`): the scenarios' commands and the fuzzer's load send the same ones, so
//! the agent's local state and its anti-entropy run in the simulator as on a real machine.

use concord_core::agent::local::{CheckInput, CheckKind, LocalRequest};
use concord_core::agent::Request;
use concord_core::catalog::{CheckRegistration, CheckStatus, ServiceRegistration};

/// A service `name` (id `id`) on `port`, with a TTL check when `ttl_ms` is given. The check
/// gets Consul's defaults: id `service:ID`, and critical until its first update.
pub fn register(name: &str, id: &str, port: u16, ttl_ms: Option<u64>) -> Request {
    assert!(!name.is_empty(), "a service has a name");
    let checks = ttl_ms.map(ttl_check).into_iter().collect();
    let service = ServiceRegistration {
        id: id.to_string(),
        name: name.to_string(),
        port,
        ..Default::default()
    };
    Request::Local(LocalRequest::RegisterService {
        service: Box::new(service),
        checks,
        replace_existing_checks: false,
    })
}

/// The id Consul gives the one check of service `id` when the registration names none.
pub fn ttl_check_id(service_id: &str) -> String {
    format!("service:{service_id}")
}

/// A TTL check of `ttl_ms` for a registration (the workload's, and the real client's tests).
pub fn ttl_check(ttl_ms: u64) -> CheckInput {
    assert!(ttl_ms > 0, "a TTL check needs a TTL");
    CheckInput {
        check: CheckRegistration::default(),
        kind: CheckKind::Ttl { ttl_ms },
        interval_ms: 0,
        timeout_ms: 0,
        success_before_passing: 0,
        failures_before_critical: 0,
        deregister_critical_service_after_ms: 0,
    }
}

pub fn deregister(id: &str) -> Request {
    Request::Local(LocalRequest::DeregisterService { id: id.to_string() })
}

/// `check/pass|warn|fail`: a TTL update, with output naming the status (as a client would).
pub fn ttl_update(check_id: &str, status: CheckStatus) -> Request {
    Request::Local(LocalRequest::TtlUpdate {
        id: check_id.to_string(),
        status,
        output: format!("set {} by the simulator", status.as_str()),
    })
}
