//! The typed request API. The HTTP front end, the CLI (through HTTP) and the simulator all
//! speak it; a request is answered by the local agent or forwarded to a server or the leader.

pub use super::autopilot::{AutopilotConfig, AutopilotHealth, AutopilotOptions, ServerHealth};
pub use super::catalog::{CatalogAnswer, CatalogRead};
pub use super::local::{LocalAnswer, LocalRequest};
use crate::catalog::CatalogCommand;
use crate::kv::txn::{TxnOp, TxnOutcome};
use crate::kv::{KvCommand, KvEntry, KvError};
use crate::membership::{Member, MemberStatus};
pub use crate::session::{Session, SessionRead, SessionSpec};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// The leader answers from its state (Consul's default; may be briefly stale after a partition).
    Default,
    /// The leader first confirms its leadership with a quorum (ReadIndex): linearizable.
    Consistent,
    /// Any server answers from its own state, even without a leader.
    Stale,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    KvGet {
        key: String,
        consistency: Consistency,
    },
    KvList {
        prefix: String,
        consistency: Consistency,
    },
    KvKeys {
        prefix: String,
        separator: Option<String>,
        consistency: Consistency,
    },
    KvWrite {
        command: KvCommand,
    },
    /// `PUT /v1/catalog/register` and `/v1/catalog/deregister`. Answered like a KV write
    /// (`Response::KvWritten`), once applied.
    CatalogWrite {
        command: CatalogCommand,
    },
    /// A `catalog/*` or `health/*` read.
    Catalog {
        read: CatalogRead,
        consistency: Consistency,
    },
    StatusLeader,
    StatusPeers,
    RaftConfiguration,
    RaftRemovePeer {
        id_or_address: String,
    },
    RaftTransferLeader {
        target: Option<String>,
    },
    Members,
    Join {
        addr: String,
    },
    Leave,
    /// `force-leave NODE`: a failed member is marked left everywhere; with `prune` it is
    /// forgotten at once (Consul's `-prune`).
    ForceLeave {
        node: String,
        prune: bool,
    },
    /// A blocking read (Consul's `?index=&wait=`): `read` is answered once what it covers
    /// moved past `index` (at once if it already has; `index` 0 never blocks), or after
    /// `wait_ms` (0: 5 minutes; at most 10) plus up to 1/16 of jitter, with the current data.
    /// The server that answers `read` holds it (`agent/watch.rs`); a client agent forwards it.
    // ROUTING: runs where `read` runs (its consistency's place); repeatable (a read); served
    // by `Agent::watch`. A forwarded watch waits `watch::watch_duration_ms_max(wait_ms)` more
    // than the request timeout before the forwarder gives up.
    Watch {
        index: u64,
        wait_ms: u64,
        read: WatchRead,
    },
    /// The agent's own services and checks (`/v1/agent/service/*`, `/v1/agent/check/*`),
    /// served where it is taken. At the end: variants are numbered on the wire.
    Local(LocalRequest),
    /// `GET /v1/operator/autopilot/configuration`, on the leader.
    AutopilotGetConfig,
    /// `PUT /v1/operator/autopilot/configuration` (`cas`: `?cas=`), answered like a KV write.
    AutopilotSetConfig {
        options: AutopilotOptions,
        cas: Option<u64>,
    },
    /// `GET /v1/operator/autopilot/health` and `/state`, on the leader.
    AutopilotHealth,
    /// `PUT /v1/session/create`: answered `Response::SessionCreated` once applied. A spec
    /// without a node names the agent that took the request.
    SessionCreate {
        spec: SessionSpec,
    },
    /// `PUT /v1/session/destroy/:id`: answered like a KV write (`true` also for an unknown id).
    SessionDestroy {
        id: String,
    },
    /// `PUT /v1/session/renew/:id`, on the leader (restarts the TTL timer; no log write):
    /// `Response::Sessions` with the session, `NotFound` for an unknown id.
    SessionRenew {
        id: String,
    },
    /// `GET /v1/session/info/:id`, `/node/:node`, `/list`: `Response::Sessions`.
    Session {
        read: SessionRead,
        consistency: Consistency,
    },
    /// `PUT /v1/txn`: `Response::Txn`. Only reads: served as a read of `consistency`;
    /// otherwise a write on the leader.
    Txn {
        ops: Vec<TxnOp>,
        consistency: Consistency,
    },
    /// `GET /v1/snapshot`: the whole state, `Response::Snapshot`.
    SnapshotSave {
        consistency: Consistency,
    },
    /// `PUT /v1/snapshot`: replace the state with `state` (`StateMachine::to_snapshot_bytes`
    /// of an archive's `state.bin`), through the log; answered `Response::Done`.
    SnapshotRestore {
        state: Vec<u8>,
    },
    /// This agent's gossip health (`Stats.serf_lan` of `/v1/agent/self`):
    /// `Response::GossipHealth`.
    GossipHealth,
}

/// The reads that can block: each covers something with an index (`WatchRead::key`). Its own
/// type, not a boxed `Request`, so a watch cannot nest (a remote frame of nested watches
/// would recurse the decoder). Serving takes a
/// read in this type too (`Agent::read_kv`, a consistent read waiting for its index), so a
/// read's answer is total over the reads, with no arm for other requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchRead {
    KvGet {
        key: String,
        consistency: Consistency,
    },
    KvList {
        prefix: String,
        consistency: Consistency,
    },
    KvKeys {
        prefix: String,
        separator: Option<String>,
        consistency: Consistency,
    },
    Catalog {
        read: CatalogRead,
        consistency: Consistency,
    },
    /// At the end: variants are numbered on the wire.
    Session {
        read: SessionRead,
        consistency: Consistency,
    },
}

