//! Once faults end, the catalog agrees with every live agent's own services (anti-entropy's
//! promise, Consul's agent/local): each service an agent holds is in the catalog under the
//! agent's node as it was registered, each of the agent's checks is there with the agent's
//! status, and no service the agent removed is left there (but `consul`, the leader's). Read
//! through the leader (its own state), polled until it holds.
//!
//! The bound, `CATALOG_CONVERGE_MS`: a change is sent at once, and a failed write is retried
//! after `SYNC_RETRY_MS` plus up to as much jitter (30 s); an entry the catalog lost behind the
//! agent's back (its node deregistered when it left, then rejoined) is repaired only by the
//! periodic full sync, at most `ae_interval` plus as much jitter after the previous one (120 s
//! at Consul's default of 60 s); and the full sync's read and writes may each time out once
//! (`CLIENT_TIMEOUT_MS`, 8 s). 174 s in all, from the moment the line runs (after the liveness
//! phase's leader and write).

use crate::history::CLIENT_TIMEOUT_MS;
use crate::world::World;
use concord_core::agent::local::{LocalAnswer, LocalRequest, SYNC_RETRY_MS};
use concord_core::agent::{
    CatalogAnswer, CatalogRead, Consistency, Request, Response, CONSUL_SERVICE,
};
use concord_core::catalog::{HealthCheck, Service};
use std::time::Duration;

/// Consul's `ae_interval` (the agent's default; the simulator does not change it).
pub const AE_INTERVAL_MS: u64 = 60_000;
/// How long anti-entropy may take to bring the catalog in line (see the module's comment).
pub const CATALOG_CONVERGE_MS: u64 = 2 * AE_INTERVAL_MS + 2 * SYNC_RETRY_MS + 3 * CLIENT_TIMEOUT_MS;
/// How often the catalog is read again while it differs.
const POLL_MS: u64 = 1_000;

/// Waits until the catalog agrees with every running agent, at most `CATALOG_CONVERGE_MS`.
pub async fn check(world: &mut World) -> Result<(), String> {
    let deadline_ms = world.now_ms() + CATALOG_CONVERGE_MS;
    loop {
        let outcome = check_once(world).await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(why) if world.now_ms() >= deadline_ms => {
                return Err(format!(
                    "the catalog still differs from an agent's own state \
                     {CATALOG_CONVERGE_MS} ms after the faults ended: {why}"
                ))
            }
            Err(_) => madsim::time::sleep(Duration::from_millis(POLL_MS)).await,
        }
    }
}

async fn check_once(world: &mut World) -> Result<(), String> {
    let leader = crate::scenario::current_leader(world).await?;
    let agents: Vec<(String, String)> = world
        .nodes
        .values()
        .filter(|n| n.up)
        .map(|n| (n.name.clone(), n.spec.config.agent.node_name.clone()))
        .collect();
    for (agent, node) in agents {
        let (services, checks) = local_state(world, &agent).await?;
        let (remote_services, remote_checks) = catalog_of(world, &leader, &node).await?;
        let stale = remote_services
            .iter()
            .find(|r| r.id != CONSUL_SERVICE && !services.iter().any(|s| s.id == r.id));
        if let Some(stale) = stale {
            return Err(format!(
                "{agent} has no service {:?}, the catalog does (through {leader})",
                stale.id
            ));
        }
        for service in &services {
            let found = remote_services.iter().find(|r| r.id == service.id);
            if found.map(without_indexes) != Some(without_indexes(service)) {
                return Err(format!(
                    "{agent}'s service {:?} is {found:?} in the catalog (through {leader})",
                    service.id
                ));
            }
        }
        for check in &checks {
            let found = remote_checks.iter().find(|r| r.check_id == check.check_id);
            if found.map(|r| r.status) != Some(check.status) {
                let status = found.map(|r| r.status.as_str());
                return Err(format!(
                    "{agent}'s check {:?} is {} on the agent, {status:?} in the catalog \
                     (through {leader})",
                    check.check_id,
                    check.status.as_str()
                ));
            }
        }
    }
    Ok(())
}

/// The agent's own services and checks (`agent/services`, `agent/checks`).
async fn local_state(
    world: &mut World,
    agent: &str,
) -> Result<(Vec<Service>, Vec<HealthCheck>), String> {
    let services = match local(world, agent, LocalRequest::Services).await? {
        LocalAnswer::Services(services) => services,
        other => return Err(format!("agent/services on {agent}: {other:?}")),
    };
    match local(world, agent, LocalRequest::Checks).await? {
        LocalAnswer::Checks(checks) => Ok((services, checks)),
        other => Err(format!("agent/checks on {agent}: {other:?}")),
    }
}

