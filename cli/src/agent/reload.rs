//! Reloading the configuration (`concord reload`, `PUT /v1/agent/reload`, SIGHUP): the
//! agent's words are planned again by the configuration library, so the files and
//! directories it was started with are read again, and what Consul reloads is applied:
//! services and checks of the files (new and changed registered, removed ones deregistered,
//! those registered over the HTTP API kept) and the log level. A bad file is refused with its
//! file, key and reason, and nothing is applied; the agent keeps running as it was. Other
//! settings wait for a restart, as most of Consul's do.

use super::logging;
use concord_config::layer::ConfigLayer;
use concord_config::plan::{AgentPlan, HostFacts};
use concord_config::{AgentError, Level};
use concord_core::agent::{LocalRequest, Request};
use concord_node::http::reload::{ReloadHook, ReloadOutcome, ReloadRequest};
use concord_node::NodeHandle;
use tokio::sync::mpsc;

/// What the agent was started from: planning it again reads the same files.
#[derive(Clone, Debug)]
pub struct ConfigSource {
    pub words: Vec<String>,
    pub host: HostFacts,
}

impl ConfigSource {
    /// The plan as the files say now, or what to fix (file, key and reason).
    pub fn plan(&self) -> Result<AgentPlan, String> {
        match concord_config::plan_agent(&self.words, ConfigLayer::default(), &self.host) {
            Ok(planned) => Ok(planned.plan),
            Err(AgentError::Config { why, .. }) => Err(why),
            Err(AgentError::Usage(error)) => Err(error.to_string().trim().to_string()),
        }
    }
}

/// Starts the task that serves reloads for `handle`; the hook the HTTP API (and SIGHUP)
/// ask it through. The task ends when the node stops.
pub fn start(handle: &NodeHandle, source: ConfigSource, log_level: Level) -> ReloadHook {
    let (hook, queue) = ReloadHook::new();
    let reloader = Reloader {
        source,
        log_level,
        handle: handle.clone(),
    };
    tokio::spawn(reloader.serve(queue));
    hook
}

struct Reloader {
    source: ConfigSource,
    /// The level the agent's output runs at now.
    log_level: Level,
    handle: NodeHandle,
}

impl Reloader {
    /// One reload at a time, in the order asked.
    async fn serve(mut self, mut queue: mpsc::Receiver<ReloadRequest>) {
        loop {
            let reply = tokio::select! {
                reply = queue.recv() => reply,
                _ = self.handle.stopped() => None,
            };
            let Some(reply) = reply else { return };
            let outcome = self.reload().await;
            if let Err(why) = &outcome {
                tracing::error!("agent: configuration not reloaded: {why}");
            }
            let _ = reply.send(outcome);
        }
    }

    async fn reload(&mut self) -> ReloadOutcome {
        tracing::info!("agent: reloading configuration...");
        let plan = self.source.plan()?;
        let definitions = plan.node.services.clone();
        let count = definitions.len();
        let request = Request::Local(LocalRequest::ReloadConfig { definitions });
        if let Err(e) = self.handle.request(request).await {
            return Err(format!("Failed reloading services and checks: {e}"));
        }
        let level = self.apply_log_level(plan.log_level)?;
        tracing::info!(
            "agent: configuration reloaded: {count} service and check definitions from the \
             config files, log level {level}; other settings take effect on restart"
        );
        Ok(())
    }

    /// The new level, or a note that `RUST_LOG` keeps deciding it.
    fn apply_log_level(&mut self, level: Level) -> Result<String, String> {
        if level == self.log_level {
            return Ok(level.directive().to_string());
        }
        match logging::set_level(level) {
            Ok(true) => {
                self.log_level = level;
                Ok(level.directive().to_string())
            }
            Ok(false) => Ok("unchanged (RUST_LOG is set)".to_string()),
            Err(why) => Err(format!("Failed to set the log level: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_config::testutil::TempDir;

    fn source(dir: &TempDir) -> ConfigSource {
        let words = ["-dev", "-config-dir", dir.0.to_str().unwrap()];
        ConfigSource {
            words: words.iter().map(|w| w.to_string()).collect(),
            host: HostFacts {
                hostname: "h".into(),
                interfaces: Vec::new(),
                seed: 1,
                quick_timings: false,
            },
        }
    }

    #[test]
    fn planning_again_reads_the_files_as_they_are_now() {
        let dir = TempDir::new("reload-plan");
        let source = source(&dir);
        assert!(source.plan().unwrap().node.services.is_empty());
        dir.write("web.json", r#"{"service": {"name": "web", "port": 80}}"#);
        dir.write("level.hcl", r#"log_level = "debug""#);
        let plan = source.plan().unwrap();
        assert_eq!(plan.node.services.len(), 1);
        assert_eq!(plan.log_level, Level::Debug);
    }

    #[test]
    fn a_bad_file_is_named_with_its_key() {
        let dir = TempDir::new("reload-bad");
        let source = source(&dir);
        dir.write(
            "bad.json",
            r#"{"service": {"name": "web", "port": "eighty"}}"#,
        );
        let why = source.plan().unwrap_err();
        assert!(why.contains("bad.json"), "{why}");
        assert!(why.contains("service"), "{why}");
    }
}
