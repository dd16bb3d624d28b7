//! Mutual exclusion of locks as the store sees it: each server's lock journal (every change of
//! a key's holder, in apply order) replayed over that server's own view of the holders. A key
//! held by session A that goes to session B without a release in between is a violation,
//! whatever the clients believed (they cannot know; Jepsen). Each new acquisition must also
//! raise the key's LockIndex by one (to 1 on a key created or deleted since) and carry a
//! fencing token (the ModifyIndex it applied at) above the key's previous acquisition's; a
//! re-acquisition by the holder keeps the LockIndex. Every grant's (key, token) is recorded
//! with its session, and all servers must agree on it (`checker/fencing.rs` reads them).
//!
//! A server's batch of changes is replayed only when it applied exactly the entries that
//! follow what was seen before (contiguous applied indexes) and its journal holds no reset;
//! after a restart (replaying from its snapshot) or a snapshot install (a reset), the view is
//! reseeded from the server's state instead.

use super::CheckState;
use concord_core::agent::{Agent, AppliedEntry, LockJournalEvent};
use concord_core::state::LockChange;
use std::collections::BTreeMap;

/// One key's lock as one server's journal says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyView {
    pub holder: Option<String>,
    pub lock_index: u64,
    /// The fencing token of the last acquisition (0: none seen).
    pub token: u64,
}

/// One server's view: the last applied index seen, and its keys.
#[derive(Clone, Debug, Default)]
pub struct ServerView {
    pub applied: u64,
    pub keys: BTreeMap<String, KeyView>,
}

/// How much the checker saw (traced at the end of runs with locks).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub replayed: u64,
    pub reseeded: u64,
}

/// Replays `changes` (applied by `server` in this round, with `applied` its journaled entries
/// and `applied_index` where it stands now) over the server's view.
pub fn check(
    state: &mut CheckState,
    server: &str,
    agent: &Agent,
    applied_index: u64,
    applied: &[AppliedEntry],
    events: Vec<LockJournalEvent>,
) {
    // Most rounds apply nothing: the view stays as it is (what the replay below would do).
    let idle = events.is_empty() && applied.is_empty();
    let view_current = state
        .lock_views
        .get(server)
        .is_some_and(|v| v.applied == applied_index);
    if idle && view_current {
        return;
    }
    let mut changes = Vec::new();
    let mut reset = false;
    for event in events {
        match event {
            LockJournalEvent::Change { index, change } => changes.push((index, change)),
            LockJournalEvent::Reset { .. } => reset = true,
        }
    }
    for (index, change) in &changes {
        record_grant(state, server, *index, change);
        if std::env::var_os("CONCORD_SIM_LOCKS").is_some() {
            eprintln!("lock change on {server} at {index}: {change:?}");
        }
    }
    let held = state.lock_views.get_mut(server);
    let mut view = held.map(std::mem::take).unwrap_or_default();
    let contiguous = applied
        .iter()
        .enumerate()
        .all(|(i, e)| e.index == view.applied + 1 + i as u64)
        && view.applied + applied.len() as u64 == applied_index;
    if contiguous && !reset {
        state.lock_counts.replayed += changes.len() as u64;
        for (index, change) in changes {
            if let Some(violation) = replay(&mut view, server, index, &change) {
                state.violations.push(violation);
            }
        }
    } else {
        state.lock_counts.reseeded += 1;
        view.keys = reseed(agent);
    }
    view.applied = applied_index;
    match state.lock_views.get_mut(server) {
        Some(held) => *held = view,
        None => {
            state.lock_views.insert(server.to_string(), view);
        }
    }
}

/// One change over the view; the violation it shows, if any.
fn replay(view: &mut ServerView, server: &str, index: u64, change: &LockChange) -> Option<String> {
    let key = view.keys.entry(change.key.clone()).or_default();
    let before = key.clone();
    *key = KeyView {
        holder: change.after.clone(),
        lock_index: if change.deleted { 0 } else { change.lock_index },
        token: before.token,
    };
    let Some(taker) = &change.after else {
        return None;
    };
    let name = &change.key;
    match &before.holder {
        Some(holder) if holder != taker => Some(format!(
            "lock holders: {name} held by session {holder} was granted to session {taker} at \
             index {index} on {server}, with no release in between"
        )),
        Some(_) if change.lock_index != before.lock_index => Some(format!(
            "lock index: {name} re-acquired by its holder at index {index} on {server} moved \
             its LockIndex from {} to {}",
            before.lock_index, change.lock_index
        )),
        Some(_) => None,
        None => {
            key.token = change.modify_index;
            new_acquisition(&before, name, server, index, change)
        }
    }
}

/// A new holder: LockIndex one up (1 on a recreated key), token above the last one.
fn new_acquisition(
    before: &KeyView,
    name: &str,
    server: &str,
    index: u64,
    change: &LockChange,
) -> Option<String> {
    if change.lock_index != before.lock_index + 1 && change.lock_index != 1 {
        return Some(format!(
            "lock index: {name} acquired at index {index} on {server} has LockIndex {}, after {}",
            change.lock_index, before.lock_index
        ));
    }
    if change.modify_index <= before.token {
        return Some(format!(
            "fencing token: {name} acquired at index {index} on {server} carries token {}, not \
             above the previous acquisition's {}",
            change.modify_index, before.token
        ));
    }
    None
}

/// Every grant (an acquisition or re-acquisition) as (key, token) -> session, first seen;
/// another server's journal naming another session for it is a violation.
fn record_grant(state: &mut CheckState, server: &str, index: u64, change: &LockChange) {
    let Some(session) = &change.after else {
        return;
    };
    let grant = (change.key.clone(), change.modify_index);
    match state.lock_grants.get(&grant) {
        None => {
            state
                .lock_grants
                .insert(grant, (session.clone(), server.to_string()));
        }
        Some((first, by)) if first != session => {
            let violation = format!(
                "lock grants: {} at token {} went to session {first} on {by} but to {session} \
                 on {server} (index {index})",
                change.key, change.modify_index
            );
            state.violations.push(violation);
        }
        Some(_) => {}
    }
}

/// The holders as `agent`'s state has them now (every key with a lock index).
fn reseed(agent: &Agent) -> BTreeMap<String, KeyView> {
    agent
        .state()
        .kv()
        .list("")
        .into_iter()
        .filter(|e| e.lock_index > 0 || e.session.is_some())
        .map(|e| {
            let view = KeyView {
                holder: e.session.clone(),
                lock_index: e.lock_index,
                token: e.modify_index,
            };
            (e.key, view)
        })
        .collect()
}
