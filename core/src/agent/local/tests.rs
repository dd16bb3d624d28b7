//! The local state through the agent: TTL expiry on tick, thresholds, maintenance, the
//! anti-entropy batch, its retry and the full sync's diff, and the persisted bytes.

use super::check::{CheckInput, CheckKind};
use super::sync::SyncItem;
use super::*;
use crate::agent::api::{ApiError, ApiResult, CatalogAnswer, Request, Response};
use crate::agent::{Action, Agent, AgentConfig};
use crate::catalog::{
    CatalogCommand, CheckRegistration, CheckStatus, HealthCheck, Node, Service, ServiceRegistration,
};
use crate::membership::Role;
use crate::raft::RaftRestore;

const TTL_MS: u64 = 10_000;

/// A server with no leader yet: its catalog writes wait (in flight) for one.
fn agent(sync_enabled: bool) -> Agent {
    let config = AgentConfig::new("n1", "10.0.0.1", Role::Server);
    let mut agent = Agent::new(config, 7, 1_000, RaftRestore::default());
    agent.set_local_options(LocalOptions {
        sync_enabled,
        ..LocalOptions::default()
    });
    agent
}

fn input(id: &str, service_id: &str, kind: CheckKind) -> CheckInput {
    CheckInput {
        check: CheckRegistration {
            check_id: id.into(),
            name: id.into(),
            service_id: service_id.into(),
            ..Default::default()
        },
        kind,
        interval_ms: 10_000,
        timeout_ms: 10_000,
        success_before_passing: 0,
        failures_before_critical: 0,
        deregister_critical_service_after_ms: 0,
    }
}

fn register(agent: &mut Agent, name: &str, checks: Vec<CheckInput>) -> ApiResult {
    let service = ServiceRegistration {
        name: name.into(),
        port: 8080,
        ..Default::default()
    };
    let request = LocalRequest::RegisterService {
        service: Box::new(service),
        checks,
        replace_existing_checks: false,
    };
    local(agent, request)
}

fn local(agent: &mut Agent, request: LocalRequest) -> ApiResult {
    let now_ms = agent.now_ms();
    agent.handle_request(now_ms, 1, Request::Local(request));
    let mut replies = agent.poll().into_iter().filter_map(|a| match a {
        Action::Reply { result, .. } => Some(result),
        _ => None,
    });
    replies.next_back().expect("local requests answer at once")
}

fn status(agent: &Agent, id: &str) -> (CheckStatus, String) {
    let check = &agent.local().checks[id].input.check;
    (check.status, check.output.clone())
}

#[test]
fn a_ttl_check_turns_critical_on_the_tick_after_its_ttl() {
    let mut agent = agent(false);
    let ttl = input("", "", CheckKind::Ttl { ttl_ms: TTL_MS });
    register(&mut agent, "web", vec![ttl]).unwrap();
    assert_eq!(
        status(&agent, "service:web").0,
        CheckStatus::Critical,
        "critical unless Status"
    );
    let pass = LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status: CheckStatus::Passing,
        output: "ok".into(),
    };
    local(&mut agent, pass).unwrap();
    agent.tick(1_000 + TTL_MS - 1);
    assert_eq!(
        status(&agent, "service:web"),
        (CheckStatus::Passing, "ok".into())
    );
    agent.tick(1_000 + TTL_MS);
    let (s, output) = status(&agent, "service:web");
    assert_eq!(s, CheckStatus::Critical);
    assert_eq!(
        output,
        "TTL expired (last output before timeout follows): ok"
    );
}

#[test]
fn ttl_updates_reject_other_checks_and_unknown_ids() {
    let mut agent = agent(false);
    let tcp = input(
        "tcp",
        "",
        CheckKind::Tcp {
            addr: "127.0.0.1:1".into(),
        },
    );
    let reg = LocalRequest::RegisterCheck {
        check: Box::new(tcp),
    };
    local(&mut agent, reg).unwrap();
    let update = |id: &str| LocalRequest::TtlUpdate {
        id: id.into(),
        status: CheckStatus::Passing,
        output: String::new(),
    };
    let err = local(&mut agent, update("tcp")).unwrap_err();
    assert!(
        matches!(err, ApiError::BadRequest(ref m) if m.contains("does not have associated TTL"))
    );
    let err = local(&mut agent, update("nope")).unwrap_err();
    assert!(matches!(err, ApiError::NotFound(ref m) if m.starts_with("Unknown check ID \"nope\"")));
}

