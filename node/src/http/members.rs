//! A gossip member as Consul's `/v1/agent/members` shows a serf member (the shape is
//! `api_types::AgentMember`, shared with the CLI).

use crate::api_types::AgentMember;
use concord_core::membership::{Member, MemberStatus, Role};
use concord_core::ports::{split_host_port, SERF_LAN_PORT_DEFAULT};
use std::collections::BTreeMap;

/// Serf's protocol and delegate versions as Consul 1.x reports them; clients such as
/// `consul members -detailed` print them, nothing negotiates with them here.
const PROTOCOL_MIN: u8 = 1;
const PROTOCOL_MAX: u8 = 5;
const PROTOCOL_CUR: u8 = 2;
const DELEGATE_MIN: u8 = 2;
const DELEGATE_MAX: u8 = 5;
const DELEGATE_CUR: u8 = 4;

/// `node_id` is known for the local agent only; Consul puts it in the `id` tag.
pub fn member_json(member: &Member, status: MemberStatus, node_id: Option<&str>) -> AgentMember {
    let (ip, port) = split_host_port(&member.gossip_addr);
    AgentMember {
        name: member.name.clone(),
        addr: ip.to_string(),
        port: port.unwrap_or(SERF_LAN_PORT_DEFAULT),
        tags: tags(member, node_id),
        status: status.code(),
        protocol_min: PROTOCOL_MIN,
        protocol_max: PROTOCOL_MAX,
        protocol_cur: PROTOCOL_CUR,
        delegate_min: DELEGATE_MIN,
        delegate_max: DELEGATE_MAX,
        delegate_cur: DELEGATE_CUR,
    }
}

/// Consul's serf tags: `role` is "consul" for servers and "node" for clients (that is how
/// `consul members` tells them apart); servers add their RPC `port`, `expect` and `raft_vsn`.
fn tags(member: &Member, node_id: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut tag = |name: &str, value: String| tags.insert(name.to_string(), value);
    tag("dc", member.datacenter.clone());
    tag("build", member.build.clone());
    tag("vsn", "2".into());
    tag("vsn_min", "2".into());
    tag("vsn_max", "3".into());
    if let Some(id) = node_id {
        tag("id", id.to_string());
    }
    match member.role {
        Role::Server => {
            tag("role", "consul".into());
            tag("raft_vsn", "3".into());
            if let (_, Some(port)) = split_host_port(&member.rpc_addr) {
                tag("port", port.to_string());
            }
            if member.bootstrap_expect > 0 {
                tag("expect", member.bootstrap_expect.to_string());
            }
        }
        Role::Client => {
            tag("role", "node".into());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn member(name: &str, role: Role) -> Member {
        Member {
            name: name.into(),
            gossip_addr: "10.0.0.5:8301".into(),
            rpc_addr: "10.0.0.5:8300".into(),
            role,
            datacenter: "dc1".into(),
            bootstrap_expect: 3,
            in_raft: true,
            build: "0.1.0".into(),
            incarnation: 1,
            announced: MemberStatus::Alive,
        }
    }

    #[test]
    fn server_member_json_matches_consul() {
        let json = member_json(
            &member("s1", Role::Server),
            MemberStatus::Alive,
            Some("abc"),
        );
        let v = serde_json::to_value(&json).unwrap();
        assert_eq!(v["Name"], "s1");
        assert_eq!(v["Addr"], "10.0.0.5");
        assert_eq!(v["Port"], 8301);
        assert_eq!(v["Status"], 1);
        assert_eq!(v["Tags"]["role"], "consul");
        assert_eq!(v["Tags"]["port"], "8300");
        assert_eq!(v["Tags"]["expect"], "3");
        assert_eq!(v["Tags"]["dc"], "dc1");
        assert_eq!(v["Tags"]["build"], "0.1.0");
        assert_eq!(v["Tags"]["id"], "abc");
        assert_eq!(v["Tags"]["vsn"], "2");
        let versions = [
            "ProtocolMin",
            "ProtocolMax",
            "ProtocolCur",
            "DelegateMin",
            "DelegateMax",
            "DelegateCur",
        ];
        let got: Vec<u64> = versions.iter().map(|k| v[k].as_u64().unwrap()).collect();
        assert_eq!(got, vec![1, 5, 2, 2, 5, 4]);
    }

    #[test]
    fn client_member_json_has_role_node_and_status_codes() {
        let json = member_json(&member("c1", Role::Client), MemberStatus::Failed, None);
        let v = serde_json::to_value(&json).unwrap();
        assert_eq!(v["Tags"]["role"], "node");
        assert!(v["Tags"].get("port").is_none());
        assert!(v["Tags"].get("id").is_none());
        assert_eq!(v["Status"], 4);
    }
}
