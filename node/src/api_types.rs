//! Consul's HTTP API JSON shapes that both sides of Concord speak: the node's HTTP server
//! writes them and the CLI's client reads them. Field names are Consul's, exactly (PascalCase,
//! `ID`); a field Consul may leave out reads as its default, as Go's decoder does. Serde only:
//! this module builds without the HTTP stack (and under madsim).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The agent's own services and checks: definitions in, answers out (`api_types/agent.rs`).
pub mod agent;
/// The catalog's and health's answers (`api_types/catalog.rs`).
pub mod catalog;
/// A session as the session endpoints answer it (`api_types/session.rs`).
pub mod session;
/// The answer of a transaction (`api_types/txn.rs`).
pub mod txn;

/// One entry of `GET /v1/kv/...`: Consul's `api.KVPair` (`DirEntry` on the server), in its
/// field order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KvPair {
    pub lock_index: u64,
    pub key: String,
    pub flags: u64,
    /// Base64. An empty value is `null`: Consul stores an empty PUT body as a nil slice, which
    /// Go encodes as null, and clients (py-consul, the Go api) expect exactly that.
    pub value: Option<String>,
    /// Only when a lock is held (Go's `omitempty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// One gossip member of `GET /v1/agent/members` (and `Member` of `/v1/agent/self`): Consul's
/// `api.AgentMember`, in its field order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    pub name: String,
    /// The gossip IP, without port or IPv6 brackets.
    pub addr: String,
    /// The gossip port.
    pub port: u16,
    /// Serf tags (`role` is "consul" for servers, "node" for clients); sorted so output is
    /// stable.
    pub tags: BTreeMap<String, String>,
    /// See `member_status_name`.
    pub status: u8,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

impl AgentMember {
    /// A tag's value, `""` when absent.
    pub fn tag(&self, name: &str) -> &str {
        self.tags.get(name).map(String::as_str).unwrap_or("")
    }
}

/// `GET /v1/agent/self`: the parts of Consul's answer that Concord has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentSelf {
    pub config: AgentSelfConfig,
    pub member: AgentMember,
    /// Node metadata (none yet); present because Consul clients read it.
    pub meta: BTreeMap<String, String>,
    /// Consul's debugging figures by section (`agent`, `build`, `consul`, `raft`, `serf_lan`,
    /// `runtime`), every value a string: what `concord info` prints.
    pub stats: Stats,
}

/// `Stats` of `/v1/agent/self`: section, key, value.
pub type Stats = BTreeMap<String, BTreeMap<String, String>>;

/// `Config` of `/v1/agent/self`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentSelfConfig {
    pub datacenter: String,
    pub primary_datacenter: String,
    pub node_name: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub revision: String,
    pub server: bool,
    pub version: String,
}

/// Serf's status names for the numeric codes of `AgentMember::status`.
pub fn member_status_name(code: u8) -> &'static str {
    match code {
        0 => "none",
        1 => "alive",
        2 => "leaving",
        3 => "left",
        4 => "failed",
        _ => "unknown",
    }
}

/// `GET /v1/operator/raft/configuration`: Consul's `api.RaftConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfiguration {
    pub servers: Vec<RaftServer>,
    pub index: u64,
}

/// One server of the Raft configuration: Consul's `api.RaftServer`, in its field order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftServer {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub leader: bool,
    /// "3" for every Concord server; empty when an agent leaves it out.
    pub protocol_version: String,
    pub voter: bool,
}

/// What Consul reports for every server: Raft protocol 3.
pub const RAFT_PROTOCOL_VERSION: &str = "3";

/// The answer of `POST /v1/operator/raft/transfer-leader`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TransferLeaderReply {
    pub success: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_member() -> AgentMember {
        let tags = [("role", "consul"), ("port", "8300"), ("dc", "dc1")];
        AgentMember {
            name: "s1".into(),
            addr: "10.0.0.5".into(),
            port: 8301,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            status: 1,
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    #[test]
    fn a_member_is_written_with_consuls_names_in_consuls_order() {
        let text = serde_json::to_string(&server_member()).unwrap();
        assert_eq!(
            text,
            r#"{"Name":"s1","Addr":"10.0.0.5","Port":8301,"Tags":{"dc":"dc1","port":"8300","role":"consul"},"Status":1,"ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}"#
        );
    }

    #[test]
    fn a_member_reads_back_and_missing_fields_default() {
        let member = server_member();
        let text = serde_json::to_string(&member).unwrap();
        assert_eq!(serde_json::from_str::<AgentMember>(&text).unwrap(), member);
        let short = r#"{"Name":"n","Addr":"::1","Port":8301,"Status":2}"#;
        let read: AgentMember = serde_json::from_str(short).unwrap();
        assert_eq!(
            (read.tag("role"), read.status, read.protocol_max),
            ("", 2, 0)
        );
        assert_eq!(member_status_name(read.status), "leaving");
    }

    #[test]
    fn a_raft_configuration_is_consuls_shape_both_ways() {
        let configuration = RaftConfiguration {
            servers: vec![RaftServer {
                id: "s1".into(),
                node: "s1".into(),
                address: "10.0.0.1:8300".into(),
                leader: true,
                protocol_version: RAFT_PROTOCOL_VERSION.into(),
                voter: true,
            }],
            index: 12,
        };
        let text = serde_json::to_string(&configuration).unwrap();
        assert_eq!(
            text,
            r#"{"Servers":[{"ID":"s1","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true}],"Index":12}"#
        );
        let read: RaftConfiguration = serde_json::from_str(&text).unwrap();
        assert_eq!(read, configuration);
    }

    #[test]
    fn a_transfer_answer_is_success_true() {
        let text = serde_json::to_string(&TransferLeaderReply { success: true }).unwrap();
        assert_eq!(text, r#"{"Success":true}"#);
        let read: TransferLeaderReply = serde_json::from_str(r#"{"Success":false}"#).unwrap();
        assert!(!read.success);
    }

    #[test]
    fn a_kv_pair_is_consuls_shape_and_reads_back() {
        let pair = KvPair {
            key: "web/config".into(),
            flags: 42,
            value: Some("aGVsbG8=".into()),
            create_index: 5,
            modify_index: 7,
            ..KvPair::default()
        };
        let text = serde_json::to_string(&pair).unwrap();
        assert_eq!(
            text,
            r#"{"LockIndex":0,"Key":"web/config","Flags":42,"Value":"aGVsbG8=","CreateIndex":5,"ModifyIndex":7}"#
        );
        assert_eq!(serde_json::from_str::<KvPair>(&text).unwrap(), pair);
        let held = r#"{"Key":"lock","Value":null,"Session":"s-1"}"#;
        let read: KvPair = serde_json::from_str(held).unwrap();
        assert_eq!((read.value, read.session.as_deref()), (None, Some("s-1")));
    }

    #[test]
    fn status_codes_have_serfs_names() {
        let names: Vec<&str> = (0..=5).map(member_status_name).collect();
        assert_eq!(
            names,
            ["none", "alive", "leaving", "left", "failed", "unknown"]
        );
    }
}
