//! An agent's own services in scenarios, sent as the HTTP API sends them (`services.rs`), so
//! anti-entropy carries them to the catalog as on a real agent:
//!
//! - `service-register NODE NAME [id=ID] [port=N] [ttl=DURATION]`: registers service NAME
//!   (id ID, else NAME) on NODE's agent; with `ttl=`, one TTL check `service:ID`, critical
//!   until its first update (Consul's default).
//! - `service-deregister NODE ID`: removes the service and its checks from NODE's agent.
//! - `check-pass NODE CHECK_ID`, `check-warn ...`, `check-fail ...`: a TTL update (it also
//!   restarts the TTL).
//!
//! Each fails the line if the agent refuses it (an unknown check, a down node), naming both.

use super::parse::parse_duration;
use crate::services;
use crate::world::World;
use concord_core::catalog::CheckStatus;

/// Whether `command` is one of the agent-service commands.
pub fn handles(command: &str) -> bool {
    matches!(
        command,
        "service-register" | "service-deregister" | "check-pass" | "check-warn" | "check-fail"
    )
}

/// Runs one agent-service command (`words[0]` is the command).
pub async fn run(world: &mut World, words: &[&str]) -> Result<(), String> {
    let (node, request) = match words {
        ["service-register", node, name, settings @ ..] => {
            (*node, register_request(name, settings)?)
        }
        ["service-deregister", node, id] => (*node, services::deregister(id)),
        [command, node, check_id] if command.starts_with("check-") => {
            (*node, services::ttl_update(check_id, status_of(command)?))
        }
        _ => {
            return Err(format!(
                "bad service command: {} (use service-register NODE NAME [id=ID] [port=N] \
                 [ttl=D], service-deregister NODE ID, check-pass|check-warn|check-fail NODE \
                 CHECK_ID)",
                words.join(" ")
            ))
        }
    };
    match world.request(node, request).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{} on {node} refused: {e}", words[0])),
    }
}

/// The registration a `service-register` line asks for.
fn register_request(name: &str, settings: &[&str]) -> Result<concord_core::agent::Request, String> {
    let value = |key: &str| {
        let prefix = format!("{key}=");
        settings
            .iter()
            .find_map(|s| s.strip_prefix(prefix.as_str()))
    };
    let port = match value("port") {
        Some(p) => p.parse::<u16>().map_err(|_| format!("bad port={p}"))?,
        None => 0,
    };
    let ttl_ms = match value("ttl") {
        Some(d) => Some(parse_duration(d)?.as_millis() as u64),
        None => None,
    };
    if ttl_ms == Some(0) {
        return Err("ttl= must be positive".into());
    }
    let id = value("id").unwrap_or(name);
    Ok(services::register(name, id, port, ttl_ms))
}

fn status_of(command: &str) -> Result<CheckStatus, String> {
    match command {
        "check-pass" => Ok(CheckStatus::Passing),
        "check-warn" => Ok(CheckStatus::Warning),
        "check-fail" => Ok(CheckStatus::Critical),
        other => Err(format!("unknown command {other}")),
    }
}