#[test]
fn runner_results_pass_through_consuls_thresholds() {
    let mut agent = agent(false);
    let mut http = input("h", "", CheckKind::Tcp { addr: "x:1".into() });
    (http.success_before_passing, http.failures_before_critical) = (2, 3);
    local(
        &mut agent,
        LocalRequest::RegisterCheck {
            check: Box::new(http),
        },
    )
    .unwrap();
    let result = |agent: &mut Agent, status| {
        let r = LocalRequest::CheckResult {
            id: "h".into(),
            status,
            output: "o".into(),
        };
        local(agent, r).unwrap();
        agent.local().checks["h"].status()
    };
    assert_eq!(
        result(&mut agent, CheckStatus::Passing),
        CheckStatus::Critical
    );
    assert_eq!(
        result(&mut agent, CheckStatus::Passing),
        CheckStatus::Passing
    );
    assert_eq!(
        result(&mut agent, CheckStatus::Critical),
        CheckStatus::Passing
    );
    assert_eq!(
        result(&mut agent, CheckStatus::Critical),
        CheckStatus::Passing
    );
    assert_eq!(
        result(&mut agent, CheckStatus::Critical),
        CheckStatus::Critical
    );
}

#[test]
fn maintenance_adds_and_removes_consuls_critical_checks() {
    let mut agent = agent(false);
    register(&mut agent, "web", vec![]).unwrap();
    let maint = |enable| LocalRequest::ServiceMaintenance {
        id: "web".into(),
        enable,
        reason: "deploy".into(),
    };
    local(&mut agent, maint(true)).unwrap();
    let check = &agent.local().checks["_service_maintenance:web"].input.check;
    assert_eq!(
        (check.name.as_str(), check.notes.as_str()),
        ("Service Maintenance Mode", "deploy")
    );
    assert_eq!(
        (check.status, check.service_id.as_str()),
        (CheckStatus::Critical, "web")
    );
    local(&mut agent, maint(false)).unwrap();
    assert!(agent.local().checks.is_empty());
    let node = LocalRequest::NodeMaintenance {
        enable: true,
        reason: String::new(),
    };
    local(&mut agent, node).unwrap();
    assert_eq!(
        agent.local().checks["_node_maintenance"].input.check.name,
        "Node Maintenance Mode"
    );
    let unknown = LocalRequest::ServiceMaintenance {
        id: "x".into(),
        enable: true,
        reason: String::new(),
    };
    assert!(matches!(
        local(&mut agent, unknown),
        Err(ApiError::NotFound(_))
    ));
}

