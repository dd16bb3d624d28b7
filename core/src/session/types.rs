//! The data of a session, as Consul defines it, and the replicated commands on sessions.

use serde::{Deserialize, Serialize};

/// Consul's default lock-delay: 15 s.
pub const LOCK_DELAY_DEFAULT_NS: u64 = 15_000_000_000;
/// Consul caps the lock-delay it applies at 60 s (`MaxLockDelay`).
pub const LOCK_DELAY_NS_MAX: u64 = 60_000_000_000;
/// Shortest session TTL Consul accepts: 10 s.
pub const SESSION_TTL_MS_MIN: u64 = 10_000;
/// Longest session TTL Consul accepts: 24 h.
pub const SESSION_TTL_MS_MAX: u64 = 86_400_000;
/// Most sessions stored at once; past it a create is refused with 429.
pub const SESSIONS_MAX: usize = 65_536;
/// Longest session id accepted anywhere one is named (an acquire, a release, a destroy, a
/// transaction's op): ours are 36-byte UUIDs; Consul's too.
pub const SESSION_ID_BYTES_MAX: usize = 128;
/// Longest session name.
pub const SESSION_NAME_BYTES_MAX: usize = 1024;
/// Longest node name, check id, check namespace or TTL text a session create may carry.
pub const SESSION_FIELD_BYTES_MAX: usize = 1024;
/// Most checks (node checks and service checks together) one session may name.
pub const SESSION_CHECKS_MAX: usize = 64;

/// The node check every session gets when it names no checks (Consul's default).
pub const SESSION_DEFAULT_CHECK: &str = "serfHealth";

/// What happens to a session's locks when it is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Behavior {
    /// The keys stay, unlocked (Consul's default).
    #[default]
    Release,
    /// The keys are deleted.
    Delete,
}

impl Behavior {
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Release => "release",
            Behavior::Delete => "delete",
        }
    }
}

/// A service check a session depends on (`ServiceChecks[{ID, Namespace}]`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceCheck {
    pub id: String,
    pub namespace: String,
}

/// What a client asks for in `PUT /v1/session/create`, checked and defaulted (the HTTP layer
/// parses; `node` is filled with the local agent's name when absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSpec {
    pub name: String,
    pub node: Option<String>,
    pub lock_delay_ns: u64,
    pub behavior: Behavior,
    /// The TTL as the client wrote it ("" when none), echoed back as Consul does.
    pub ttl: String,
    pub ttl_ms: Option<u64>,
    pub node_checks: Vec<String>,
    pub service_checks: Vec<ServiceCheck>,
}

impl Default for SessionSpec {
    fn default() -> SessionSpec {
        SessionSpec {
            name: String::new(),
            node: None,
            lock_delay_ns: LOCK_DELAY_DEFAULT_NS,
            behavior: Behavior::Release,
            ttl: String::new(),
            ttl_ms: None,
            node_checks: vec![SESSION_DEFAULT_CHECK.to_string()],
            service_checks: Vec::new(),
        }
    }
}

/// One stored session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub name: String,
    pub node: String,
    pub lock_delay_ns: u64,
    pub behavior: Behavior,
    pub ttl: String,
    pub ttl_ms: Option<u64>,
    pub node_checks: Vec<String>,
    pub service_checks: Vec<ServiceCheck>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A replicated write to the sessions table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionCommand {
    /// Store a new session (the leader drew its id; `create_index`/`modify_index` are set at
    /// apply). Refused at apply if its node or a check is missing or critical.
    Create(Box<Session>),
    /// Invalidate a session (destroy, or its TTL ran out on the leader): its locks are
    /// released or deleted.
    Destroy { id: String },
}

/// Which sessions a read asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionRead {
    Info(String),
    Node(String),
    List,
}