impl Request {
    /// A short name for logs and traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::KvGet { .. } => "kv-get",
            Request::KvList { .. } => "kv-list",
            Request::KvKeys { .. } => "kv-keys",
            Request::KvWrite { .. } => "kv-write",
            Request::CatalogWrite { .. } => "catalog-write",
            Request::Catalog { read, .. } => read.kind(),
            Request::Local(request) => request.kind(),
            Request::StatusLeader => "status-leader",
            Request::StatusPeers => "status-peers",
            Request::RaftConfiguration => "raft-configuration",
            Request::RaftRemovePeer { .. } => "raft-remove-peer",
            Request::RaftTransferLeader { .. } => "raft-transfer-leader",
            Request::Members => "members",
            Request::Join { .. } => "join",
            Request::Leave => "leave",
            Request::ForceLeave { .. } => "force-leave",
            Request::Watch { .. } => "watch",
            Request::AutopilotGetConfig => "autopilot-get-config",
            Request::AutopilotSetConfig { .. } => "autopilot-set-config",
            Request::AutopilotHealth => "autopilot-health",
            Request::SessionCreate { .. } => "session-create",
            Request::SessionDestroy { .. } => "session-destroy",
            Request::SessionRenew { .. } => "session-renew",
            Request::Session { .. } => "session-read",
            Request::Txn { .. } => "txn",
            Request::SnapshotSave { .. } => "snapshot-save",
            Request::SnapshotRestore { .. } => "snapshot-restore",
            Request::GossipHealth => "gossip-health",
        }
    }
}

/// Consul's `X-Consul-*` headers of a read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryMeta {
    /// The index a blocking query waits to move past.
    pub index: u64,
    pub known_leader: bool,
    /// Milliseconds since the answering server heard from the leader (0 on the leader).
    pub last_contact_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftServer {
    pub id: String,
    pub node: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub member: Member,
    pub status: MemberStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Kv {
        entries: Vec<KvEntry>,
        meta: QueryMeta,
    },
    Keys {
        keys: Vec<String>,
        meta: QueryMeta,
    },
    KvWritten {
        applied: bool,
        index: u64,
    },
    Catalog {
        answer: CatalogAnswer,
        meta: QueryMeta,
    },
    Leader {
        addr: Option<String>,
    },
    Peers {
        addrs: Vec<String>,
    },
    RaftConfiguration {
        servers: Vec<RaftServer>,
        index: u64,
    },
    Members {
        members: Vec<MemberInfo>,
    },
    Joined {
        contacted: u32,
    },
    Done,
    /// At the end: variants are numbered on the wire.
    Local {
        answer: LocalAnswer,
    },
    AutopilotConfig {
        config: AutopilotConfig,
    },
    AutopilotHealth {
        health: AutopilotHealth,
    },
    SessionCreated {
        id: String,
    },
    Sessions {
        sessions: Vec<Session>,
        meta: QueryMeta,
    },
    /// A transaction's answer: `outcome` (results or every error); `index` is the log index a
    /// write applied at (0 for a read-only transaction, which carries `meta` instead).
    Txn {
        outcome: TxnOutcome,
        index: u64,
        meta: Option<QueryMeta>,
    },
    /// The whole state (`StateMachine::to_snapshot_bytes`) at `index` of `term`, and the Raft
    /// servers then, for the archive's metadata.
    Snapshot {
        state: Vec<u8>,
        index: u64,
        term: u64,
        servers: Vec<RaftServer>,
    },
    /// Lifeguard's local health score: 0 is healthy, higher means this agent's own probes
    /// are failing (it may be the slow one).
    GossipHealth {
        health_score: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiError {
    /// No leader is known (Consul: HTTP 500 "No cluster leader").
    NoLeader,
    /// A client agent knows no server to ask.
    NoServers,
    Kv(KvError),
    BadRequest(String),
    NotFound(String),
    /// The request's deadline passed. For a write: it may or may not have happened.
    Timeout,
    /// The write's log entry was replaced by a new leader's: it did not happen.
    LeadershipLost,
    /// The agent cannot serve now (leaving, overloaded, ...); the reason says why.
    Unavailable(String),
    JoinFailed(String),
    /// Too much is in progress (queue full, too many uncommitted entries): refused before it
    /// was proposed, so it did not happen. Consul's HTTP 429; the client backs off and retries.
    RateLimited(String),
    /// More than can be carried where it must go (a snapshot over what one forwarded request
    /// or reply may carry); the reason names the size, the bound and what to do instead.
    TooLarge(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NoLeader => write!(f, "No cluster leader"),
            ApiError::NoServers => write!(f, "No known Concord servers"),
            ApiError::Kv(e) => write!(f, "{e}"),
            // Consul answers a 400 with the reason alone ("Missing service name").
            ApiError::BadRequest(why) => write!(f, "{why}"),
            ApiError::NotFound(what) => write!(f, "{what}"),
            ApiError::Timeout => write!(
                f,
                "Timeout waiting for the cluster (the request may or may not have been applied)"
            ),
            ApiError::LeadershipLost => write!(
                f,
                "Leadership lost while committing the request; it was not applied"
            ),
            ApiError::Unavailable(why) => write!(f, "{why}"),
            ApiError::JoinFailed(why) => write!(f, "Failed to join: {why}"),
            ApiError::RateLimited(why) => write!(f, "rate limit exceeded: {why}"),
            ApiError::TooLarge(why) => write!(f, "{why}"),
        }
    }
}

pub type ApiResult = Result<Response, ApiError>;