#[test]
fn registration_defaults_refusals_and_kept_status() {
    let mut agent = agent(false);
    let two = vec![
        input("", "", CheckKind::Ttl { ttl_ms: TTL_MS }),
        input("", "", CheckKind::Ttl { ttl_ms: TTL_MS }),
    ];
    register(&mut agent, "web", two).unwrap();
    let ids: Vec<&String> = agent.local().checks.keys().collect();
    assert_eq!(ids, ["service:web:1", "service:web:2"]);
    assert_eq!(
        agent.local().checks["service:web:1"].input.check.name,
        "Service 'web' check"
    );
    let pass = LocalRequest::TtlUpdate {
        id: "service:web:1".into(),
        status: CheckStatus::Passing,
        output: String::new(),
    };
    local(&mut agent, pass).unwrap();
    let again = vec![
        input("", "", CheckKind::Ttl { ttl_ms: TTL_MS }),
        input("", "", CheckKind::Ttl { ttl_ms: TTL_MS }),
    ];
    register(&mut agent, "web", again).unwrap();
    assert_eq!(
        status(&agent, "service:web:1").0,
        CheckStatus::Passing,
        "re-registering keeps status"
    );
    let err = register(&mut agent, "", vec![]).unwrap_err();
    assert_eq!(err, ApiError::BadRequest("Missing service name".into()));
    let script = input(
        "s",
        "",
        CheckKind::Script {
            args: vec!["true".into()],
        },
    );
    let err = local(
        &mut agent,
        LocalRequest::RegisterCheck {
            check: Box::new(script),
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("Scripts are disabled on this agent"),
        "{err}"
    );
}

#[test]
fn the_reaper_removes_a_service_critical_past_its_limit() {
    let mut agent = agent(false);
    let mut ttl = input("", "", CheckKind::Ttl { ttl_ms: TTL_MS });
    ttl.deregister_critical_service_after_ms = 60_000;
    register(&mut agent, "web", vec![ttl]).unwrap();
    agent.tick(1_000 + 59_000);
    assert!(
        agent.local().services.contains_key("web"),
        "not yet a minute critical"
    );
    agent.tick(1_000 + 60_000 + REAP_INTERVAL_MS);
    assert!(agent.local().services.is_empty() && agent.local().checks.is_empty());
}

/// The write in flight for `what` (its internal id).
fn in_flight(agent: &Agent, what: impl Fn(&SyncItem) -> bool) -> Vec<u64> {
    let items = agent.local().sync.in_flight.iter();
    items.filter(|(_, i)| what(i)).map(|(id, _)| *id).collect()
}

fn written() -> ApiResult {
    Ok(Response::KvWritten {
        applied: true,
        index: 9,
    })
}

#[test]
fn a_change_is_sent_at_once_and_marked_synced_by_its_answer() {
    let mut agent = agent(true);
    register(
        &mut agent,
        "web",
        vec![input("", "", CheckKind::Ttl { ttl_ms: TTL_MS })],
    )
    .unwrap();
    let ids = in_flight(
        &agent,
        |i| matches!(i, SyncItem::Service { id, .. } if id == "web"),
    );
    assert_eq!(
        ids.len(),
        1,
        "sent with the registration, not at the next sync"
    );
    assert!(!agent.local().services["web"].in_sync());
    agent.on_internal_reply(ids[0], written());
    assert!(
        agent.local().services["web"].in_sync() && agent.local().checks["service:web"].in_sync()
    );
    assert!(
        agent.local().node_synced,
        "every registration carries the node"
    );
    local(
        &mut agent,
        LocalRequest::DeregisterService { id: "web".into() },
    )
    .unwrap();
    let ids = in_flight(&agent, |i| matches!(i, SyncItem::DeleteService(_)));
    agent.on_internal_reply(ids[0], written());
    assert!(agent.local().deleted_services.is_empty());
}

#[test]
fn a_failed_sync_is_retried_after_the_back_off() {
    let mut agent = agent(true);
    register(&mut agent, "web", vec![]).unwrap();
    let ids = in_flight(&agent, |i| matches!(i, SyncItem::Service { .. }));
    agent.on_internal_reply(ids[0], Err(ApiError::NoLeader));
    let retry_at_ms = agent.local().sync.retry_at_ms;
    assert!(retry_at_ms >= 1_000 + SYNC_RETRY_MS, "{retry_at_ms}");
    agent.tick(retry_at_ms - 1);
    assert!(
        in_flight(&agent, |i| matches!(i, SyncItem::Service { .. })).is_empty(),
        "backing off"
    );
    agent.tick(retry_at_ms);
    assert_eq!(
        in_flight(&agent, |i| matches!(i, SyncItem::Service { .. })).len(),
        1
    );
}

#[test]
fn an_output_only_change_waits_and_a_status_change_does_not() {
    let mut agent = agent(true);
    register(
        &mut agent,
        "web",
        vec![input("", "", CheckKind::Ttl { ttl_ms: 3_600_000 })],
    )
    .unwrap();
    let ids = in_flight(&agent, |_| true);
    ids.into_iter()
        .for_each(|id| agent.on_internal_reply(id, written()));
    let update = |status, output: &str| LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status,
        output: output.into(),
    };
    local(&mut agent, update(CheckStatus::Critical, "new output")).unwrap();
    assert!(
        in_flight(&agent, |_| true).is_empty(),
        "output-only: deferred"
    );
    let deferred = agent.local().checks["service:web"]
        .deferred_until_ms
        .unwrap();
    assert!(
        (1_000 + 150_000..1_000 + 450_000).contains(&deferred),
        "{deferred}"
    );
    local(&mut agent, update(CheckStatus::Passing, "new output")).unwrap();
    assert_eq!(
        in_flight(&agent, |_| true).len(),
        1,
        "a status change goes at once"
    );
}

