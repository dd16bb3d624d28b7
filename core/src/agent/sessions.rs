//! Session writes on the agent: create and destroy go through the log; renew is answered by
//! the leader alone (it restarts the TTL timer, `session_timers.rs`, and writes nothing).
//! Reads are served with the other reads (`requests.rs::answer_read`).

use super::api::{ApiError, Request, Response};
use super::command::Command;
use super::pending::Origin;
use super::requests::raft_error;
use super::Agent;
use crate::rng::Rng;
use crate::session::{
    check_spec_bounds, Session, SessionCommand, SessionSpec, SESSIONS_MAX, SESSION_ID_BYTES_MAX,
};

impl Agent {
    /// Fills in what the agent that takes a request knows and the leader does not: a session
    /// create without a node names this agent's node (Consul's agent endpoint does the same),
    /// so a client agent's sessions are on the client's node, not on a server's.
    pub(super) fn with_local_defaults(&self, origin: &Origin, request: Request) -> Request {
        match request {
            Request::SessionCreate { mut spec } if matches!(origin, Origin::Local(_)) => {
                if spec.node.is_none() {
                    spec.node = Some(self.config.node_name.clone());
                }
                Request::SessionCreate { spec }
            }
            other => other,
        }
    }

    /// `SessionCreate` on the leader: draws the id, checks the session against the catalog
    /// (Consul's texts, 400), and proposes it; answered `SessionCreated` once applied.
    pub(super) fn create_session(&mut self, origin: Origin, spec: SessionSpec) {
        if self.state.sessions().len() >= SESSIONS_MAX {
            let why = format!("more than {SESSIONS_MAX} sessions exist (SESSIONS_MAX)");
            return self.reply(origin, Err(ApiError::RateLimited(why)));
        }
        if let Err(why) = check_spec_bounds(&spec) {
            return self.reply(origin, Err(ApiError::BadRequest(why)));
        }
        let node = (spec.node.clone()).unwrap_or_else(|| self.config.node_name.clone());
        let id = loop {
            let id = uuid_v4(&mut self.id_rng);
            if self.state.sessions().get(&id).is_none() {
                break id;
            }
        };
        let session = session_from_spec(id, node, spec);
        if let Err(why) = self.state.check_session_create(&session) {
            return self.reply(origin, Err(ApiError::BadRequest(why)));
        }
        let command = Command::Session(SessionCommand::Create(Box::new(session)));
        self.propose_and_wait(origin, command);
    }

    /// `SessionDestroy` on the leader: through the log, `true` also for an unknown id.
    pub(super) fn destroy_session(&mut self, origin: Origin, id: String) {
        if id.is_empty() {
            return self.reply(origin, Err(ApiError::BadRequest("Missing session".into())));
        }
        if id.len() > SESSION_ID_BYTES_MAX {
            let why = format!(
                "session id is {} bytes, over SESSION_ID_BYTES_MAX ({SESSION_ID_BYTES_MAX})",
                id.len()
            );
            return self.reply(origin, Err(ApiError::BadRequest(why)));
        }
        let command = Command::Session(SessionCommand::Destroy { id });
        self.propose_and_wait(origin, command);
    }

    /// `SessionRenew` on the leader: restarts the session's TTL timer and answers it. While
    /// the leader has not applied its own term's first entry, its sessions table may be
    /// behind (a new session would look unknown): 503 then, and the client retries.
    pub(super) fn renew_session(&mut self, origin: Origin, id: String) {
        if self.caught_up_leader_term().is_none() {
            let why = "leader is catching up; renew the session again shortly".to_string();
            return self.reply(origin, Err(ApiError::Unavailable(why)));
        }
        let Some(session) = self.state.sessions().get(&id).cloned() else {
            let why = format!("Session id '{id}' not found");
            return self.reply(origin, Err(ApiError::NotFound(why)));
        };
        self.renew_session_timer(&id, session.ttl_ms);
        let meta = self.query_meta(self.state.table_index(crate::state::TableId::Sessions));
        let response = Response::Sessions {
            sessions: vec![session],
            meta,
        };
        self.reply(origin, Ok(response));
    }

    /// Proposes `command` on the leader; the answer comes when it applies (`apply.rs`).
    pub(super) fn propose_and_wait(&mut self, origin: Origin, command: Command) {
        let raft = self.raft.as_mut().expect("leaders have raft");
        match raft.propose(self.now_ms, command.encode()) {
            Ok(index) => self.wait_for_apply(origin, index),
            Err(e) => self.reply(origin, Err(raft_error(e))),
        }
    }
}

