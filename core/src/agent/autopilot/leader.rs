//! The agent's side of autopilot: the facts the leader gathers from Raft and membership, the
//! one configuration change autopilot wants, and the autopilot requests.

use super::config::{AutopilotCommand, AutopilotConfig, AutopilotOptions};
use super::health::{failure_tolerance, is_healthy, AutopilotHealth, ServerHealth};
use super::plan::{decide, Decision, Liveness, ServerFacts};
use crate::agent::api::{ApiError, Response};
use crate::agent::command::Command;
use crate::agent::pending::Origin;
use crate::agent::{Agent, LogLevel};
use crate::membership::MemberStatus;
use crate::raft::{ConfigChange, NodeId};

impl Agent {
    /// The settings in force: the replicated ones, else this agent's local defaults.
    pub(in crate::agent) fn autopilot_options(&self) -> AutopilotOptions {
        self.state
            .autopilot()
            .map(|c| c.options)
            .unwrap_or(self.config.autopilot)
    }

    /// One round on the leader: observe health, store the local config if none is, and the
    /// one change autopilot wants (`None` when there is nothing to do).
    pub(in crate::agent) fn autopilot_round(&mut self) -> Option<ConfigChange> {
        self.propose_autopilot_config_once();
        let servers = self.server_health();
        let raft = self.raft.as_ref().expect("leaders have raft");
        let in_config = |id: &str| raft.config().contains(&NodeId::new(id));
        self.autopilot.retain(in_config);
        let now_ms = self.now_ms;
        let facts: Vec<ServerFacts> = servers
            .iter()
            .map(|s| {
                let failed = s.serf_status == MemberStatus::Failed.name();
                let failed_since = self.autopilot.observe_failed(&s.id, failed, now_ms);
                ServerFacts {
                    id: s.id.clone(),
                    voter: s.voter,
                    liveness: failed_since.map_or(liveness(&s.serf_status), |since_ms| {
                        Liveness::Failed { since_ms }
                    }),
                    healthy_since_ms: self.autopilot.observe(&s.id, s.healthy, now_ms),
                }
            })
            .collect();
        let options = self.autopilot_options();
        match decide(&self.config.node_name, &facts, &options, now_ms)? {
            Decision::RemoveDead(id) => Some(ConfigChange::Remove(NodeId::new(id))),
            Decision::Promote(id) => Some(ConfigChange::Promote(NodeId::new(id))),
        }
    }

    /// Consul writes its local autopilot config when it gains leadership and none is stored.
    /// Compare-and-set on "none stored", so a config stored meanwhile is never overwritten.
    fn propose_autopilot_config_once(&mut self) {
        let raft = self.raft.as_mut().expect("leaders have raft");
        let term = raft.term();
        if self.state.autopilot().is_some() || self.autopilot.config_proposed_term == Some(term) {
            return;
        }
        let command = Command::Autopilot(AutopilotCommand::Set {
            options: self.config.autopilot,
            cas: Some(0),
        });
        if let Ok(index) = raft.propose(self.now_ms, command.encode()) {
            self.autopilot.config_proposed_term = Some(term);
            self.log(
                LogLevel::Debug,
                format!("autopilot: proposed the local configuration at index {index}"),
            );
        }
    }

    /// Every server of the Raft configuration, as the leader sees it now.
    pub(in crate::agent) fn server_health(&self) -> Vec<ServerHealth> {
        let raft = self.raft.as_ref().expect("servers have raft");
        let (progress, options) = (raft.peer_progress(), self.autopilot_options());
        let leader = raft.leader().cloned();
        let last_index = raft.last_index();
        raft.config()
            .members()
            .map(|id| {
                let member = self.membership.get(id.as_str());
                let status = self.membership.status(id.as_str(), self.now_ms);
                let me = id.as_str() == self.config.node_name;
                let (match_index, heard_ms) = match progress.get(id) {
                    _ if me => (last_index, Some(self.now_ms)),
                    Some(p) => *p,
                    None => (0, None),
                };
                let last_contact_ms = heard_ms.map(|h| self.now_ms.saturating_sub(h));
                let serf_status = status.map_or("none", MemberStatus::name).to_string();
                let trailing = last_index.saturating_sub(match_index);
                let healthy =
                    is_healthy(liveness(&serf_status), last_contact_ms, trailing, &options);
                ServerHealth {
                    id: id.to_string(),
                    name: id.to_string(),
                    address: self.rpc_addr_of(id).unwrap_or_default(),
                    serf_status,
                    version: member.map(|m| m.build.clone()).unwrap_or_default(),
                    leader: Some(id) == leader.as_ref(),
                    voter: raft.config().voters.contains(id),
                    last_contact_ms,
                    last_term: raft.log().term_at(match_index).unwrap_or(raft.term()),
                    last_index: match_index,
                    healthy,
                    stable_since_ms: if healthy {
                        self.autopilot.since(id.as_str()).unwrap_or(self.now_ms)
                    } else {
                        0
                    },
                }
            })
            .collect()
    }

    /// `GET /v1/operator/autopilot/health` (and `/state`), on the leader.
    pub(in crate::agent) fn autopilot_health(&self) -> Response {
        let servers = self.server_health();
        let health = AutopilotHealth {
            healthy: servers.iter().all(|s| s.healthy),
            failure_tolerance: failure_tolerance(&servers),
            leader: self.config.node_name.clone(),
            servers,
        };
        Response::AutopilotHealth { health }
    }

    /// `GET /v1/operator/autopilot/configuration`: the stored config; before one is stored
    /// (a leader stores its own at once), the local defaults with index 0.
    pub(in crate::agent) fn autopilot_config(&self) -> Response {
        let config = self.state.autopilot().copied().unwrap_or(AutopilotConfig {
            options: self.config.autopilot,
            create_index: 0,
            modify_index: 0,
        });
        Response::AutopilotConfig { config }
    }

    /// `PUT /v1/operator/autopilot/configuration`: answered like a KV write, once applied.
    pub(in crate::agent) fn set_autopilot_config(
        &mut self,
        origin: Origin,
        options: AutopilotOptions,
        cas: Option<u64>,
    ) {
        let data = Command::Autopilot(AutopilotCommand::Set { options, cas }).encode();
        let raft = self.raft.as_mut().expect("leaders have raft");
        match raft.propose(self.now_ms, data) {
            Ok(index) => self.wait_for_apply(origin, index),
            Err(e) => self.reply(
                origin,
                Err::<Response, ApiError>(crate::agent::requests::raft_error(e)),
            ),
        }
    }
}

/// Liveness for health; a failed server's time is filled in by the tracker for cleanup.
fn liveness(serf_status: &str) -> Liveness {
    match serf_status {
        "alive" => Liveness::Alive,
        "failed" => Liveness::Failed { since_ms: 0 },
        _ => Liveness::Other,
    }
}
