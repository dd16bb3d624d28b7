//! Expectations over the catalog's health of a service, read as `/v1/health/service/NAME`
//! reads it (`Request::Catalog`, default consistency: the leader's state), through a node:
//!
//! - `expect-passing NAME count=N [within D] [via NODE]`: `health/service/NAME?passing` lists
//!   exactly N instances (every check of the instance and of its node passing).
//! - `expect-critical NAME count=N [within D] [via NODE]`: exactly N instances of NAME have a
//!   critical check (their own, or their node's `serfHealth`).
//!
//! Without `via`, the read goes through the first running server (by name); through a client
//! agent it is forwarded, as a client agent's HTTP API forwards it. With `within`, the read is
//! repeated until it holds or D has passed.

use super::parse::parse_duration;
use crate::world::World;
use concord_core::agent::{CatalogAnswer, CatalogRead, Consistency, Request, Response};
use concord_core::catalog::{CheckStatus, ServiceEntry};
use std::time::Duration;

const POLL_MS: u64 = 200;

/// Whether `command` is one of the health expectations.
pub fn handles(command: &str) -> bool {
    matches!(command, "expect-passing" | "expect-critical")
}

/// What a health expectation counts.
#[derive(Clone, Copy)]
enum Counted {
    Passing,
    Critical,
}

/// Runs one health expectation (`words[0]` is the command).
pub async fn run(world: &mut World, words: &[&str]) -> Result<(), String> {
    let [command, name, rest @ ..] = words else {
        return Err(format!("{}: which service?", words.join(" ")));
    };
    let counted = match *command {
        "expect-passing" => Counted::Passing,
        _ => Counted::Critical,
    };
    let count: usize = pair(rest, "count=")
        .ok_or(format!("{command} needs count=N"))?
        .parse()
        .map_err(|_| format!("{command}: bad count"))?;
    let within = keyword(rest, "within").map(parse_duration).transpose()?;
    let within = within.map(|bound| world.deadline(bound));
    let via = match keyword(rest, "via") {
        Some(node) => node.to_string(),
        None => world
            .servers_up()
            .first()
            .cloned()
            .ok_or("no server is running")?,
    };
    let deadline_ms = world.now_ms() + within.unwrap_or_default().as_millis() as u64;
    loop {
        let outcome = check_once(world, &via, name, counted, count).await;
        if outcome.is_ok() || world.now_ms() >= deadline_ms {
            return outcome;
        }
        madsim::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

async fn check_once(
    world: &mut World,
    via: &str,
    name: &str,
    counted: Counted,
    count: usize,
) -> Result<(), String> {
    let entries = health_service(world, via, name, matches!(counted, Counted::Passing)).await?;
    let critical = |e: &&ServiceEntry| e.checks.iter().any(|c| c.status == CheckStatus::Critical);
    let (got, what) = match counted {
        Counted::Passing => (entries.len(), "passing"),
        Counted::Critical => (entries.iter().filter(critical).count(), "critical"),
    };
    if got == count {
        return Ok(());
    }
    let seen: Vec<String> = entries.iter().map(describe).collect();
    Err(format!(
        "{got} {what} instances of {name} through {via}, expected {count}; seen: [{}]",
        seen.join(", ")
    ))
}

/// `health/service/NAME[?passing]` through `via`.
pub async fn health_service(
    world: &mut World,
    via: &str,
    name: &str,
    passing: bool,
) -> Result<Vec<ServiceEntry>, String> {
    let read = CatalogRead::HealthService {
        name: name.to_string(),
        tags: vec![],
        passing,
    };
    let request = Request::Catalog {
        read,
        consistency: Consistency::Default,
    };
    match world.request(via, request).await {
        Ok(Response::Catalog {
            answer: CatalogAnswer::Entries(entries),
            ..
        }) => Ok(entries),
        Ok(other) => Err(format!("health/service/{name} through {via}: {other:?}")),
        Err(e) => Err(format!("health/service/{name} through {via}: {e}")),
    }
}

/// `node/service-id(check=status,...)`, for failure messages.
fn describe(entry: &ServiceEntry) -> String {
    let checks: Vec<String> = entry
        .checks
        .iter()
        .map(|c| format!("{}={}", c.check_id, c.status.as_str()))
        .collect();
    format!(
        "{}/{}({})",
        entry.node.name,
        entry.service.id,
        checks.join(",")
    )
}

/// The value of a `KEY=VALUE` word.
fn pair<'a>(words: &[&'a str], prefix: &str) -> Option<&'a str> {
    words.iter().find_map(|w| w.strip_prefix(prefix))
}

/// The word after `keyword` (`within 5s`, `via s1`).
fn keyword<'a>(words: &[&'a str], keyword: &str) -> Option<&'a str> {
    let at = words.iter().position(|w| *w == keyword)?;
    words.get(at + 1).copied()
}

#[cfg(all(test, madsim))]
mod tests {
    use crate::runner::run_seed;
    use crate::scenario::run_scenario;
    use concord_node::PlantedBug;

    /// Runs a scenario; the failure, if any.
    fn run(text: String, seed: u64) -> Option<String> {
        let outcome = run_seed(seed, PlantedBug::None, move |mut world| async move {
            let result = run_scenario(&mut world, &text)
                .await
                .map_err(|f| format!("line {}: {}", f.line, f.reason));
            (world, result)
        });
        outcome.failure
    }

    const SERVER: &str = "start s1 -server -bootstrap -data-dir /d\nexpect leader within 5s\n";

    /// An agent's TTL check reaches the catalog only through anti-entropy (off in the
    /// simulator before, so this failed there), and follows the check's status.
    #[test]
    fn a_ttl_check_reaches_the_catalog_and_follows_its_status() {
        let text = format!(
            "{SERVER}service-register s1 web port=80 ttl=2s\n\
             expect-critical web count=1 within 2s\n\
             check-pass s1 service:web\n\
             expect-passing web count=1 within 2s\n\
             expect-critical web count=1 within 3s\n"
        );
        for seed in [1, 2] {
            assert_eq!(run(text.clone(), seed), None, "seed {seed}");
        }
        let wrong =
            format!("{SERVER}service-register s1 web\nexpect-passing web count=2 within 1s\n");
        let failure = run(wrong, 1).expect("two passing instances of one");
        assert!(
            failure.contains("line 4") && failure.contains("s1/web(serfHealth=passing)"),
            "{failure}"
        );
    }
}
