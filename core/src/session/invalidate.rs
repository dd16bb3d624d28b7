//! Ending a session (destroyed, its TTL ran out, its node or a check failed): the session is
//! removed and every key it locks is released or deleted at that index, as its `Behavior`
//! says (Consul's `deleteSessionTxn`). Each key carries the session's lock-delay, capped at
//! `LOCK_DELAY_NS_MAX`, for both behaviours as in Consul.

use super::store::SessionStore;
use super::types::{Behavior, LOCK_DELAY_NS_MAX};
use super::validate::check_against_catalog;
use crate::catalog::CatalogStore;
use crate::kv::{KvEntry, KvStore, LockChange};

/// Invalidates session `id` at `index`. `None` if there is no such session (nothing moves);
/// otherwise the lock changes of its keys, in key order.
pub(crate) fn invalidate(
    index: u64,
    id: &str,
    kv: &mut KvStore,
    sessions: &mut SessionStore,
) -> Option<Vec<LockChange>> {
    sessions.get(id)?;
    let keys = kv.keys_held_by(id);
    end_session(index, id, keys, kv, sessions)
}

/// Ends session `id` at `index`, whose locked keys are `keys` (in key order): removes it and
/// releases or deletes each key.
fn end_session(
    index: u64,
    id: &str,
    keys: Vec<String>,
    kv: &mut KvStore,
    sessions: &mut SessionStore,
) -> Option<Vec<LockChange>> {
    let session = sessions.remove(id)?;
    let delay_ns = session.lock_delay_ns.min(LOCK_DELAY_NS_MAX);
    if !keys.is_empty() {
        kv.reach(index);
    }
    let mut changes = Vec::with_capacity(keys.len());
    for key in keys {
        let (lock_index, deleted) = match session.behavior {
            Behavior::Release => {
                let held = kv.get(&key).expect("a held key exists").clone();
                let released = KvEntry {
                    session: None,
                    modify_index: index,
                    ..held
                };
                let lock_index = released.lock_index;
                kv.put_entry(index, released);
                (lock_index, false)
            }
            Behavior::Delete => {
                kv.remove_key(index, &key);
                (0, true)
            }
        };
        changes.push(LockChange {
            key,
            before: Some(id.to_string()),
            after: None,
            lock_index,
            modify_index: index,
            deleted,
            delay_ns,
        });
    }
    Some(changes)
}

/// After a catalog write at `index` that touched `node`: invalidates every session of that
/// node that may no longer exist (its node gone, a check of it missing or critical; Consul's
/// `deleteNodeTxn`, `ensureCheckTxn`, `deleteCheckTxn`). Returns the sessions' lock changes;
/// empty when none was invalidated.
pub(crate) fn sweep(
    index: u64,
    node: &str,
    catalog: &CatalogStore,
    kv: &mut KvStore,
    sessions: &mut SessionStore,
) -> (usize, Vec<LockChange>) {
    let doomed: Vec<String> = sessions
        .by_node(node)
        .into_iter()
        .filter(|s| check_against_catalog(catalog, s).is_err())
        .map(|s| s.id)
        .collect();
    // One pass over the store for every doomed session's keys, not one per session.
    let ids: std::collections::BTreeSet<&str> = doomed.iter().map(String::as_str).collect();
    let mut held = kv.keys_held_by_each(&ids);
    let mut changes = Vec::new();
    for id in &doomed {
        let keys = held.remove(id).unwrap_or_default();
        let ended = end_session(index, id, keys, kv, sessions);
        changes.extend(ended.expect("listed just now"));
    }
    (doomed.len(), changes)
}
