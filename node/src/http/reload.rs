//! `PUT /v1/agent/reload`: the agent reads its config files again and applies what Consul
//! reloads (services and checks of the files, the log level). The reading and applying is
//! the agent binary's (it knows the files and the logging); this route asks it through a
//! `ReloadHook` and waits for the outcome. A bad file answers 500 with the file, key and
//! reason, and nothing is applied (Consul's behaviour).

use super::errors::HttpError;
use crate::handle::NodeHandle;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use tokio::sync::{mpsc, oneshot};

/// Reloads waiting for the agent at once; one more is told to try again.
pub const RELOADS_QUEUED_MAX: usize = 4;

/// The outcome of one reload: `Err` carries what the user must fix.
pub type ReloadOutcome = Result<(), String>;

/// One reload asked of the agent, with where to send its outcome.
pub type ReloadRequest = oneshot::Sender<ReloadOutcome>;

/// How the HTTP API (and SIGHUP) asks the agent for a reload.
#[derive(Clone, Debug)]
pub struct ReloadHook {
    requests: mpsc::Sender<ReloadRequest>,
}

impl ReloadHook {
    /// The hook, and the queue of requests the agent's reload task serves.
    pub fn new() -> (ReloadHook, mpsc::Receiver<ReloadRequest>) {
        let (requests, queue) = mpsc::channel(RELOADS_QUEUED_MAX);
        (ReloadHook { requests }, queue)
    }

    /// Asks for a reload and waits for its outcome.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadRefused> {
        let (reply, outcome) = oneshot::channel();
        self.requests.try_send(reply).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ReloadRefused::Busy,
            mpsc::error::TrySendError::Closed(_) => ReloadRefused::Stopped,
        })?;
        outcome.await.map_err(|_| ReloadRefused::Stopped)
    }
}

/// Why a reload was not even tried.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadRefused {
    Busy,
    Stopped,
}

pub fn routes(hook: Option<ReloadHook>) -> Router<NodeHandle> {
    let reload = move |State(handle): State<NodeHandle>| {
        let hook = hook.clone();
        async move { reload(handle, hook).await }
    };
    Router::new().route("/v1/agent/reload", put(reload))
}

async fn reload(handle: NodeHandle, hook: Option<ReloadHook>) -> Response {
    let Some(hook) = hook else {
        // A node served without the agent binary (tests) has no files to read again.
        tracing::warn!(
            node = %handle.info().node_name,
            "agent: configuration reload requested, but this node has no config files to \
             reload: nothing changed"
        );
        return ().into_response();
    };
    match hook.reload().await {
        Ok(Ok(())) => ().into_response(),
        Ok(Err(why)) => HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, why).into_response(),
        Err(ReloadRefused::Busy) => HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{RELOADS_QUEUED_MAX} reloads are queued already; try again"),
        )
        .into_response(),
        Err(ReloadRefused::Stopped) => HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "agent is shutting down: configuration not reloaded",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_agents_outcome_comes_back_and_a_full_queue_is_refused() {
        let (hook, mut queue) = ReloadHook::new();
        let asking = tokio::spawn({
            let hook = hook.clone();
            async move { hook.reload().await }
        });
        let reply = queue.recv().await.unwrap();
        reply.send(Err("a.json: bad key".into())).unwrap();
        assert_eq!(asking.await.unwrap(), Ok(Err("a.json: bad key".into())));
        let waiting: Vec<_> = (0..RELOADS_QUEUED_MAX)
            .map(|_| {
                let hook = hook.clone();
                tokio::spawn(async move { hook.reload().await })
            })
            .collect();
        while queue.len() < RELOADS_QUEUED_MAX {
            tokio::task::yield_now().await;
        }
        assert_eq!(hook.reload().await, Err(ReloadRefused::Busy));
        drop(queue);
        for waiting in waiting {
            assert_eq!(waiting.await.unwrap(), Err(ReloadRefused::Stopped));
        }
    }
}
