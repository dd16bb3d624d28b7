//! `concord operator raft list-peers | remove-peer | transfer-leader`, and `operator
//! autopilot ...` (in `autopilot.rs`).

use super::{fail, HttpArgs};
use crate::http_client::{Client, HttpError};
use crate::row;
use crate::table::columnize;
use clap::{Args, Subcommand};
use concord_node::api_types::{
    RaftConfiguration, RaftServer, TransferLeaderReply, RAFT_PROTOCOL_VERSION,
};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Subcommand, Clone, Debug)]
pub enum OperatorCommand {
    /// Cluster-level tools for the Raft subsystem.
    #[command(subcommand)]
    Raft(RaftCommand),
    /// Cluster-level tools for Autopilot.
    #[command(subcommand)]
    Autopilot(super::autopilot::AutopilotCommand),
}

#[derive(Subcommand, Clone, Debug)]
pub enum RaftCommand {
    /// Display the current Raft peer configuration.
    ListPeers(ListPeersArgs),
    /// Remove a server from the Raft configuration.
    RemovePeer(RemovePeerArgs),
    /// Transfer Raft leadership to another server.
    TransferLeader(TransferLeaderArgs),
}

#[derive(Args, Clone, Debug)]
pub struct ListPeersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Read from any server, even without a leader.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub stale: Option<bool>,
}

#[derive(Args, Clone, Debug)]
pub struct RemovePeerArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The server's Raft address (ip:port).
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// The server's Raft ID.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct TransferLeaderArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The server to hand leadership to (default: the most up-to-date voter).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

pub fn run(command: &OperatorCommand) -> i32 {
    let raft = match command {
        OperatorCommand::Raft(raft) => raft,
        OperatorCommand::Autopilot(autopilot) => return super::autopilot::run(autopilot),
    };
    match raft {
        RaftCommand::ListPeers(args) => list_peers(args),
        RaftCommand::RemovePeer(args) => remove_peer(args),
        RaftCommand::TransferLeader(args) => transfer_leader(args),
    }
}

/// `/v1/operator/autopilot/health`, the part list-peers reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Health {
    #[serde(default)]
    servers: Vec<ServerHealth>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServerHealth {
    #[serde(rename = "ID")]
    id: String,
    last_index: u64,
}

fn list_peers(args: &ListPeersArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let query: &[(&str, &str)] = if args.stale.unwrap_or(false) {
        &[("stale", "")]
    } else {
        &[]
    };
    let reply = client
        .get("/v1/operator/raft/configuration", query)
        .and_then(|r| r.success());
    let configuration: RaftConfiguration = match reply.and_then(|r| r.json()) {
        Ok(configuration) => configuration,
        Err(e) => {
            return fail(format!(
                "Error getting peers: Failed to retrieve raft configuration: {e}"
            ))
        }
    };
    let last_index = last_indexes(&client, query);
    println!(
        "{}",
        columnize(&peer_rows(&configuration.servers, &last_index))
    );
    0
}

