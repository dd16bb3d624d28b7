//! The Ready contract and durable-state rules, checked directly on `Raft`.

use concord_core::raft::*;

fn id(s: &str) -> NodeId {
    NodeId::new(s)
}

fn fresh(name: &str, voters: &[&str]) -> Raft {
    let mut raft = Raft::new(id(name), RaftOptions::fast(), 1, 0, RaftRestore::default());
    raft.bootstrap(ClusterConfig::with_voters(voters.iter().map(|v| id(v))))
        .unwrap();
    raft
}

/// Bug 1: a vote and its reply come out in the same Ready, the vote as hard state to persist
/// first; a driver that follows the Ready order cannot send the reply before the vote is durable.
#[test]
fn vote_is_in_the_ready_that_carries_the_reply() {
    let mut raft = fresh("n2", &["n1", "n2", "n3"]);
    raft.poll_ready();
    let vote = RaftMessage {
        from: id("n1"),
        to: id("n2"),
        term: 2,
        body: RaftBody::RequestVote {
            last_log_index: 1,
            last_log_term: 1,
            pre_vote: false,
            transfer: false,
        },
    };
    raft.step(10, vote);
    let ready = raft.poll_ready();
    let hard_state = ready.hard_state.expect("the vote must be persisted");
    assert_eq!((hard_state.term, hard_state.voted_for), (2, Some(id("n1"))));
    assert!(ready.must_sync, "a vote is fsynced");
    assert!(
        ready.early_messages.is_empty(),
        "nothing goes out early with a vote"
    );
    assert!(matches!(
        ready.messages[0].body,
        RaftBody::RequestVoteResponse { granted: true, .. }
    ));
    // Without a new event nothing more comes out: the reply is not sent twice.
    assert!(raft.poll_ready().is_empty());
}

/// Bug 9: a lone voter does not count an entry committed before storage says it is durable.
#[test]
fn single_voter_commits_only_after_persisting() {
    let mut raft = fresh("n1", &["n1"]);
    raft.tick(1);
    let ready = raft.poll_ready();
    assert_eq!(raft.role(), Role::Leader);
    assert!(
        ready.committed.is_empty(),
        "committed before anything was durable"
    );
    let (index, term) = ready
        .last_entry()
        .expect("bootstrap entry and noop to persist");
    raft.on_persisted(index, term);
    assert_eq!(raft.commit_index(), index);
    let index = raft.propose(2, b"x".to_vec()).unwrap();
    let ready = raft.poll_ready();
    assert_eq!(ready.entries.last().map(|e| e.index), Some(index));
    assert!(
        raft.commit_index() < index,
        "committed an entry still in flight to disk"
    );
    raft.on_persisted(index, raft.term());
    assert_eq!(raft.commit_index(), index);
}

/// Bug 9 (the ABA race): a persisted report for an index whose entry has since been replaced
/// by one of another term does not count the new entry as durable.
#[test]
fn stale_persisted_report_is_ignored() {
    let mut log = concord_core::raft::log::RaftLog::restore(SnapshotMeta::default(), Vec::new(), 0);
    log.append(Entry {
        term: 1,
        index: 1,
        payload: EntryPayload::Noop,
    });
    let written = log.take_unpersisted(usize::MAX);
    assert_eq!(written.len(), 1);
    log.truncate_from(1);
    log.append(Entry {
        term: 2,
        index: 1,
        payload: EntryPayload::Noop,
    });
    log.on_persisted(1, 1); // the report of the term-1 write arrives late
    assert_eq!(log.persisted_index(), 0);
    log.take_unpersisted(usize::MAX);
    log.on_persisted(1, 2);
    assert_eq!(log.persisted_index(), 1);
}

