//! Check runners: the I/O the core leaves out. The supervisor asks the agent which checks
//! must run (`LocalRequest::CheckSpecs`), keeps one task per check (restarted when its
//! definition changes, stopped when it goes), and each task runs its check every `interval`
//! within `timeout` and reports `LocalRequest::CheckResult`. TTL checks need no runner.
//! Not in the simulator's build: it has no real network or processes.

mod http;
mod script;
mod tcp;

use crate::handle::NodeHandle;
use concord_core::agent::local::{CheckKind, CheckSpec};
use concord_core::agent::{LocalAnswer, LocalRequest, Request, Response};
use concord_core::catalog::CheckStatus;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the supervisor looks for added, changed or removed checks.
pub const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);
/// A check runs at most this often, whatever its interval says (Consul's minimum is 1s).
pub const CHECK_INTERVAL_MS_MIN: u64 = 1_000;
/// Bytes of a response body or a script's output read; more is not read (the core caps the
/// output it keeps at 4 KiB anyway).
pub const OUTPUT_READ_BYTES_MAX: usize = 8 * 1024;

/// Runs the agent's HTTP, TCP and script checks until the node stops.
pub async fn supervise(handle: NodeHandle) {
    let mut running: BTreeMap<String, (CheckSpec, JoinHandle<()>)> = BTreeMap::new();
    while handle.is_running() {
        if let Some(specs) = specs(&handle).await {
            let wanted: BTreeMap<String, CheckSpec> =
                specs.into_iter().map(|s| (s.check_id.clone(), s)).collect();
            running.retain(|id, (spec, task)| {
                let keep = wanted.get(id) == Some(spec);
                if !keep {
                    task.abort();
                }
                keep
            });
            for (id, spec) in wanted {
                if let std::collections::btree_map::Entry::Vacant(slot) = running.entry(id) {
                    let task = tokio::spawn(run_check(handle.clone(), spec.clone()));
                    slot.insert((spec, task));
                }
            }
        }
        tokio::time::sleep(SUPERVISE_INTERVAL).await;
    }
    running.values().for_each(|(_, task)| task.abort());
}

async fn specs(handle: &NodeHandle) -> Option<Vec<CheckSpec>> {
    match handle
        .request(Request::Local(LocalRequest::CheckSpecs))
        .await
    {
        Ok(Response::Local {
            answer: LocalAnswer::Specs(specs),
        }) => Some(specs),
        _ => None,
    }
}

/// One check, every interval: the first run at once, as Consul's runners start.
async fn run_check(handle: NodeHandle, spec: CheckSpec) {
    let interval_ms = spec.interval_ms.max(CHECK_INTERVAL_MS_MIN);
    let timeout = Duration::from_millis(spec.timeout_ms.max(1));
    loop {
        let (status, output) = match &spec.kind {
            CheckKind::Http { .. } => http::run(&spec.kind, timeout).await,
            CheckKind::Tcp { addr } => tcp::run(addr, timeout).await,
            CheckKind::Script { args } => script::run(args, timeout).await,
            CheckKind::Ttl { .. } | CheckKind::Manual => return,
        };
        let id = spec.check_id.clone();
        let result = LocalRequest::CheckResult { id, status, output };
        if handle.request(Request::Local(result)).await.is_err() && !handle.is_running() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
    }
}

/// A status from an outcome: what Consul reports for each.
fn critical(output: String) -> (CheckStatus, String) {
    (CheckStatus::Critical, output)
}
