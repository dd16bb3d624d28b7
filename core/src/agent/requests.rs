//! Where a request is served: here, on any server, or on the leader; and serving it there.

use super::api::{
    ApiError, ApiResult, Consistency, MemberInfo, QueryMeta, RaftServer, Request, Response,
    SessionRead, WatchRead,
};
use super::command::Command;
use super::pending::{Origin, Pending, PendingRead, Waiting};
use super::wire::WireMessage;
use super::{Action, Agent};
use crate::kv;
use crate::membership::Role;
use crate::raft::{ConfigChange, NodeId, RaftError};

/// Forwarding chains longer than this are refused (client -> server -> leader is 2).
pub const FORWARD_HOPS_MAX: u8 = 3;

/// Where a request runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// On the agent that takes it, never on another's word (membership acts on this agent).
    Local,
    /// On any server, from its own state.
    AnyServer,
    /// On the leader.
    Leader,
}

/// How a request is routed: where it runs, whether a forwarded copy may be sent again, and
/// how long the serving agent may hold it before it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub place: Place,
    /// Reads and status queries may be sent twice; writes may not (they could apply twice).
    pub repeatable: bool,
    /// Added to the request timeout of a forwarded copy: a blocking read's longest wait.
    pub held_ms_max: u64,
}

/// The one place each request variant is routed. No catch-all arm: a new variant does not
/// compile until its place, retry rule and holding time are decided here (and its serving in
/// `serve`).
pub fn route(request: &Request) -> Route {
    let (place, repeatable, held_ms_max) = match request {
        Request::KvGet { consistency, .. }
        | Request::KvList { consistency, .. }
        | Request::KvKeys { consistency, .. }
        | Request::Catalog { consistency, .. }
        | Request::Session { consistency, .. }
        | Request::SnapshotSave { consistency } => (read_place(*consistency), true, 0),
        // A transaction of reads only is a read; one that writes goes through the log.
        Request::Txn { ops, consistency } if ops.iter().all(|op| op.verb.is_read()) => {
            (read_place(*consistency), true, 0)
        }
        Request::Txn { .. }
        | Request::SessionCreate { .. }
        | Request::SessionDestroy { .. }
        | Request::SnapshotRestore { .. } => (Place::Leader, false, 0),
        // Renewing twice is renewing: it writes nothing to the log.
        Request::SessionRenew { .. } => (Place::Leader, true, 0),
        Request::KvWrite { .. } | Request::CatalogWrite { .. } => (Place::Leader, false, 0),
        Request::StatusLeader | Request::StatusPeers => (Place::AnyServer, true, 0),
        Request::RaftConfiguration => (Place::Leader, true, 0),
        Request::AutopilotGetConfig | Request::AutopilotHealth => (Place::Leader, true, 0),
        Request::AutopilotSetConfig { .. } => (Place::Leader, false, 0),
        Request::RaftRemovePeer { .. } | Request::RaftTransferLeader { .. } => {
            (Place::Leader, false, 0)
        }
        Request::Members | Request::GossipHealth => (Place::Local, true, 0),
        // The agent's own services and checks: never another agent's.
        Request::Local(_) => (Place::Local, false, 0),
        Request::Join { .. } | Request::Leave | Request::ForceLeave { .. } => {
            (Place::Local, false, 0)
        }
        // Runs where its read runs; the server holds it up to its wait.
        Request::Watch { read, wait_ms, .. } => (
            read_place(read.consistency()),
            true,
            super::watch::watch_duration_ms_max(*wait_ms),
        ),
    };
    Route {
        place,
        repeatable,
        held_ms_max,
    }
}

fn read_place(consistency: Consistency) -> Place {
    match consistency {
        Consistency::Stale => Place::AnyServer,
        Consistency::Default | Consistency::Consistent => Place::Leader,
    }
}

impl Agent {
    pub(super) fn dispatch(&mut self, origin: Origin, request: Request, hops: u8) {
        if hops > FORWARD_HOPS_MAX {
            let error = ApiError::Unavailable("too many forwarding hops".into());
            return self.reply(origin, Err(error));
        }
        if self.pending.is_full() {
            self.stats.requests_refused_overload += 1;
            return self.reply(
                origin,
                Err(ApiError::RateLimited(
                    "too many requests in progress".into(),
                )),
            );
        }
        if let Some(error) = self.refusal_of_remote(&origin, &request) {
            return self.reply(origin, Err(error));
        }
        let request = self.with_local_defaults(&origin, request);
        let is_server = self.config.role == Role::Server;
        match route(&request).place {
            Place::Local => self.serve(origin, request),
            Place::AnyServer if is_server => self.serve(origin, request),
            Place::Leader if self.is_leader() => self.serve(origin, request),
            Place::Leader if is_server => match self.leader_addr() {
                Some(addr) => self.forward(addr, origin, request, hops),
                None => self.wait_for_leader(origin, request, hops),
            },
            Place::AnyServer | Place::Leader => match self.pick_server() {
                Some(addr) => self.forward(addr, origin, request, hops),
                None => self.reply(origin, Err(ApiError::NoServers)),
            },
        }
    }

