//! Fencing, judged at the end against the grants the servers journaled (`lock_holders.rs`):
//! every acquire a client saw succeed names a grant at its index (the fencing token it was
//! handed) to its own session; every write the fenced resource accepted carries a token
//! granted to the writer's session; and the resource's accepted tokens per key never go down
//! and are shared by no two sessions. Together: the resource was written by holders in the
//! order the store granted the lock, never by two holders with one token, and never by a
//! holder whose lock had gone to someone after it.

use crate::fencing::FencedResource;
use crate::history::{History, Operation};
use concord_core::agent::{Request, Response};
use concord_core::kv::KvCommand;
use std::collections::BTreeMap;

/// (key, token) -> session of every grant.
pub type Grants = BTreeMap<(String, u64), String>;

pub fn check(history: &History, resource: &FencedResource, grants: &Grants) -> Vec<String> {
    let mut violations = client_acquires(history, grants);
    violations.extend(accepted_writes(resource, grants));
    violations
}

/// One acquire a client saw succeed: (the operation, key, session, fencing token).
type Acquired<'a> = (&'a Operation, &'a str, &'a str, u64);

/// Every acquire in the history that returned true.
fn acquires(history: &History) -> impl Iterator<Item = Acquired<'_>> {
    history
        .operations
        .iter()
        .filter_map(|op| match (&op.request, &op.result) {
            (
                Request::KvWrite {
                    command: KvCommand::Lock { key, session, .. },
                },
                Ok(Response::KvWritten {
                    applied: true,
                    index,
                }),
            ) => Some((op, key.as_str(), session.as_str(), *index)),
            _ => None,
        })
}

/// The grants as clients saw them (where no server's journal is observed): each acquire that
/// returned true, at its index, to its session. Two sessions told they hold one token is a
/// violation `client_acquires` then reports against the first.
pub fn grants_seen_by_clients(history: &History) -> Grants {
    let mut grants = Grants::new();
    for (_, key, session, index) in acquires(history) {
        grants
            .entry((key.to_string(), index))
            .or_insert_with(|| session.to_string());
    }
    grants
}

/// Each acquire a client saw return true was a grant, at its index, to its session.
fn client_acquires(history: &History, grants: &Grants) -> Vec<String> {
    let mut violations = Vec::new();
    for (op, key, session, index) in acquires(history) {
        match grants.get(&(key.to_string(), index)) {
            Some(granted) if granted == session => {}
            granted => violations.push(format!(
                "fencing: c{} on {} was told at {} ms that session {session} holds {key} with \
                 token {index}, but the servers granted that token to {granted:?}",
                op.client, op.node, op.return_ms
            )),
        }
    }
    violations
}

/// What the resource accepted, against the grants and against itself.
fn accepted_writes(resource: &FencedResource, grants: &Grants) -> Vec<String> {
    let mut violations = Vec::new();
    for (key, fenced) in &resource.keys {
        let mut last: Option<&crate::fencing::Accepted> = None;
        for write in &fenced.accepted {
            match grants.get(&(key.clone(), write.token)) {
                Some(granted) if *granted == write.session => {}
                granted => violations.push(format!(
                    "fencing: the resource {key} accepted token {} from c{} (session {}) at \
                     {} ms, but that token was granted to {granted:?}",
                    write.token, write.client, write.session, write.world_ms
                )),
            }
            if let Some(previous) = last {
                let back = write.token < previous.token;
                let shared = write.token == previous.token && write.session != previous.session;
                if back || shared {
                    violations.push(format!(
                        "fencing: the resource {key} accepted token {} from session {} at {} ms \
                         after token {} from session {}",
                        write.token,
                        write.session,
                        write.world_ms,
                        previous.token,
                        previous.session
                    ));
                }
            }
            last = Some(write);
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acquire(client: u64, session: &str, result: concord_core::agent::ApiResult) -> Operation {
        let command = KvCommand::Lock {
            key: "lock/a".into(),
            value: vec![],
            flags: 0,
            session: session.into(),
        };
        Operation {
            client,
            node: "s1".into(),
            request: Request::KvWrite { command },
            result,
            invoke_ms: 0,
            return_ms: 1,
            epoch: 0,
        }
    }

    #[test]
    fn clients_grants_are_their_acquires_that_returned_true_and_the_first_keeps_a_token() {
        let won = |index| {
            Ok(Response::KvWritten {
                index,
                applied: true,
            })
        };
        let lost = Ok(Response::KvWritten {
            index: 9,
            applied: false,
        });
        let history = History {
            operations: vec![
                acquire(1, "s-a", won(5)),
                acquire(2, "s-b", lost),
                acquire(3, "s-b", won(7)),
                acquire(4, "s-c", won(7)),
            ],
        };
        let grants = grants_seen_by_clients(&history);
        let key = |token| ("lock/a".to_string(), token);
        assert_eq!(grants.get(&key(5)).map(String::as_str), Some("s-a"));
        assert_eq!(grants.get(&key(7)).map(String::as_str), Some("s-b"));
        assert!(
            !grants.contains_key(&key(9)),
            "a refused acquire grants nothing"
        );
        // Two sessions told they hold one token: the second is a violation.
        let violations = client_acquires(&history, &grants);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].contains("session s-c"), "{violations:?}");
    }
}
