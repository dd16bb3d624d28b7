//! Blocking reads in the core: parked on the server that answers the read, released when what
//! the read covers changes, or at the deadline with the current data; bounded.

use concord_core::agent::watch::{JITTER_FRACTION, PARKED_READS_MAX};
use concord_core::agent::*;
use concord_core::kv::KvCommand;
use concord_core::membership::Role;
use concord_core::raft::RaftRestore;
use std::collections::BTreeMap;

mod support;
use support::drive::run_until_idle;

/// A one-server cluster, leader at once; time moves only when a test says so.
struct One {
    agent: Agent,
    now_ms: u64,
}

impl One {
    fn new() -> One {
        let mut config = AgentConfig::new("a", "127.0.0.1", Role::Server).fast();
        config.bootstrap_expect = 1;
        let mut one = One {
            agent: Agent::new(config, 1, 0, RaftRestore::default()),
            now_ms: 10,
        };
        one.agent.tick(one.now_ms);
        one.run();
        assert!(one.agent.is_leader());
        one
    }

    /// Runs the agent until it is idle, making what it persists durable; the replies it gave.
    fn run(&mut self) -> BTreeMap<u64, ApiResult> {
        let mut replies = BTreeMap::new();
        run_until_idle(&mut self.agent, 20, |action| {
            if let Action::Reply { request_id, result } = action {
                replies.insert(request_id, result);
            }
        });
        replies
    }

    fn request(&mut self, id: u64, request: Request) -> BTreeMap<u64, ApiResult> {
        self.agent.handle_request(self.now_ms, id, request);
        self.run()
    }

    /// Writes `key` and returns the write's index.
    fn put(&mut self, id: u64, key: &str, value: &str) -> BTreeMap<u64, ApiResult> {
        let command = KvCommand::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            flags: 0,
        };
        self.request(id, Request::KvWrite { command })
    }

    fn tick(&mut self, to_ms: u64) -> BTreeMap<u64, ApiResult> {
        self.now_ms = to_ms;
        self.agent.tick(to_ms);
        self.run()
    }
}

fn get(key: &str) -> Request {
    Request::KvGet {
        key: key.into(),
        consistency: Consistency::Default,
    }
}

fn watch(key: &str, index: u64, wait_ms: u64) -> Request {
    Request::watch(get(key), index, wait_ms).expect("a key read can block")
}

fn written_index(replies: &BTreeMap<u64, ApiResult>, id: u64) -> u64 {
    match replies.get(&id) {
        Some(Ok(Response::KvWritten { index, .. })) => *index,
        other => panic!("request {id}: expected a write, got {other:?}"),
    }
}

/// The value and index of a KV answer.
fn kv_answer(replies: &BTreeMap<u64, ApiResult>, id: u64) -> (Option<Vec<u8>>, u64) {
    match replies.get(&id) {
        Some(Ok(Response::Kv { entries, meta })) => {
            (entries.first().map(|e| e.value.clone()), meta.index)
        }
        other => panic!("request {id}: expected a KV read, got {other:?}"),
    }
}

#[test]
fn a_blocking_get_wakes_on_its_key_and_not_on_writes_elsewhere() {
    let mut one = One::new();
    let seen = written_index(&one.put(1, "app/x", "1"), 1);
    assert!(one.request(2, watch("app/x", seen, 60_000)).is_empty());
    assert_eq!(one.agent.parked_reads(), 1);
    let elsewhere = one.put(3, "other/y", "1");
    assert!(elsewhere.contains_key(&3));
    assert!(
        !elsewhere.contains_key(&2),
        "a write elsewhere woke the read"
    );
    let sibling = one.put(4, "app/y", "1");
    assert!(sibling.contains_key(&4));
    assert!(
        !sibling.contains_key(&2),
        "a write to a sibling key woke the read"
    );
    let replies = one.put(5, "app/x", "2");
    let index = written_index(&replies, 5);
    assert_eq!(kv_answer(&replies, 2), (Some(b"2".to_vec()), index));
    assert_eq!(one.agent.parked_reads(), 0);
}

#[test]
fn a_delete_wakes_a_prefix_watch() {
    let mut one = One::new();
    one.put(1, "dir/a", "1");
    let seen = written_index(&one.put(2, "dir/b", "1"), 2);
    let list = Request::KvList {
        prefix: "dir/".into(),
        consistency: Consistency::Stale,
    };
    let blocking = Request::watch(list, seen, 60_000).expect("a list can block");
    assert!(one.request(3, blocking).is_empty());
    let delete = KvCommand::Delete {
        key: "dir/b".into(),
    };
    let replies = one.request(4, Request::KvWrite { command: delete });
    let index = written_index(&replies, 4);
    match replies.get(&3) {
        Some(Ok(Response::Kv { entries, meta })) => {
            assert_eq!(entries.len(), 1);
            assert_eq!(meta.index, index, "the tombstone's index");
        }
        other => panic!("the delete did not wake the list: {other:?}"),
    }
}

#[test]
fn a_blocking_read_answers_at_its_deadline_with_the_same_index() {
    let mut one = One::new();
    let seen = written_index(&one.put(1, "k", "v"), 1);
    let wait_ms = 1_600;
    let start = one.now_ms;
    assert!(one.request(2, watch("k", seen, wait_ms)).is_empty());
    assert!(one.tick(start + wait_ms - 1).is_empty(), "released early");
    let jitter_max = wait_ms / JITTER_FRACTION;
    let replies = one.tick(start + wait_ms + jitter_max);
    assert_eq!(kv_answer(&replies, 2), (Some(b"v".to_vec()), seen));
}

#[test]
fn an_index_already_passed_or_zero_is_answered_at_once() {
    let mut one = One::new();
    let seen = written_index(&one.put(1, "k", "v"), 1);
    assert_eq!(
        kv_answer(&one.request(2, watch("k", seen - 1, 60_000)), 2).1,
        seen
    );
    assert_eq!(kv_answer(&one.request(3, watch("k", 0, 60_000)), 3).1, seen);
    // Nothing under the key ever existed: its index is 0, answered as 1; 1 blocks.
    assert_eq!(kv_answer(&one.request(4, get("none")), 4), (None, 1));
    assert!(one.request(5, watch("none", 1, 60_000)).is_empty());
}

#[test]
fn parked_reads_are_bounded_and_the_excess_is_rate_limited() {
    let mut one = One::new();
    let seen = written_index(&one.put(1, "k", "v"), 1);
    for id in 0..PARKED_READS_MAX as u64 {
        one.agent
            .handle_request(one.now_ms, 100 + id, watch("k", seen, 60_000));
    }
    assert!(one.run().is_empty());
    let refused = one.request(99, watch("k", seen, 60_000));
    assert!(
        matches!(refused.get(&99), Some(Err(ApiError::RateLimited(_)))),
        "{refused:?}"
    );
    let woken = one.put(2, "k", "w");
    assert_eq!(
        woken.len(),
        PARKED_READS_MAX + 1,
        "every parked read and the write"
    );
}