/// The session a spec asks for; its indexes are set when it applies.
fn session_from_spec(id: String, node: String, spec: SessionSpec) -> Session {
    Session {
        id,
        name: spec.name,
        node,
        lock_delay_ns: spec.lock_delay_ns,
        behavior: spec.behavior,
        ttl: spec.ttl,
        ttl_ms: spec.ttl_ms,
        node_checks: spec.node_checks,
        service_checks: spec.service_checks,
        create_index: 0,
        modify_index: 0,
    }
}

/// A random (version 4) UUID in its text form, from the agent's seeded generator (its
/// `id_rng`, so a restarted agent does not draw the ids it drew before).
pub(super) fn uuid_v4(rng: &mut Rng) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    assert_eq!(text.len(), 36);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids_and_follow_the_seed() {
        let id = uuid_v4(&mut Rng::new(7));
        let parts: Vec<&str> = id.split('-').collect();
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4'), "{id}");
        assert!("89ab".contains(&parts[3][..1]), "{id}");
        assert_eq!(id, uuid_v4(&mut Rng::new(7)));
        assert_ne!(id, uuid_v4(&mut Rng::new(8)));
    }

    /// Every bound of a create at its maximum, every number at its widest: the command fits
    /// one log entry (node/src/bounds.rs counts on no entry being larger).
    #[test]
    fn the_largest_session_create_fits_one_command() {
        use crate::kv::COMMAND_SIZE_BYTES_MAX;
        use crate::session::{
            ServiceCheck, SESSION_CHECKS_MAX, SESSION_FIELD_BYTES_MAX, SESSION_NAME_BYTES_MAX,
        };
        let text = "x".repeat(SESSION_FIELD_BYTES_MAX);
        let check = ServiceCheck {
            id: text.clone(),
            namespace: text.clone(),
        };
        let spec = SessionSpec {
            name: "n".repeat(SESSION_NAME_BYTES_MAX),
            node: Some(text.clone()),
            lock_delay_ns: u64::MAX,
            ttl: text.clone(),
            ttl_ms: Some(u64::MAX),
            node_checks: Vec::new(),
            service_checks: vec![check; SESSION_CHECKS_MAX],
            ..SessionSpec::default()
        };
        assert_eq!(check_spec_bounds(&spec), Ok(()));
        let mut session = session_from_spec("0".repeat(36), text, spec.clone());
        (session.create_index, session.modify_index) = (u64::MAX, u64::MAX);
        let encoded = Command::Session(SessionCommand::Create(Box::new(session))).encode();
        assert!(encoded.len() <= COMMAND_SIZE_BYTES_MAX, "{}", encoded.len());
        let mut over = spec.clone();
        over.name.push('n');
        assert!(check_spec_bounds(&over)
            .unwrap_err()
            .contains("SESSION_NAME_BYTES_MAX"));
        let mut over = spec.clone();
        over.node_checks.push("serfHealth".into());
        assert!(check_spec_bounds(&over).unwrap_err().contains("65 checks"));
        let mut over = spec;
        over.service_checks[3].namespace.push('x');
        let why = check_spec_bounds(&over).unwrap_err();
        assert!(
            why.contains("ServiceChecks") && why.contains("1025 bytes"),
            "{why}"
        );
    }

    /// A simulated machine restarts with the same seed at a later clock: the session ids it
    /// draws must not be those it drew before (they would collide with live sessions).
    #[test]
    fn a_restarted_agent_draws_other_session_ids() {
        use crate::agent::{Agent, AgentConfig};
        use crate::membership::Role;
        let config = AgentConfig::new("s1", "10.0.0.1", Role::Server);
        let draw = |now_ms: u64| {
            let mut agent = Agent::new(config.clone(), 7, now_ms, Default::default());
            let ids: Vec<String> = (0..3).map(|_| uuid_v4(&mut agent.id_rng)).collect();
            ids
        };
        let first = draw(1_000);
        assert_eq!(first, draw(1_000), "the same incarnation replays");
        let restarted = draw(61_000);
        assert!(
            first.iter().all(|id| !restarted.contains(id)),
            "{first:?} {restarted:?}"
        );
    }
}
