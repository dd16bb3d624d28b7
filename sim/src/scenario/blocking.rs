//! Blocking reads in scenarios, through the same typed API the HTTP layer uses
//! (`Request::Watch`), so the watch primitive of the node runs in simulation:
//!
//! - `blocking-get NAME AS KEY [wait=DURATION]`: reads KEY on NAME to learn its index, then
//!   starts a blocking read on that index in the background, called AS.
//! - `expect-no-wake AS for=DURATION`: AS is still waiting DURATION later.
//! - `expect-wakes AS within=DURATION [value=V]`: AS is answered within DURATION, with an index
//!   past the one it blocked on (a change woke it, not its deadline), and value V if given.
//! - `expect-deadline AS within=DURATION`: AS is answered within DURATION with the index it
//!   blocked on: nothing it covers changed, and its wait (plus jitter) ended.

use super::parse::parse_duration;
use crate::world::World;
use concord_core::agent::{ApiResult, Consistency, QueryMeta, Request, Response};
use concord_core::kv::KvEntry;
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
        "blocking-get" | "expect-no-wake" | "expect-wakes" | "expect-deadline"
    )
}

/// Runs one blocking-read command (`words[0]` is the command).
pub async fn run(world: &mut World, watches: &mut Watches, words: &[&str]) -> Result<(), String> {
    match words {
        ["blocking-get", name, watch, key, settings @ ..] => {
            let wait = duration_setting(settings, "wait")?.unwrap_or(Duration::from_secs(300));
            start(world, watches, name, watch, key, wait).await
        }
        ["expect-no-wake", watch, settings @ ..] => {
            let wait = duration_setting(settings, "for")?.ok_or("expect-no-wake needs for=")?;
            expect_no_wake(watches, watch, wait).await
        }
        ["expect-wakes", watch, settings @ ..] => {
            let within =
                duration_setting(settings, "within")?.ok_or("expect-wakes needs within=")?;
            let value = settings.iter().find_map(|s| s.strip_prefix("value="));
            expect_wakes(watches, watch, within, value).await
        }
        ["expect-deadline", watch, settings @ ..] => {
            let within =
                duration_setting(settings, "within")?.ok_or("expect-deadline needs within=")?;
            expect_deadline(watches, watch, within).await
        }
        _ => Err(format!(
            "bad blocking-read command: {} (use blocking-get NAME AS KEY [wait=D], \
             expect-no-wake AS for=D, expect-wakes AS within=D [value=V], \
             expect-deadline AS within=D)",
            words.join(" ")
        )),
    }
}

async fn start(
    world: &mut World,
    watches: &mut Watches,
    name: &str,
    watch: &str,
    key: &str,
    wait: Duration,
) -> Result<(), String> {
    if watches.running.contains_key(watch) {
        return Err(format!("a blocking read called {watch} is already running"));
    }
    let read = Request::KvGet {
        key: key.into(),
        consistency: Consistency::Default,
    };
    let index = match world.request(name, read.clone()).await {
        Ok(Response::Kv { meta, .. }) => meta.index,
        other => return Err(format!("reading {key} on {name} for its index: {other:?}")),
    };
    let handle = world.handle(name).ok_or(format!("{name} is down"))?;
    let wait_ms = u64::try_from(wait.as_millis()).map_err(|_| "wait too long")?;
    let request = Request::watch(read, index, wait_ms).expect("a key read blocks");
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

/// The answer of `watch` within `within`, and the index it blocked on.
async fn answer(
    watches: &mut Watches,
    watch: &str,
    within: Duration,
) -> Result<(Vec<KvEntry>, QueryMeta, u64), String> {
    let Running { index, answer } = watches
        .running
        .remove(watch)
        .ok_or(format!("no blocking read called {watch}"))?;
    let result = madsim::time::timeout(within, answer)
        .await
        .map_err(|_| format!("{watch} (blocked on index {index}) still waits after {within:?}"))?
        .map_err(|_| format!("{watch} was dropped"))?;
    match result {
        Ok(Response::Kv { entries, meta }) => Ok((entries, meta, index)),
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
) -> Result<(), String> {
    let (entries, meta, index) = answer(watches, watch, within).await?;
    if meta.index <= index {
        return Err(format!(
            "{watch} was answered with index {} (blocked on {index}): its deadline, not a change",
            meta.index
        ));
    }
    let got = entries
        .first()
        .map(|e| String::from_utf8_lossy(&e.value).to_string());
    match value {
        Some(v) if got.as_deref() != Some(v) => {
            Err(format!("{watch}: expected value {v}, got {got:?}"))
        }
        _ => Ok(()),
    }
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
