//! The session that holds `concord lock`'s lock: created as Go's `api.Lock` and `api.Semaphore`
//! create theirs (TTL 15 s, default checks), renewed every TTL/2 (Go's `RenewPeriodic`), and
//! destroyed when the command ends (which also releases anything it still holds).

use crate::http_client::{Client, Reply};
use concord_core::duration::parse_go_duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Go's `DefaultLockSessionTTL` and `DefaultSemaphoreSessionTTL`.
pub const SESSION_TTL: &str = "15s";
/// After a failed renewal Go retries this often until a TTL has passed since the last success.
const RENEW_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often a sleeping renewer looks at its stop flag.
const STOP_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What the session is created with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSpec {
    pub name: String,
    /// `delete` for a semaphore's contender keys; `None` is the server's default (release).
    pub behavior: Option<&'static str>,
    /// `-lock-delay`; `None` is the server's default (15 s).
    pub lock_delay_ms: Option<u64>,
}

impl SessionSpec {
    /// The body of `PUT /v1/session/create`, as Go's api sends it (LockDelay in `ms`).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "Name": self.name, "TTL": SESSION_TTL });
        if let Some(behavior) = self.behavior {
            body["Behavior"] = behavior.into();
        }
        if let Some(ms) = self.lock_delay_ms {
            body["LockDelay"] = format!("{ms}ms").into();
        }
        body
    }
}

pub struct LockSession {
    id: String,
    client: Client,
    stop: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl LockSession {
    /// Creates the session and starts renewing it.
    pub fn create(client: &Client, spec: &SessionSpec) -> Result<LockSession, String> {
        let body = serde_json::to_vec(&spec.body()).expect("a JSON value encodes");
        let reply = client
            .put("/v1/session/create", &[], &body)
            .and_then(Reply::success)
            .and_then(|r| r.json::<serde_json::Value>())
            .map_err(|e| format!("failed to create session: {e}"))?;
        let id = reply["ID"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("failed to create session: no ID in {reply}"))?
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (client, id, stop) = (client.clone(), id.clone(), stop.clone());
            std::thread::spawn(move || renew_periodic(&client, &id, &stop))
        };
        Ok(LockSession {
            id,
            client: client.clone(),
            stop,
            renewer: Some(renewer),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops renewing and destroys the session (its locks are released or deleted).
    pub fn destroy(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        let path = format!("/v1/session/destroy/{}", self.id);
        // Best effort, as Go's: a session we cannot destroy expires with its TTL.
        let _ = self.client.put(&path, &[], &[]);
    }
}

/// Go's `RenewPeriodic`: renew every TTL/2; on an error retry every second until a TTL has
/// passed since the last success; stop when the session is gone (404) or on `stop`.
fn renew_periodic(client: &Client, id: &str, stop: &AtomicBool) {
    let path = format!("/v1/session/renew/{id}");
    let mut ttl = parse_go_duration(SESSION_TTL).expect("the TTL constant parses");
    let mut last_success = Instant::now();
    let mut wait = ttl / 2;
    while !sleep_unless_stopped(stop, wait) {
        match client.put(&path, &[], &[]) {
            Ok(reply) if reply.status == 404 => return,
            Ok(reply) if reply.is_success() => {
                ttl = renewed_ttl(&reply).unwrap_or(ttl);
                last_success = Instant::now();
                wait = ttl / 2;
            }
            _ if last_success.elapsed() >= ttl => return,
            _ => wait = RENEW_RETRY_INTERVAL,
        }
    }
}

/// The TTL the server answered a renewal with (it may change it).
fn renewed_ttl(reply: &Reply) -> Option<Duration> {
    let sessions: Vec<serde_json::Value> = reply.json().ok()?;
    let ttl = sessions.first()?["TTL"].as_str()?;
    parse_go_duration(ttl).ok().filter(|t| !t.is_zero())
}

/// Sleeps `duration` unless `stop` is set first; whether it was.
pub fn sleep_unless_stopped(stop: &AtomicBool, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(STOP_POLL_INTERVAL));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_go_apis() {
        let lock = SessionSpec {
            name: "Consul lock for 'x' at 'p'".into(),
            behavior: None,
            lock_delay_ms: None,
        };
        assert_eq!(
            lock.body().to_string(),
            r#"{"Name":"Consul lock for 'x' at 'p'","TTL":"15s"}"#
        );
        let semaphore = SessionSpec {
            behavior: Some("delete"),
            lock_delay_ms: Some(3000),
            ..lock
        };
        let body = semaphore.body();
        assert_eq!(body["Behavior"], "delete");
        assert_eq!(body["LockDelay"], "3000ms");
    }

    #[test]
    fn a_stop_cuts_a_sleep_short() {
        let stop = AtomicBool::new(true);
        let start = Instant::now();
        assert!(sleep_unless_stopped(&stop, Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(1));
        let go_on = AtomicBool::new(false);
        assert!(!sleep_unless_stopped(&go_on, Duration::from_millis(10)));
    }
}