    /// Another agent's request is served only where it can be: membership requests act on the
    /// agent that takes them, never on another's word; and only servers serve forwarded
    /// requests (a client agent is no relay).
    fn refusal_of_remote(&self, origin: &Origin, request: &Request) -> Option<ApiError> {
        if matches!(origin, Origin::Local(_) | Origin::Internal(_)) {
            return None;
        }
        match route(request).place {
            Place::Local => Some(ApiError::BadRequest(format!(
                "{} is not forwarded",
                request.kind()
            ))),
            Place::AnyServer | Place::Leader if self.config.role != Role::Server => {
                Some(ApiError::Unavailable(format!(
                    "{} is a client agent; forwarded requests go to servers",
                    self.config.node_name
                )))
            }
            Place::AnyServer | Place::Leader => None,
        }
    }

    /// Sends the answer where the request came from.
    pub(super) fn reply(&mut self, origin: Origin, result: ApiResult) {
        match origin {
            Origin::Local(request_id) => self.actions.push(Action::Reply { request_id, result }),
            Origin::Remote { addr, request_id } => {
                let result = self.forwardable_reply(result);
                self.send(addr, WireMessage::ForwardReply { request_id, result })
            }
            Origin::Internal(id) => self.on_internal_reply(id, result),
        }
    }

    fn pick_server(&mut self) -> Option<String> {
        let servers = self
            .membership
            .alive_servers(&self.config.datacenter, self.now_ms);
        if servers.is_empty() {
            return None;
        }
        let choice = self.rng.range(0, servers.len() as u64) as usize;
        Some(servers[choice].rpc_addr.clone())
    }

