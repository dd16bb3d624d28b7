//! Snapshot save and restore through a cluster of agents (3 servers, 1 client): a restore
//! goes through the log, so every server ends with the same state (equal digests); it wakes
//! the blocking reads parked on any server; the lock journal reseeds; a state that does not
//! decode is refused before the log.

use concord_core::agent::*;
use concord_core::kv::KvCommand;

#[path = "support/coordination.rs"]
mod coordination;
mod support;
use coordination::*;

const SEED: u64 = 34;

fn put(net: &mut support::agent_net::AgentNet, key: &str, value: &[u8]) {
    let command = KvCommand::Set {
        key: key.into(),
        value: value.to_vec(),
        flags: 7,
    };
    let answer = ask(net, "c1", Request::KvWrite { command });
    assert!(
        matches!(answer, Ok(Response::KvWritten { applied: true, .. })),
        "{answer:?}"
    );
}

fn save(net: &mut support::agent_net::AgentNet, consistency: Consistency) -> (Vec<u8>, u64) {
    match ask(net, "c1", Request::SnapshotSave { consistency }) {
        Ok(Response::Snapshot {
            state,
            index,
            term,
            servers,
        }) => {
            assert!(term > 0 && servers.len() == 3, "{term} {servers:?}");
            (state, index)
        }
        other => panic!("snapshot save: {other:?}"),
    }
}

#[test]
fn a_restore_through_the_log_leaves_equal_states_and_wakes_parked_reads() {
    let mut net = cluster(SEED);
    put(&mut net, "keep/a", b"1");
    let session = create_session(&mut net, "c1", spec(None, None, 0));
    acquire(&mut net, "c1", "keep/lock", &session).expect("acquired");
    let (state, saved_at) = save(&mut net, Consistency::Consistent);
    assert!(saved_at > 0);
    put(&mut net, "gone/b", b"2");
    // A blocking read parked on every server, on a key the restore does not change.
    let mut parked = Vec::new();
    for server in SERVERS {
        let index = net
            .agent(server)
            .state()
            .watch_index(&concord_core::state::WatchKey::KvPrefix("keep/a".into()));
        let read = WatchRead::KvGet {
            key: "keep/a".into(),
            consistency: Consistency::Stale,
        };
        let request = Request::Watch {
            index,
            wait_ms: 60_000,
            read,
        };
        parked.push((server, net.request(server, request)));
    }
    run(&mut net, 100);
    for server in SERVERS {
        assert_eq!(net.agent(server).parked_reads(), 1, "{server}");
        let agent = net.hosts.get_mut(server).unwrap().agent.as_mut().unwrap();
        agent.take_lock_changes();
    }
    let restored = ask(&mut net, "s2", Request::SnapshotRestore { state });
    assert_eq!(restored, Ok(Response::Done));
    run(&mut net, 500);
    let digests: Vec<u64> = SERVERS
        .iter()
        .map(|s| net.agent(s).state().digest())
        .collect();
    assert!(digests.iter().all(|d| *d == digests[0]), "{digests:?}");
    for server in SERVERS {
        let kv = net.agent(server).kv();
        assert!(
            kv.get("gone/b").is_none(),
            "{server}: written after the save"
        );
        assert_eq!(
            kv.get("keep/a").map(|e| e.value.clone()),
            Some(b"1".to_vec())
        );
        assert_eq!(net.agent(server).parked_reads(), 0, "{server}: woken");
        let replies = &net.hosts[server].replies;
        let id = parked.iter().find(|(s, _)| *s == server).unwrap().1;
        assert!(
            matches!(replies.get(&id), Some(Ok(Response::Kv { .. }))),
            "{server}: {:?}",
            replies.get(&id)
        );
        let agent = net.hosts.get_mut(server).unwrap().agent.as_mut().unwrap();
        let events = agent.take_lock_changes();
        let holders = events.iter().find_map(|e| match e {
            LockJournalEvent::Reset { holders, .. } => Some(holders.clone()),
            LockJournalEvent::Change { .. } => None,
        });
        let holders = holders.unwrap_or_else(|| panic!("{server}: no reset in {events:?}"));
        assert_eq!(holders.len(), 1, "{server}: {holders:?}");
        assert_eq!(holders[0].key, "keep/lock");
        assert_eq!(holders[0].after.as_deref(), Some(session.as_str()));
    }
    // Writes go on after the restore.
    put(&mut net, "after", b"3");
}

