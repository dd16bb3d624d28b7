//! Blocking reads in scenarios, through the same typed API the HTTP layer uses
//! (`Request::Watch`), so the watch primitive of the node runs in simulation:
//!
//! - `blocking-get NAME AS KEY [wait=DURATION]`: reads KEY on NAME to learn its index, then
//!   starts a blocking read on that index in the background, called AS.
//! - `blocking-health NAME AS SERVICE [wait=DURATION]`: the same for
//!   `health/service/SERVICE?passing` (a catalog read; its index covers the service's
//!   instances, their nodes and their checks, so a status change wakes it, a KV write does not).
//! - `expect-no-wake AS for=DURATION`: AS is still waiting DURATION later.
//! - `expect-wakes AS within=DURATION [value=V] [passing=N]`: AS is answered within DURATION,
//!   with an index past the one it blocked on (a change woke it, not its deadline), and value V
//!   (a key) or N passing instances (a health read) if given.
//! - `expect-deadline AS within=DURATION`: AS is answered within DURATION with the index it
//!   blocked on: nothing it covers changed, and its wait (plus jitter) ended.

use super::parse::parse_duration;
use crate::world::World;
use concord_core::agent::{
    ApiResult, CatalogAnswer, CatalogRead, Consistency, QueryMeta, Request, Response,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::oneshot;

/// Blocking reads running in the background, by name.
#[derive(Default)]
pub struct Watches {
    running: BTreeMap<String, Running>,
}

struct Running {
    /// The index the read blocks on.
    index: u64,
    answer: oneshot::Receiver<ApiResult>,
}

/// Whether `command` is one of the blocking-read commands.
pub fn handles(command: &str) -> bool {
    matches!(
        command,
        "blocking-get" | "blocking-health" | "expect-no-wake" | "expect-wakes" | "expect-deadline"
    )
}

/// Runs one blocking-read command (`words[0]` is the command).
pub async fn run(world: &mut World, watches: &mut Watches, words: &[&str]) -> Result<(), String> {
    match words {
        ["blocking-get", name, watch, key, settings @ ..] => {
            let wait = duration_setting(settings, "wait")?.unwrap_or(Duration::from_secs(300));
            let read = Request::KvGet {
                key: key.to_string(),
                consistency: Consistency::Default,
            };
            start(world, watches, name, watch, read, wait).await
        }
        ["blocking-health", name, watch, service, settings @ ..] => {
            let wait = duration_setting(settings, "wait")?.unwrap_or(Duration::from_secs(300));
            let read = CatalogRead::HealthService {
                name: service.to_string(),
                tags: vec![],
                passing: true,
            };
            let consistency = Consistency::Default;
            let read = Request::Catalog { read, consistency };
            start(world, watches, name, watch, read, wait).await
        }
        ["expect-no-wake", watch, settings @ ..] => {
            let wait = duration_setting(settings, "for")?.ok_or("expect-no-wake needs for=")?;
            expect_no_wake(watches, watch, wait).await
        }
        ["expect-wakes", watch, settings @ ..] => {
            let within =
                duration_setting(settings, "within")?.ok_or("expect-wakes needs within=")?;
            let value = settings.iter().find_map(|s| s.strip_prefix("value="));
            let passing = settings.iter().find_map(|s| s.strip_prefix("passing="));
            expect_wakes(watches, watch, world.deadline(within), value, passing).await
        }
        ["expect-deadline", watch, settings @ ..] => {
            let within =
                duration_setting(settings, "within")?.ok_or("expect-deadline needs within=")?;
            expect_deadline(watches, watch, world.deadline(within)).await
        }
        _ => Err(format!(
            "bad blocking-read command: {} (use blocking-get NAME AS KEY [wait=D], \
             blocking-health NAME AS SERVICE [wait=D], expect-no-wake AS for=D, \
             expect-wakes AS within=D [value=V] [passing=N], expect-deadline AS within=D)",
            words.join(" ")
        )),
    }
}

async fn start(
    world: &mut World,
    watches: &mut Watches,
    name: &str,
    watch: &str,
    read: Request,
    wait: Duration,
) -> Result<(), String> {
    if watches.running.contains_key(watch) {
        return Err(format!("a blocking read called {watch} is already running"));
    }
    let index = match world.request(name, read.clone()).await.map(meta_of) {
        Ok(Some(meta)) => meta.index,
        other => {
            return Err(format!(
                "{} on {name} for its index: {other:?}",
                read.kind()
            ))
        }
    };
    let handle = world.handle(name).ok_or(format!("{name} is down"))?;
    let wait_ms = u64::try_from(wait.as_millis()).map_err(|_| "wait too long")?;
    let request = Request::watch(read, index, wait_ms).expect("key and health reads block");
    let (tx, answer) = oneshot::channel();
    madsim::task::spawn(async move {
        let _ = tx.send(handle.request(request).await);
    });
    watches
        .running
        .insert(watch.to_string(), Running { index, answer });
    Ok(())
}

async fn expect_no_wake(watches: &mut Watches, watch: &str, wait: Duration) -> Result<(), String> {
    let running = watches
        .running
        .get_mut(watch)
        .ok_or(format!("no blocking read called {watch}"))?;
    madsim::time::sleep(wait).await;
    match running.answer.try_recv() {
        Err(oneshot::error::TryRecvError::Empty) => Ok(()),
        Ok(result) => Err(format!(
            "{watch} (blocked on index {}) was answered: {result:?}",
            running.index
        )),
        Err(oneshot::error::TryRecvError::Closed) => Err(format!("{watch} was dropped")),
    }
}

/// The index of a read's answer (`None`: not a read with an index).
fn meta_of(response: Response) -> Option<QueryMeta> {
    match response {
        Response::Kv { meta, .. } | Response::Catalog { meta, .. } => Some(meta),
        _ => None,
    }
}

/// The answer of `watch` within `within`, its index, and the index it blocked on.
async fn answer(
    watches: &mut Watches,
    watch: &str,
    within: Duration,
) -> Result<(Response, QueryMeta, u64), String> {
    let Running { index, answer } = watches
        .running
        .remove(watch)
        .ok_or(format!("no blocking read called {watch}"))?;
    let result = madsim::time::timeout(within, answer)
        .await
        .map_err(|_| format!("{watch} (blocked on index {index}) still waits after {within:?}"))?
        .map_err(|_| format!("{watch} was dropped"))?;
    match result.map(|r| (meta_of(r.clone()), r)) {
        Ok((Some(meta), response)) => Ok((response, meta, index)),
        other => Err(format!("{watch} was answered {other:?}")),
    }
}

async fn expect_deadline(
    watches: &mut Watches,
    watch: &str,
    within: Duration,
) -> Result<(), String> {
    let (_, meta, index) = answer(watches, watch, within).await?;
    if meta.index != index {
        return Err(format!(
            "{watch} was answered with index {} at its deadline (blocked on {index})",
            meta.index
        ));
    }
    Ok(())
}

async fn expect_wakes(
    watches: &mut Watches,
    watch: &str,
    within: Duration,
    value: Option<&str>,
    passing: Option<&str>,
) -> Result<(), String> {
    let (response, meta, index) = answer(watches, watch, within).await?;
    if meta.index <= index {
        return Err(format!(
            "{watch} was answered with index {} (blocked on {index}): its deadline, not a change",
            meta.index
        ));
    }
    expect_answer(watch, &response, value, passing)
}

/// The woken answer holds `value` (a key read) or `passing` instances (a health read).
fn expect_answer(
    watch: &str,
    response: &Response,
    value: Option<&str>,
    passing: Option<&str>,
) -> Result<(), String> {
    let got = match response {
        Response::Kv { entries, .. } => entries
            .first()
            .map(|e| String::from_utf8_lossy(&e.value).to_string()),
        Response::Catalog {
            answer: CatalogAnswer::Entries(entries),
            ..
        } => Some(entries.len().to_string()),
        _ => None,
    };
    let (what, want) = match (value, passing) {
        (Some(v), _) => ("value", v),
        (None, Some(n)) => ("passing instances", n),
        (None, None) => return Ok(()),
    };
    if got.as_deref() == Some(want) {
        return Ok(());
    }
    Err(format!("{watch}: expected {what} {want}, got {got:?}"))
}

/// The duration in `key=D` among `settings`, if given.
fn duration_setting(settings: &[&str], key: &str) -> Result<Option<Duration>, String> {
    let prefix = format!("{key}=");
    settings
        .iter()
        .find_map(|s| s.strip_prefix(prefix.as_str()))
        .map(parse_duration)
        .transpose()
}
