//! `concord leave` (this agent leaves gracefully and stops) and `concord force-leave NODE`.

use super::{fail, HttpArgs};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct LeaveArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Args, Clone, Debug)]
pub struct ForceLeaveArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Forget the node at once instead of keeping it as `left` for a while.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub prune: Option<bool>,
    /// The node to mark as left.
    #[arg(value_name = "NODE")]
    pub node: Option<String>,
}

pub fn run_leave(args: &LeaveArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    // The agent answers once the leave is complete (it has told the others and, if a server,
    // left the Raft voters).
    match client
        .put("/v1/agent/leave", &[], &[])
        .and_then(|r| r.success())
    {
        Ok(_) => {
            println!("Graceful leave complete");
            0
        }
        Err(e) => fail(format!("Error leaving: {e}")),
    }
}

pub fn run_force_leave(args: &ForceLeaveArgs) -> i32 {
    let Some(node) = args.node.as_deref().filter(|n| !n.is_empty()) else {
        return fail("A node name must be specified to force leave.");
    };
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let query: &[(&str, &str)] = if args.prune.unwrap_or(false) {
        &[("prune", "1")]
    } else {
        &[]
    };
    let path = format!("/v1/agent/force-leave/{node}");
    match client.put(&path, query, &[]).and_then(|r| r.success()) {
        Ok(_) => 0,
        Err(e) => fail(format!("Error force leaving: {e}")),
    }
}