#[test]
fn a_state_that_does_not_decode_is_refused_before_the_log() {
    let mut net = cluster(SEED);
    let leader = the_leader(&net);
    let before = net.agent(&leader).raft().unwrap().last_index();
    let request = Request::SnapshotRestore {
        state: b"not a state".to_vec(),
    };
    let answer = ask(&mut net, "c1", request);
    assert!(
        matches!(&answer, Err(ApiError::BadRequest(why)) if why.starts_with("snapshot state cannot be restored")),
        "{answer:?}"
    );
    assert_eq!(net.agent(&leader).raft().unwrap().last_index(), before);
}

#[test]
fn a_restore_the_log_cannot_take_now_is_refused_naming_the_bound() {
    // Two uncommitted entries at most: a restore needs three (Begin, a chunk, Commit).
    let mut net = cluster_configured(SEED, |config| config.raft.uncommitted_entries_max = 2);
    let (state, _) = save(&mut net, Consistency::Default);
    let leader = the_leader(&net);
    let before = net.agent(&leader).raft().unwrap().last_index();
    let answer = ask(&mut net, "s1", Request::SnapshotRestore { state });
    assert!(
        matches!(&answer, Err(ApiError::RateLimited(why)) if why.contains("uncommitted_entries_max 2")),
        "{answer:?}"
    );
    assert_eq!(net.agent(&leader).raft().unwrap().last_index(), before);
}

/// The transport drops frames over its maximum: a snapshot over `forward_bytes_max` is
/// refused (413 over HTTP) where it would be forwarded, a restore before it leaves the
/// follower, a save's reply before it leaves the leader, instead of waiting out the timeout.
/// On the leader itself both work.
#[test]
fn a_snapshot_over_the_forward_bound_is_refused_not_forwarded() {
    const BOUND: usize = 4_096;
    let mut net = cluster_configured(SEED, |config| config.forward_bytes_max = BOUND);
    let big = vec![b'x'; 2 * BOUND];
    let command = KvCommand::Set {
        key: "big".into(),
        value: big,
        flags: 0,
    };
    let answer = ask(&mut net, "s1", Request::KvWrite { command });
    assert!(
        matches!(answer, Ok(Response::KvWritten { applied: true, .. })),
        "{answer:?}"
    );
    let leader = the_leader(&net);
    let follower = SERVERS.iter().find(|s| **s != leader).unwrap().to_string();
    let too_large = |answer: &ApiResult, what: &str| {
        matches!(answer, Err(ApiError::TooLarge(why))
            if why.contains(&format!("over the {BOUND} bytes one forwarded {what} may carry")))
    };
    let save = Request::SnapshotSave {
        consistency: Consistency::Default,
    };
    let answer = ask(&mut net, &follower, save.clone());
    assert!(too_large(&answer, "reply"), "{:?}", answer.err());
    let Ok(Response::Snapshot { state, .. }) = ask(&mut net, &leader, save) else {
        panic!("the leader saves");
    };
    assert!(state.len() > BOUND);
    let before = net.agent(&leader).raft().unwrap().last_index();
    let request = Request::SnapshotRestore {
        state: state.clone(),
    };
    let answer = ask(&mut net, &follower, request);
    assert!(too_large(&answer, "request"), "{:?}", answer.err());
    assert_eq!(net.agent(&leader).raft().unwrap().last_index(), before);
    let answer = ask(&mut net, &leader, Request::SnapshotRestore { state });
    assert_eq!(answer, Ok(Response::Done));
}