/// Bug 7: a snapshot whose last entry conflicts with the follower's log discards the log after
/// it (hashicorp/raft#697); an agreeing log keeps its suffix.
#[test]
fn install_snapshot_keeps_only_an_agreeing_suffix() {
    let entries: Vec<Entry> = (1..=5)
        .map(|i| Entry {
            term: 1,
            index: i,
            payload: EntryPayload::Noop,
        })
        .collect();
    let mut conflicting =
        concord_core::raft::log::RaftLog::restore(SnapshotMeta::default(), entries.clone(), 0);
    conflicting.install_snapshot(SnapshotMeta {
        last_index: 3,
        last_term: 2,
        config: ClusterConfig::default(),
    });
    assert_eq!(
        conflicting.last_index(),
        3,
        "entries after a conflicting snapshot point must go"
    );
    let mut agreeing =
        concord_core::raft::log::RaftLog::restore(SnapshotMeta::default(), entries, 0);
    agreeing.install_snapshot(SnapshotMeta {
        last_index: 3,
        last_term: 1,
        config: ClusterConfig::default(),
    });
    assert_eq!(agreeing.last_index(), 5);
    assert_eq!(agreeing.term_at(4), Some(1));
}

/// Bug 10: a configuration in the log (even uncommitted) is the one in force after a restart.
#[test]
fn configuration_in_the_log_is_honoured_at_start() {
    let mut config = ClusterConfig::with_voters([id("n1"), id("n2"), id("n3")]);
    let first = Entry {
        term: 1,
        index: 1,
        payload: EntryPayload::Config(config.clone()),
    };
    config.learners.insert(id("n4"));
    let second = Entry {
        term: 2,
        index: 2,
        payload: EntryPayload::Config(config.clone()),
    };
    let restore = RaftRestore {
        hard_state: HardState {
            term: 2,
            voted_for: None,
            commit_index: 1,
        },
        snapshot: None,
        entries: vec![first, second],
    };
    let raft = Raft::new(id("n1"), RaftOptions::fast(), 1, 0, restore);
    assert_eq!(raft.config(), &config);
    assert_eq!(raft.config_index(), 2);
    assert_eq!(raft.commit_index(), 1);
}

/// No load makes one write to storage too large: new entries come out `persist_bytes_max` at
/// a time, and what depends on them (the appends that carry them to followers, the commit)
/// only in the Ready that hands out the last of them.
#[test]
fn new_entries_reach_storage_in_bounded_batches_and_messages_wait_for_the_last() {
    let options = RaftOptions {
        persist_bytes_max: 10_000,
        ..RaftOptions::fast()
    };
    let mut raft = Raft::new(id("n1"), options, 1, 0, RaftRestore::default());
    raft.bootstrap(ClusterConfig::with_voters([id("n1")]))
        .unwrap();
    raft.tick(1);
    let ready = raft.poll_ready();
    let (index, term) = ready.last_entry().unwrap();
    raft.on_persisted(index, term);
    raft.poll_ready();
    let first = index + 1;
    for _ in 0..10 {
        raft.propose(2, vec![7; 4_000]).unwrap();
    }
    let mut taken = Vec::new();
    loop {
        let ready = raft.poll_ready();
        let bytes: usize = ready.entries.iter().map(Entry::size_bytes).sum();
        assert!(bytes <= 10_000, "a batch of {bytes} bytes");
        taken.extend(ready.entries.iter().map(|e| e.index));
        if let Some((index, term)) = ready.last_entry() {
            raft.on_persisted(index, term);
        }
        if taken.len() < 10 {
            assert!(ready.committed.is_empty() && ready.messages.is_empty());
            assert!(
                !ready.entries.is_empty(),
                "the rest waits for the next Ready"
            );
        } else {
            break;
        }
    }
    assert_eq!(taken, (first..first + 10).collect::<Vec<_>>());
    assert_eq!(
        raft.commit_index(),
        first + 9,
        "all of them durable, all committed"
    );
}

/// The log's memory is bounded in bytes too: once it holds `log_bytes_max`, proposals are
/// refused (the API answers 429) until a snapshot compacts it, then taken again.
#[test]
fn proposals_wait_while_the_log_holds_its_byte_maximum() {
    let options = RaftOptions {
        log_bytes_max: 50_000,
        ..RaftOptions::fast()
    };
    let mut raft = Raft::new(id("n1"), options, 1, 0, RaftRestore::default());
    raft.bootstrap(ClusterConfig::with_voters([id("n1")]))
        .unwrap();
    raft.tick(1);
    let mut accepted = 0;
    let refusal = loop {
        match raft.propose(2, vec![7; 4_000]) {
            Ok(_) => accepted += 1,
            Err(error) => break error,
        }
        assert!(accepted < 100, "never refused");
    };
    assert_eq!(refusal, RaftError::LogFull { bytes_max: 50_000 });
    assert!(
        raft.log().size_bytes() >= 50_000 && accepted >= 12,
        "{accepted}"
    );
    let ready = raft.poll_ready();
    let (index, term) = ready.last_entry().unwrap();
    raft.on_persisted(index, term);
    let applied = raft.poll_ready().committed.last().unwrap().index;
    assert_eq!(applied, index);
    raft.compact(applied, b"state".to_vec());
    raft.poll_ready();
    assert_eq!(raft.log().size_bytes(), 0);
    assert!(raft.propose(3, vec![7; 4_000]).is_ok(), "taken again");
}