/// Found by the simulator (fuzz seed 36 with services): a `fail` whose write failed, then a
/// TTL expiry that changed only the output, deferred the check for minutes, and the catalog
/// kept the old status. The status change is retried with the back-off, output or not.
#[test]
fn a_failed_status_change_is_not_held_back_by_a_later_output_only_change() {
    let mut agent = agent(true);
    let ttl = input("", "", CheckKind::Ttl { ttl_ms: 3_600_000 });
    register(&mut agent, "web", vec![ttl]).unwrap();
    let ids = in_flight(&agent, |_| true);
    ids.into_iter()
        .for_each(|id| agent.on_internal_reply(id, written()));
    let update = |output: &str| LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status: CheckStatus::Warning,
        output: output.into(),
    };
    local(&mut agent, update("slow")).unwrap();
    let sent = in_flight(&agent, |i| matches!(i, SyncItem::Service { .. }));
    local(&mut agent, update("slower")).unwrap();
    assert_eq!(
        agent.local().checks["service:web"].deferred_until_ms,
        None,
        "the status change is not synced yet: nothing to defer"
    );
    agent.on_internal_reply(sent[0], Err(ApiError::LeadershipLost));
    let retry_at_ms = agent.local().sync.retry_at_ms;
    agent.tick(retry_at_ms);
    assert_eq!(
        in_flight(&agent, |i| matches!(i, SyncItem::Service { .. })).len(),
        1,
        "retried after the back-off, not after check_update_interval"
    );
}

/// A full sync that finds the catalog's status different sends the check at once, even if
/// an output-only change of it was deferred.
#[test]
fn a_full_sync_difference_is_not_held_back_by_a_deferred_output() {
    let mut agent = agent(true);
    let ttl = input("", "", CheckKind::Ttl { ttl_ms: 3_600_000 });
    register(&mut agent, "web", vec![ttl]).unwrap();
    let ids = in_flight(&agent, |_| true);
    ids.into_iter()
        .for_each(|id| agent.on_internal_reply(id, written()));
    let output_only = LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status: CheckStatus::Critical,
        output: "new output".into(),
    };
    local(&mut agent, output_only).unwrap();
    assert!(agent.local().checks["service:web"]
        .deferred_until_ms
        .is_some());
    let remote = HealthCheck {
        node: "n1".into(),
        check_id: "service:web".into(),
        name: "Service 'web' check".into(),
        status: CheckStatus::Passing,
        notes: String::new(),
        output: String::new(),
        service_id: "web".into(),
        service_name: "web".into(),
        service_tags: vec![],
        check_type: "ttl".into(),
        interval: String::new(),
        timeout: String::new(),
        definition: Default::default(),
        create_index: 1,
        modify_index: 1,
    };
    agent.start_full_sync();
    let read = in_flight(&agent, |i| *i == SyncItem::ReadServices);
    assert_eq!(read.len(), 1);
    // The service as the agent has it: only the check's status differs.
    let answer = CatalogAnswer::Node(Some((Node::default(), agent.local_services())));
    let meta = Default::default();
    agent.on_internal_reply(read[0], Ok(Response::Catalog { answer, meta }));
    assert!(agent.local().services["web"].in_sync());
    let read = in_flight(&agent, |i| *i == SyncItem::ReadChecks);
    let answer = CatalogAnswer::Checks(vec![remote]);
    let meta = Default::default();
    agent.on_internal_reply(read[0], Ok(Response::Catalog { answer, meta }));
    agent.tick(agent.now_ms() + 1);
    assert_eq!(
        in_flight(&agent, |i| matches!(i, SyncItem::Service { .. })).len(),
        1,
        "the catalog says passing, the agent critical: sent at once"
    );
}