    fn forward(&mut self, addr: String, origin: Origin, request: Request, hops: u8) {
        if let Err(error) = self.check_forwardable(&request) {
            return self.reply(origin, Err(error));
        }
        let route = route(&request);
        let deadline_ms = self.now_ms + self.config.request_timeout_ms + route.held_ms_max;
        let retry = route.repeatable.then(|| (request.clone(), hops));
        let waiting = Waiting::Forwarded {
            to: addr.clone(),
            retry,
        };
        let request_id = self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting,
        });
        self.send(
            addr,
            WireMessage::Forward {
                request_id,
                hops: hops + 1,
                request,
            },
        );
    }

    pub(super) fn on_forward_reply(&mut self, request_id: u64, result: ApiResult) {
        let is_forward = |p: &Pending| matches!(p.waiting, Waiting::Forwarded { .. });
        if !self.pending.ids_where(is_forward).contains(&request_id) {
            // Answered already (timed out or retried), or a bogus id: drop it.
            self.stats.messages_dropped += 1;
            return;
        }
        let pending = self.pending.remove(request_id).expect("found above");
        self.reply(pending.origin, result);
    }

    /// A new leader is known: repeatable requests forwarded elsewhere go to it now, instead of
    /// waiting out their deadline on a leader that is gone.
    pub(super) fn retry_forwards(&mut self, leader_addr: &str) {
        let stale = |p: &Pending| matches!(&p.waiting, Waiting::Forwarded { to, retry: Some(_) } if to != leader_addr);
        for id in self.pending.ids_where(stale) {
            let pending = self.pending.remove(id).expect("selected");
            let Waiting::Forwarded {
                retry: Some((request, hops)),
                ..
            } = pending.waiting
            else {
                unreachable!()
            };
            self.dispatch(pending.origin, request, hops);
        }
    }

    /// On a client agent: repeatable requests forwarded to a server that membership no longer
    /// counts alive go to another one, instead of waiting out their deadline (for a blocking
    /// read, its whole wait) on a server that is gone. Kept while no other server is alive.
    pub(super) fn retry_forwards_to_failed(&mut self) {
        if self.config.role != Role::Client {
            return; // a server forwards only to the leader: `retry_forwards` covers it
        }
        let alive: std::collections::BTreeSet<String> = self
            .membership
            .alive_servers(&self.config.datacenter, self.now_ms)
            .into_iter()
            .map(|m| m.rpc_addr)
            .collect();
        if alive.is_empty() {
            return;
        }
        let orphaned = |p: &Pending| matches!(&p.waiting, Waiting::Forwarded { to, retry: Some(_) } if !alive.contains(to));
        for id in self.pending.ids_where(orphaned) {
            let pending = self.pending.remove(id).expect("selected");
            let Waiting::Forwarded {
                retry: Some((request, hops)),
                ..
            } = pending.waiting
            else {
                unreachable!("selected as repeatable forwards")
            };
            self.dispatch(pending.origin, request, hops);
        }
    }

    fn wait_for_leader(&mut self, origin: Origin, request: Request, hops: u8) {
        let deadline_ms = self.now_ms
            + self
                .config
                .leader_wait_ms
                .min(self.config.request_timeout_ms);
        self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting: Waiting::Leader { request, hops },
        });
    }

    /// A leader became known: requests that waited for one go on.
    pub(super) fn release_leader_waiters(&mut self) {
        let ids = self
            .pending
            .ids_where(|p| matches!(p.waiting, Waiting::Leader { .. }));
        for id in ids {
            let Some(Pending {
                origin,
                waiting: Waiting::Leader { request, hops },
                ..
            }) = self.pending.remove(id)
            else {
                unreachable!("selected as leader waiters");
            };
            self.dispatch(origin, request, hops);
        }
    }

    /// Serves a request this agent is the place for (see `dispatch`). One arm per variant,
    /// no catch-all: a new variant does not compile until it says how it is served.
    fn serve(&mut self, origin: Origin, request: Request) {
        match request {
            Request::KvGet { key, consistency } => {
                self.serve_read(origin, WatchRead::KvGet { key, consistency })
            }
            Request::KvList {
                prefix,
                consistency,
            } => self.serve_read(
                origin,
                WatchRead::KvList {
                    prefix,
                    consistency,
                },
            ),
            Request::KvKeys {
                prefix,
                separator,
                consistency,
            } => {
                let read = WatchRead::KvKeys {
                    prefix,
                    separator,
                    consistency,
                };
                self.serve_read(origin, read)
            }
            Request::KvWrite { command } => self.propose_kv(origin, command),
            Request::CatalogWrite { command } => self.propose_catalog(origin, command),
            Request::Catalog { read, consistency } => {
                self.serve_read(origin, WatchRead::Catalog { read, consistency })
            }
            Request::StatusLeader => {
                let addr = self.leader_addr();
                self.reply(origin, Ok(Response::Leader { addr }));
            }
            Request::StatusPeers => {
                let response = self.status_peers();
                self.reply(origin, Ok(response));
            }
            Request::RaftConfiguration => {
                let response = self.raft_configuration();
                self.reply(origin, Ok(response));
            }
            Request::RaftRemovePeer { id_or_address } => self.remove_peer(origin, &id_or_address),
            Request::RaftTransferLeader { target } => self.transfer_leader(origin, target),
            request @ (Request::AutopilotGetConfig
            | Request::AutopilotSetConfig { .. }
            | Request::AutopilotHealth) => self.serve_autopilot(origin, request),
            Request::Members => {
                let response = self.members();
                self.reply(origin, Ok(response));
            }
            Request::GossipHealth => {
                let health_score = self.membership().health_score();
                self.reply(origin, Ok(Response::GossipHealth { health_score }));
            }
            Request::Local(request) => self.serve_local(origin, request),
            Request::Join { addr } => self.start_join(origin, addr),
            Request::Leave => self.start_leave(origin),
            Request::ForceLeave { node, prune } => self.force_leave(origin, &node, prune),
            Request::Watch {
                index,
                wait_ms,
                read,
            } => self.watch(origin, index, wait_ms, read),
            Request::Session { read, consistency } => {
                self.serve_read(origin, WatchRead::Session { read, consistency })
            }
            Request::SessionCreate { spec } => self.create_session(origin, spec),
            Request::SessionDestroy { id } => self.destroy_session(origin, id),
            Request::SessionRenew { id } => self.renew_session(origin, id),
            Request::Txn { ops, consistency } => self.serve_txn(origin, ops, consistency),
            Request::SnapshotSave { consistency } => self.save_snapshot(origin, consistency),
            Request::SnapshotRestore { state } => self.restore_from(origin, state),
        }
    }

    /// The autopilot requests (`serve` selects them): its configuration and the servers'
    /// health are read here, a new configuration goes through the log.
    fn serve_autopilot(&mut self, origin: Origin, request: Request) {
        let response = match request {
            Request::AutopilotGetConfig => self.autopilot_config(),
            Request::AutopilotHealth => self.autopilot_health(),
            Request::AutopilotSetConfig { options, cas } => {
                return self.set_autopilot_config(origin, options, cas);
            }
            _ => unreachable!("selected as autopilot requests"),
        };
        self.reply(origin, Ok(response));
    }

    /// A consistent read first confirms leadership (ReadIndex); the others answer at once
    /// from this server's state.
    fn serve_read(&mut self, origin: Origin, read: WatchRead) {
        match read.consistency() {
            Consistency::Consistent => self.start_consistent_read(origin, PendingRead::Watch(read)),
            Consistency::Default | Consistency::Stale => {
                let response = self.answer_read(&read);
                self.reply(origin, Ok(response));
            }
        }
    }

    fn members(&self) -> Response {
        let members = self
            .membership
            .list(self.now_ms)
            .into_iter()
            .map(|(member, status)| MemberInfo { member, status })
            .collect();
        Response::Members { members }
    }

    fn force_leave(&mut self, origin: Origin, node: &str, prune: bool) {
        let result = match self.membership.force_leave(node, prune, self.now_ms) {
            Ok(()) => Ok(Response::Done),
            Err(e) => Err(ApiError::NotFound(format!("{e} {node:?}"))),
        };
        self.drain_membership();
        self.reply(origin, result);
    }

    fn status_peers(&self) -> Response {
        let raft = self.raft.as_ref().expect("servers have raft");
        let voters: Vec<NodeId> = raft.config().voters.iter().cloned().collect();
        let addrs = voters.iter().filter_map(|v| self.rpc_addr_of(v)).collect();
        Response::Peers { addrs }
    }

    pub(super) fn rpc_addr_of(&self, id: &NodeId) -> Option<String> {
        if id.as_str() == self.config.node_name {
            return Some(self.config.rpc_addr.clone());
        }
        let known = self.membership.get(id.as_str()).map(|m| m.rpc_addr.clone());
        // After a restart gossip knows nobody yet; the Raft configuration remembers addresses.
        known.or_else(|| self.raft.as_ref()?.config().addresses.get(id).cloned())
    }

    /// The `X-Consul-*` headers of a read answered here at `index` (never 0, as Consul's).
    pub(super) fn query_meta(&self, index: u64) -> QueryMeta {
        let raft = self.raft.as_ref().expect("servers have raft");
        let last_contact_ms = match raft.last_leader_contact_ms() {
            _ if self.is_leader() => 0,
            Some(t) => self.now_ms.saturating_sub(t),
            None => self.now_ms,
        };
        QueryMeta {
            index: index.max(1),
            known_leader: raft.leader().is_some(),
            last_contact_ms,
        }
    }

    /// Answers a read (KV or catalog) from this server's state.
    pub(super) fn answer_read(&self, read: &WatchRead) -> Response {
        let meta = |index: u64| self.query_meta(index);
        match read {
            WatchRead::Catalog { read, .. } => self.read_catalog(read),
            WatchRead::KvGet { key, .. } => {
                let entries = self.state.kv().get(key).cloned().into_iter().collect();
                Response::Kv {
                    entries,
                    meta: meta(self.state.kv().prefix_index(key)),
                }
            }
            WatchRead::KvList { prefix, .. } => Response::Kv {
                entries: self.state.kv().list(prefix),
                meta: meta(self.state.kv().prefix_index(prefix)),
            },
            WatchRead::KvKeys {
                prefix, separator, ..
            } => {
                let keys = self.state.kv().keys(prefix, separator.as_deref());
                Response::Keys {
                    keys,
                    meta: meta(self.state.kv().prefix_index(prefix)),
                }
            }
            WatchRead::Session { read, .. } => {
                let sessions = self.state.sessions();
                let sessions = match read {
                    SessionRead::Info(id) => sessions.get(id).cloned().into_iter().collect(),
                    SessionRead::Node(node) => sessions.by_node(node),
                    SessionRead::List => sessions.list(),
                };
                let index = self.state.table_index(crate::state::TableId::Sessions);
                Response::Sessions {
                    sessions,
                    meta: meta(index),
                }
            }
        }
    }

    /// Answers a consistent read whose index is applied.
    pub(super) fn answer_pending_read(&self, read: &PendingRead) -> Response {
        match read {
            PendingRead::Watch(read) => self.answer_read(read),
            PendingRead::Txn(ops) => self.answer_txn_read(ops),
            PendingRead::Snapshot => self.snapshot_response(),
        }
    }

    fn propose_kv(&mut self, origin: Origin, command: kv::KvCommand) {
        if let Err(e) = kv::validate(&command) {
            return self.reply(origin, Err(ApiError::Kv(e)));
        }
        if let Some(answer) = self.refusal_of_lock(&command) {
            return self.reply(origin, answer);
        }
        let data = Command::Kv(command).encode();
        let raft = self.raft.as_mut().expect("leaders have raft");
        match raft.propose(self.now_ms, data) {
            Ok(index) => self.wait_for_apply(origin, index),
            Err(e) => self.reply(origin, Err(raft_error(e))),
        }
    }

    pub(super) fn wait_for_apply(&mut self, origin: Origin, index: u64) {
        let term = self.raft.as_ref().expect("leaders have raft").term();
        // A write of an earlier term still waiting on this index lost its entry: ours
        // replaced it (we were leader, lost it, and lead again). Found by the fuzzer.
        if let Some((_, replaced)) = self.pending.take_write_at(index) {
            self.reply(replaced.origin, Err(ApiError::LeadershipLost));
        }
        let deadline_ms = self.now_ms + self.config.request_timeout_ms;
        self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting: Waiting::Write { index, term },
        });
    }

    pub(super) fn start_consistent_read(&mut self, origin: Origin, read: PendingRead) {
        let deadline_ms = self.now_ms + self.config.request_timeout_ms;
        let waiting = Waiting::Read {
            request: read,
            read_index: None,
        };
        let id = self.pending.insert(Pending {
            origin,
            deadline_ms,
            waiting,
        });
        let raft = self.raft.as_mut().expect("leaders have raft");
        let term = raft.term();
        match raft.read_index(self.now_ms, id) {
            Ok(()) => self.journal_read(super::journal::ReadEvent::Arrived { read_id: id, term }),
            Err(e) => {
                let pending = self.pending.remove(id).expect("just inserted");
                self.reply(pending.origin, Err(raft_error(e)));
            }
        }
    }

    pub(super) fn raft_configuration(&self) -> Response {
        let raft = self.raft.as_ref().expect("servers have raft");
        let leader = raft.leader().cloned();
        let servers = raft
            .config()
            .members()
            .map(|id| RaftServer {
                id: id.to_string(),
                node: id.to_string(),
                address: self.rpc_addr_of(id).unwrap_or_default(),
                leader: Some(id) == leader.as_ref(),
                voter: raft.config().voters.contains(id),
            })
            .collect();
        Response::RaftConfiguration {
            servers,
            index: raft.config_index(),
        }
    }

    fn remove_peer(&mut self, origin: Origin, id_or_address: &str) {
        let raft = self.raft.as_ref().expect("leaders have raft");
        let target = raft.config().members().find(|id| {
            id.as_str() == id_or_address || self.rpc_addr_of(id).as_deref() == Some(id_or_address)
        });
        let Some(target) = target.cloned() else {
            let error = ApiError::NotFound(format!("{id_or_address} is not a Raft peer"));
            return self.reply(origin, Err(error));
        };
        let raft = self.raft.as_mut().expect("leaders have raft");
        match raft.propose_config_change(self.now_ms, ConfigChange::Remove(target)) {
            Ok(index) => self.wait_for_apply(origin, index),
            Err(e) => self.reply(origin, Err(raft_error(e))),
        }
    }

    fn transfer_leader(&mut self, origin: Origin, target: Option<String>) {
        let raft = self.raft.as_ref().expect("leaders have raft");
        let me = raft.id().clone();
        let chosen = match target {
            Some(name) => Some(NodeId::new(name)),
            None => raft.config().voters.iter().find(|v| **v != me).cloned(),
        };
        let Some(chosen) = chosen else {
            return self.reply(
                origin,
                Err(ApiError::BadRequest("no other voter to transfer to".into())),
            );
        };
        let raft = self.raft.as_mut().expect("leaders have raft");
        let result = raft
            .transfer_leader(self.now_ms, chosen)
            .map(|_| Response::Done)
            .map_err(raft_error);
        self.reply(origin, result);
    }
}

/// What a refusal of Raft means to an API caller.
pub(super) fn raft_error(error: RaftError) -> ApiError {
    match error {
        RaftError::NotLeader { .. } => ApiError::NoLeader,
        RaftError::BadConfigChange(why) => ApiError::BadRequest(why),
        RaftError::TooManyUncommitted { .. }
        | RaftError::LogFull { .. }
        | RaftError::TooManyPendingReads { .. } => ApiError::RateLimited(error.to_string()),
        other => ApiError::Unavailable(other.to_string()),
    }
}