async fn local(
    world: &mut World,
    agent: &str,
    request: LocalRequest,
) -> Result<LocalAnswer, String> {
    match world.request(agent, Request::Local(request)).await {
        Ok(Response::Local { answer }) => Ok(answer),
        other => Err(format!("local request on {agent}: {other:?}")),
    }
}

/// `catalog/node/NODE` and `health/node/NODE` as the leader has them.
async fn catalog_of(
    world: &mut World,
    leader: &str,
    node: &str,
) -> Result<(Vec<Service>, Vec<HealthCheck>), String> {
    let services = match read(
        world,
        leader,
        CatalogRead::CatalogNode { name: node.into() },
    )
    .await?
    {
        CatalogAnswer::Node(found) => found.map(|(_, services)| services).unwrap_or_default(),
        other => return Err(format!("catalog/node/{node}: {other:?}")),
    };
    match read(world, leader, CatalogRead::HealthNode { node: node.into() }).await? {
        CatalogAnswer::Checks(checks) => Ok((services, checks)),
        other => Err(format!("health/node/{node}: {other:?}")),
    }
}

async fn read(world: &mut World, leader: &str, read: CatalogRead) -> Result<CatalogAnswer, String> {
    let request = Request::Catalog {
        read,
        consistency: Consistency::Default,
    };
    match world.request(leader, request).await {
        Ok(Response::Catalog { answer, .. }) => Ok(answer),
        other => Err(format!("catalog read on {leader}: {other:?}")),
    }
}

/// A service as registered: the indexes are the catalog's own.
fn without_indexes(service: &Service) -> Service {
    Service {
        create_index: 0,
        modify_index: 0,
        ..service.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_core::agent::local::LocalOptions;

    /// The bound is computed from the agent's own defaults: if they change, it must too.
    #[test]
    fn the_bound_follows_the_agents_anti_entropy_settings() {
        assert_eq!(AE_INTERVAL_MS, LocalOptions::default().ae_interval_ms);
        assert_eq!(CATALOG_CONVERGE_MS, 174_000);
    }
}

#[cfg(all(test, madsim))]
mod world_tests {
    use super::CATALOG_CONVERGE_MS;
    use crate::runner::run_seed;
    use crate::scenario::run_scenario;
    use concord_node::PlantedBug;

    /// The failure, and the simulated time the run took.
    fn run(text: &'static str) -> (Option<String>, u64) {
        let outcome = run_seed(3, PlantedBug::None, move |mut world| async move {
            let result = run_scenario(&mut world, text)
                .await
                .map_err(|f| format!("line {}: {}", f.line, f.reason));
            (world, result)
        });
        (outcome.failure, outcome.sim_ms)
    }

    const CUT_OFF: &str = "start s1 -server -bootstrap -data-dir /s1
start c1 -data-dir /c1
join c1 s1
expect leader within 5s
isolate c1
wait 5s
service-register c1 web ttl=1m
";

    /// A service held by an agent that cannot reach the servers is missing from the catalog:
    /// the check waits its whole bound for anti-entropy, then fails naming the service; after a
    /// heal the same check passes.
    #[test]
    fn a_service_missing_from_the_catalog_fails_after_the_bound() {
        let text = format!("{CUT_OFF}check-catalog\n").leak();
        let (failure, sim_ms) = run(text);
        let failure = failure.expect("c1's service never reached the catalog");
        assert!(failure.contains("c1's service \"web\""), "{failure}");
        assert!(sim_ms >= CATALOG_CONVERGE_MS, "failed after {sim_ms} ms");
        let healed = format!("{CUT_OFF}heal\ncheck-catalog\n").leak();
        assert_eq!(run(healed).0, None);
    }

    /// A service the agent removed while cut off is still in the catalog: caught as well.
    #[test]
    fn a_service_left_in_the_catalog_fails_after_the_bound() {
        let text = "start s1 -server -bootstrap -data-dir /s1
start c1 -data-dir /c1
join c1 s1
expect leader within 5s
service-register c1 web
expect-passing web count=1 within 3s
isolate c1
wait 5s
service-deregister c1 web
check-catalog
";
        let failure = run(text)
            .0
            .expect("web stays in the catalog while c1 is cut off");
        assert!(failure.contains("c1 has no service \"web\""), "{failure}");
    }
}