/// Bug 7 (InstallSnapshot racing): when a chunk is lost, the last chunk arrives at the wrong
/// offset. It must be refused with the offset wanted, not taken as the end of a snapshot of
/// which only a prefix arrived (found by the fuzzer with snapshot chunks of a few bytes).
#[test]
fn a_last_chunk_after_a_lost_one_does_not_install_a_truncated_snapshot() {
    let mut raft = fresh("n2", &["n1", "n2", "n3"]);
    raft.poll_ready();
    let meta = SnapshotMeta {
        last_index: 10,
        last_term: 2,
        config: ClusterConfig::with_voters([id("n1"), id("n2"), id("n3")]),
    };
    let chunk = |offset_bytes: u64, data: &[u8], done: bool| RaftMessage {
        from: id("n1"),
        to: id("n2"),
        term: 2,
        body: RaftBody::InstallSnapshot {
            meta: meta.clone(),
            offset_bytes,
            data: data.to_vec(),
            done,
        },
    };
    let response = |raft: &mut Raft| {
        let ready = raft.poll_ready();
        assert!(ready.snapshot.is_none(), "nothing to install yet");
        match ready.messages.last().map(|m| &m.body) {
            Some(RaftBody::InstallSnapshotResponse {
                next_offset_bytes,
                done,
                ..
            }) => (*next_offset_bytes, *done),
            other => panic!("no snapshot response: {other:?}"),
        }
    };
    raft.step(10, chunk(0, b"0123", false));
    assert_eq!(response(&mut raft), (4, false));
    // The chunk at offset 4 is lost; the last one (offset 8) arrives.
    raft.step(11, chunk(8, b"89", true));
    assert_eq!(response(&mut raft), (4, false), "asks again for offset 4");
    raft.step(12, chunk(4, b"4567", false));
    assert_eq!(response(&mut raft), (8, false));
    raft.step(13, chunk(8, b"89", true));
    let ready = raft.poll_ready();
    let installed = ready.snapshot.expect("the whole snapshot is installed");
    assert_eq!(installed.snapshot.data, b"0123456789".to_vec());
}

/// A new term learned together with more entries than one write takes: the term goes out in
/// the first Ready, with the first batch, and is never dropped because the Ready was partial
/// (found by mutation testing: no test noticed a partial Ready without its hard state).
#[test]
fn a_partial_ready_still_carries_the_hard_state() {
    let options = RaftOptions {
        persist_bytes_max: 10_000,
        ..RaftOptions::fast()
    };
    let mut raft = Raft::new(id("n2"), options, 1, 0, RaftRestore::default());
    raft.bootstrap(ClusterConfig::with_voters([id("n1"), id("n2"), id("n3")]))
        .unwrap();
    raft.poll_ready();
    let entries: Vec<Entry> = (2..=11)
        .map(|index| Entry {
            term: 3,
            index,
            payload: EntryPayload::Command(vec![7; 4_000]),
        })
        .collect();
    let append = RaftMessage {
        from: id("n1"),
        to: id("n2"),
        term: 3,
        body: RaftBody::AppendEntries {
            prev_log_index: 1,
            prev_log_term: 1,
            entries,
            leader_commit: 0,
            read_seq: 0,
        },
    };
    raft.step(10, append);
    let first = raft.poll_ready();
    assert!(
        first.messages.is_empty(),
        "the reply waits for the last batch"
    );
    assert!(first.entries.len() < 10, "a partial Ready");
    let hard_state = first
        .hard_state
        .expect("the new term is in the first Ready");
    assert_eq!(hard_state.term, 3);
}
