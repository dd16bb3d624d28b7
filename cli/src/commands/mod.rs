//! The commands that talk to a running agent over its HTTP API, and the offline helpers
//! (`version`, `keygen`, `validate`).

pub mod autopilot;
pub mod blocking;
pub mod catalog;
pub mod info;
pub mod join;
pub mod keygen;
pub mod kv;
pub mod leave;
pub mod lock;
pub mod maint;
pub mod members;
pub mod monitor;
pub mod operator;
mod pattern;
pub mod reload;
pub mod services;
pub mod signals;
pub mod snapshot;
pub mod subprocess;
pub mod validate;
pub mod version;
pub mod watch;

use crate::http_client::{Client, Reply, Target};
use clap::Args;

/// Where the agent is: Consul's client flags, shared by every command that calls the API.
#[derive(Args, Clone, Debug, Default)]
pub struct HttpArgs {
    /// The agent's HTTP API address (default: $CONCORD_HTTP_ADDR, $CONSUL_HTTP_ADDR, 127.0.0.1:8500).
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// Old Consul's RPC address (IP:8400): that host's HTTP API is used instead.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub rpc_addr: Option<String>,
    /// ACL token sent with each request (default: $CONCORD_HTTP_TOKEN, $CONSUL_HTTP_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

impl HttpArgs {
    /// A client for the agent, or the error to print.
    pub fn client(&self) -> Result<Client, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut target = Target::resolve(self.http_addr.as_deref(), self.rpc_addr.as_deref(), &env)
            .map_err(|why| format!("Error connecting to Concord agent: {why}"))?;
        if self.token.is_some() {
            target.token = self.token.clone();
        }
        Ok(Client::new(target))
    }

    /// A client whose agent answered `/v1/agent/self`: commands that wait on the agent for a
    /// long time (`lock`, `watch`) first check it is there, as Consul's do.
    pub fn connected_client(&self) -> Result<Client, String> {
        let client = self.client()?;
        let answered = client.get("/v1/agent/self", &[]).and_then(Reply::success);
        answered.map_err(|e| format!("Error querying Concord agent: {e}"))?;
        Ok(client)
    }
}

/// Prints `message` to stderr; the failing exit code.
pub fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("{message}");
    1
}

/// Strips one leading `/`: KV keys cannot start with it, but users type `/foo` (as Consul does).
pub fn clean_key(key: &str) -> String {
    key.strip_prefix('/').unwrap_or(key).to_string()
}
