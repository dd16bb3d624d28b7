//! `concord maint -enable|-disable [-service=ID] [-reason=TEXT]`: maintenance mode of the
//! local agent's node or one of its services; without flags, what is in maintenance now.

use super::{fail, HttpArgs};
use crate::http_client::Client;
use clap::Args;
use concord_node::api_types::catalog::HealthCheck;
use std::collections::BTreeMap;

#[derive(Args, Clone, Debug)]
pub struct MaintArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Enable maintenance mode.
    #[arg(long)]
    pub enable: bool,
    /// Disable maintenance mode.
    #[arg(long)]
    pub disable: bool,
    /// The service to put in (or take out of) maintenance; the whole node without it.
    #[arg(long, value_name = "ID")]
    pub service: Option<String>,
    /// Why, shown as the maintenance check's Notes.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn run(args: &MaintArgs) -> i32 {
    if args.enable && args.disable {
        return fail("Only one of -enable or -disable may be provided");
    }
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let result = match args.enable || args.disable {
        true => toggle(&client, args),
        false => list(&client),
    };
    result.unwrap_or_else(fail)
}

fn toggle(client: &Client, args: &MaintArgs) -> Result<i32, String> {
    let enable = if args.enable { "true" } else { "false" };
    let reason = args.reason.as_deref().unwrap_or("");
    let query = [("enable", enable), ("reason", reason)];
    let state = if args.enable { "enabled" } else { "disabled" };
    let (path, done) = match &args.service {
        Some(id) => (
            format!("/v1/agent/service/maintenance/{}", id),
            format!("Service maintenance is now {state} for {id:?}"),
        ),
        None => (
            "/v1/agent/maintenance".to_string(),
            format!("Node maintenance is now {state}"),
        ),
    };
    client
        .put(&path, &query, &[])
        .and_then(|r| r.success())
        .map_err(|e| format!("Error toggling maintenance mode: {e}"))?;
    println!("{done}");
    Ok(0)
}

/// Consul's listing: the node's maintenance, then each service's, with the reason.
fn list(client: &Client) -> Result<i32, String> {
    let reply = client
        .get("/v1/agent/checks", &[])
        .and_then(|r| r.success())
        .map_err(|e| format!("Error getting checks: {e}"))?;
    let checks: BTreeMap<String, HealthCheck> = reply
        .json()
        .map_err(|e| format!("Error getting checks: {e}"))?;
    for check in checks.values() {
        if check.check_id == "_node_maintenance" {
            println!("Node:\n  Name:   {}\n  Reason: {}", check.node, check.notes);
        } else if let Some(id) = check.check_id.strip_prefix("_service_maintenance:") {
            println!("Service:\n  ID:     {id}\n  Reason: {}", check.notes);
        }
    }
    Ok(0)
}