#[test]
fn a_full_sync_removes_unknown_entries_but_not_the_servers_own() {
    let mut agent = agent(true);
    agent.tick(1_000);
    let read = in_flight(&agent, |i| *i == SyncItem::ReadServices);
    assert_eq!(read.len(), 1, "the first tick starts a full sync");
    let service = |id: &str| Service {
        id: id.into(),
        name: id.into(),
        ..Default::default()
    };
    let node = Node {
        name: "n1".into(),
        address: "10.0.0.1".into(),
        ..Default::default()
    };
    let answer = CatalogAnswer::Node(Some((node, vec![service("old"), service("consul")])));
    let meta = Default::default();
    agent.on_internal_reply(read[0], Ok(Response::Catalog { answer, meta }));
    let check = |id: &str| HealthCheck {
        node: "n1".into(),
        check_id: id.into(),
        name: id.into(),
        status: CheckStatus::Passing,
        notes: String::new(),
        output: String::new(),
        service_id: String::new(),
        service_name: String::new(),
        service_tags: vec![],
        check_type: String::new(),
        interval: String::new(),
        timeout: String::new(),
        definition: Default::default(),
        create_index: 1,
        modify_index: 1,
    };
    let read = in_flight(&agent, |i| *i == SyncItem::ReadChecks);
    let answer = CatalogAnswer::Checks(vec![check("serfHealth"), check("stale")]);
    agent.on_internal_reply(
        read[0],
        Ok(Response::Catalog {
            answer,
            meta: Default::default(),
        }),
    );
    let local = agent.local();
    assert_eq!(local.deleted_services.iter().collect::<Vec<_>>(), ["old"]);
    assert_eq!(local.deleted_checks.iter().collect::<Vec<_>>(), ["stale"]);
    let next_ms = local.sync.full_sync_at_ms;
    assert!(
        (1_000 + 60_000..=1_000 + 120_000).contains(&next_ms),
        "{next_ms}"
    );
}

#[test]
fn the_persisted_state_round_trips_with_statuses() {
    let mut agent = agent(false);
    register(
        &mut agent,
        "web",
        vec![input("", "", CheckKind::Ttl { ttl_ms: TTL_MS })],
    )
    .unwrap();
    let maint = LocalRequest::NodeMaintenance {
        enable: true,
        reason: "r".into(),
    };
    local(&mut agent, maint).unwrap();
    let pass = LocalRequest::TtlUpdate {
        id: "service:web".into(),
        status: CheckStatus::Passing,
        output: "fine".into(),
    };
    agent.handle_request(agent.now_ms(), 2, Request::Local(pass));
    let mut persisted = agent.poll().into_iter().filter_map(|a| match a {
        Action::PersistLocal { bytes } => Some(bytes),
        _ => None,
    });
    let bytes = persisted.next_back().expect("a change is persisted");
    let mut restarted = self::agent(false);
    restarted.restore_local(&bytes).unwrap();
    assert_eq!(
        restarted.local().services,
        agent
            .local()
            .services
            .iter()
            .map(|(k, s)| (
                k.clone(),
                LocalService {
                    version: 1,
                    synced_version: 0,
                    ..s.clone()
                }
            ))
            .collect()
    );
    assert_eq!(
        status(&restarted, "service:web"),
        (CheckStatus::Passing, "fine".into())
    );
    assert!(restarted.local().checks.contains_key("_node_maintenance"));
    assert_eq!(
        restarted.restore_local(b"junk"),
        Err(LocalRestoreError::NotLocalState)
    );
    let _ = CatalogCommand::Deregister {
        node: String::new(),
        service_id: None,
        check_id: None,
    };
}

#[test]
fn a_client_that_knows_no_server_waits_instead_of_failing() {
    let config = AgentConfig::new("c1", "10.0.0.2", Role::Client);
    let mut client = Agent::new(config, 7, 1_000, RaftRestore::default());
    client.set_local_options(LocalOptions {
        sync_enabled: true,
        ..LocalOptions::default()
    });
    register(&mut client, "web", vec![]).unwrap();
    client.tick(2_000);
    assert!(in_flight(&client, |_| true).is_empty(), "nothing sent");
    assert_eq!(
        client.local().sync.retry_at_ms,
        0,
        "no failure, so no back-off"
    );
    assert_eq!(
        client.local().sync.full_sync_at_ms,
        0,
        "the full sync is still due"
    );
}

#[test]
fn services_from_config_files_are_not_persisted() {
    let mut agent = agent(false);
    let mut options = LocalOptions::default();
    options.config_service_ids.insert("from-file".into());
    agent.set_local_options(options);
    register(
        &mut agent,
        "from-file",
        vec![input("", "", CheckKind::Ttl { ttl_ms: TTL_MS })],
    )
    .unwrap();
    register(&mut agent, "from-api", vec![]).unwrap();
    let mut restarted = self::agent(false);
    restarted.restore_local(&agent.local().to_bytes()).unwrap();
    let kept: Vec<&String> = restarted.local().services.keys().collect();
    assert_eq!(kept, ["from-api"]);
    assert!(
        restarted.local().checks.is_empty(),
        "the file's service's check goes with it"
    );
}