/// Each server's last log index from the autopilot health endpoint, when the agent has it;
/// without it the index columns show `_`, as Consul does for servers it has no health for.
fn last_indexes(client: &Client, query: &[(&str, &str)]) -> BTreeMap<String, u64> {
    // 429 is the same answer while some server is unhealthy: its numbers are wanted most then.
    let reply = client
        .get("/v1/operator/autopilot/health", query)
        .and_then(|r| if r.status == 429 { Ok(r) } else { r.success() });
    match reply.and_then(|r| r.json::<Health>()) {
        Ok(health) => health
            .servers
            .into_iter()
            .map(|s| (s.id, s.last_index))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// Consul's list-peers table.
pub fn peer_rows(servers: &[RaftServer], last_index: &BTreeMap<String, u64>) -> Vec<Vec<String>> {
    let leader_index = servers
        .iter()
        .find(|s| s.leader)
        .and_then(|s| last_index.get(&s.id).copied())
        .unwrap_or(0);
    let mut rows = vec![row![
        "Node",
        "ID",
        "Address",
        "State",
        "Voter",
        "RaftProtocol",
        "Commit Index",
        "Trails Leader By"
    ]];
    for s in servers {
        let state = if s.leader { "leader" } else { "follower" };
        let protocol = if s.protocol_version.is_empty() {
            RAFT_PROTOCOL_VERSION
        } else {
            s.protocol_version.as_str()
        };
        let mut row = row![s.node, s.id, s.address, state, s.voter, protocol];
        match last_index.get(&s.id) {
            Some(&index) => {
                row.push(index.to_string());
                row.push(trails_by(s.leader, leader_index.saturating_sub(index)));
            }
            None => row.push("_".to_string()),
        }
        rows.push(row);
    }
    rows
}

fn trails_by(leader: bool, behind: u64) -> String {
    match (leader, behind) {
        (true, _) => "_".to_string(),
        (false, 0 | 1) => format!("{behind} Commit"),
        (false, n) => format!("{n} Commits"),
    }
}

fn remove_peer(args: &RemovePeerArgs) -> i32 {
    let (name, value) = match (args.address.as_deref(), args.id.as_deref()) {
        (Some(_), Some(_)) => {
            return fail("Error removing peer: Must specify only one of -id or -address")
        }
        (Some(address), None) => ("address", address),
        (None, Some(id)) => ("id", id),
        (None, None) => return fail("Error removing peer: Must specify either -id or -address"),
    };
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    match client
        .delete("/v1/operator/raft/peer", &[(name, value)])
        .and_then(|r| r.success())
    {
        Ok(_) => {
            println!("Removed peer with {name} \"{value}\"");
            0
        }
        Err(e) => fail(format!("Error removing peer: {e}")),
    }
}

fn transfer_leader(args: &TransferLeaderArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let query: Vec<(&str, &str)> = args
        .id
        .as_deref()
        .map(|id| ("id", id))
        .into_iter()
        .collect();
    let reply = client
        .post("/v1/operator/raft/transfer-leader", &query)
        .and_then(|r| r.success());
    match reply.and_then(|r| r.json::<TransferLeaderReply>()) {
        Ok(TransferLeaderReply { success: true }) => {
            println!("Success");
            0
        }
        Ok(_) => fail("Error transferring leadership: Failed to transfer leadership"),
        Err(e) => fail(transfer_error(&e)),
    }
}

fn transfer_error(e: &HttpError) -> String {
    format!("Error transferring leadership: Failed to transfer leadership {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, leader: bool) -> RaftServer {
        RaftServer {
            id: name.into(),
            node: name.into(),
            address: format!("{name}:8300"),
            leader,
            voter: true,
            protocol_version: RAFT_PROTOCOL_VERSION.into(),
        }
    }

    #[test]
    fn table_without_health_data() {
        let servers = [
            server("192.168.1.235", true),
            server("192.168.1.185", false),
        ];
        let expected = "\
Node           ID             Address             State     Voter  RaftProtocol  Commit Index  Trails Leader By
192.168.1.235  192.168.1.235  192.168.1.235:8300  leader    true   3             _
192.168.1.185  192.168.1.185  192.168.1.185:8300  follower  true   3             _";
        assert_eq!(columnize(&peer_rows(&servers, &BTreeMap::new())), expected);
    }

    #[test]
    fn table_with_commit_indexes() {
        let servers = [server("a", true), server("b", false), server("c", false)];
        let health = BTreeMap::from([
            ("a".to_string(), 1167),
            ("b".to_string(), 1167),
            ("c".to_string(), 1159),
        ]);
        let expected = "\
Node  ID  Address  State     Voter  RaftProtocol  Commit Index  Trails Leader By
a     a   a:8300   leader    true   3             1167          _
b     b   b:8300   follower  true   3             1167          0 Commit
c     c   c:8300   follower  true   3             1159          8 Commits";
        assert_eq!(columnize(&peer_rows(&servers, &health)), expected);
    }

    #[test]
    fn api_json_is_read() {
        let json = r#"{"Servers":[{"ID":"s1","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true}],"Index":12}"#;
        let configuration: RaftConfiguration = serde_json::from_str(json).unwrap();
        assert_eq!(configuration.servers[0].address, "10.0.0.1:8300");
    }
}