#[test]
fn local_script_checks_are_allowed_from_config_files_only() {
    let mut agent = agent(false);
    agent.set_local_options(LocalOptions {
        enable_local_script_checks: true,
        ..LocalOptions::default()
    });
    let script = || {
        input(
            "s",
            "",
            CheckKind::Script {
                args: vec!["true".into()],
            },
        )
    };
    let api = LocalRequest::RegisterCheck {
        check: Box::new(script()),
    };
    let err = local(&mut agent, api).unwrap_err();
    assert!(err.to_string().contains("Scripts are disabled"), "{err}");
    let file = LocalRequest::RegisterCheck {
        check: Box::new(script()),
    };
    local(&mut agent, LocalRequest::FromConfig(Box::new(file))).unwrap();
    assert_eq!(agent.check_specs().len(), 1, "the file's script check runs");
}

#[test]
fn a_full_service_table_refuses_the_next_registration_and_keeps_the_rest() {
    let mut agent = agent(false);
    for i in 0..LOCAL_SERVICES_MAX {
        assert!(
            register(&mut agent, &format!("s{i}"), Vec::new()).is_ok(),
            "s{i}"
        );
    }
    let refused = register(&mut agent, "one-too-many", Vec::new());
    let want = format!("Too many services on this agent: the maximum is {LOCAL_SERVICES_MAX}");
    assert_eq!(refused, Err(ApiError::BadRequest(want)));
    assert!(
        register(&mut agent, "s0", Vec::new()).is_ok(),
        "re-registering a known service still works"
    );
}

fn service_def(name: &str, port: u16, checks: Vec<CheckInput>) -> LocalRequest {
    let service = ServiceRegistration {
        name: name.into(),
        port,
        ..Default::default()
    };
    LocalRequest::RegisterService {
        service: Box::new(service),
        checks,
        replace_existing_checks: false,
    }
}

fn reload(agent: &mut Agent, definitions: Vec<LocalRequest>) -> ApiResult {
    local(agent, LocalRequest::ReloadConfig { definitions })
}

#[test]
fn reload_registers_new_and_changed_definitions_and_removes_dropped_ones() {
    let mut agent = agent(false);
    let ttl = || input("disk", "", CheckKind::Ttl { ttl_ms: TTL_MS });
    let first = vec![
        service_def("web", 80, vec![]),
        service_def("db", 5432, vec![]),
        LocalRequest::RegisterCheck {
            check: Box::new(ttl()),
        },
    ];
    reload(&mut agent, first).unwrap();
    register(&mut agent, "from-api", vec![]).unwrap();
    let second = vec![
        service_def("web", 8080, vec![]),
        service_def("cache", 6379, vec![]),
    ];
    reload(&mut agent, second).unwrap();
    let local = agent.local();
    let kept: Vec<&String> = local.services.keys().collect();
    assert_eq!(
        kept,
        ["cache", "from-api", "web"],
        "db is gone, the API's stays"
    );
    assert_eq!(local.services["web"].service.port, 8080, "changed in place");
    assert!(
        !local.checks.contains_key("disk"),
        "the dropped check is gone"
    );
    let ids: Vec<&String> = local.options.config_service_ids.iter().collect();
    assert_eq!(
        ids,
        ["cache", "web"],
        "what the next restart will not persist"
    );
}

#[test]
fn a_refused_definition_on_reload_changes_nothing() {
    let mut agent = agent(false);
    reload(&mut agent, vec![service_def("web", 80, vec![])]).unwrap();
    let orphan = LocalRequest::RegisterCheck {
        check: Box::new(input(
            "c",
            "no-such-service",
            CheckKind::Ttl { ttl_ms: TTL_MS },
        )),
    };
    let refused = reload(&mut agent, vec![service_def("db", 5432, vec![]), orphan]);
    assert!(refused.is_err(), "{refused:?}");
    let kept: Vec<&String> = agent.local().services.keys().collect();
    assert_eq!(kept, ["web"], "web stays, db was not added");
    assert!(agent.local().options.config_service_ids.contains("web"));
}
