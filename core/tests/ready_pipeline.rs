//! The Ready's two speed-ups, and what keeps them safe: a leader's appends go out before its
//! own write (it counts itself towards commit only once durable), and a hard state that only
//! moved the commit index is written without an fsync (a vote's fsync: ready_contract.rs).

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

/// Persists every Ready and grants every vote asked of n2 until `raft` leads.
fn elect(raft: &mut Raft) -> u64 {
    let mut now_ms = 10_000;
    raft.tick(now_ms);
    for _ in 0..20 {
        let ready = raft.poll_ready();
        if let Some((index, term)) = ready.last_entry() {
            raft.on_persisted(index, term);
        }
        for msg in ready.messages.iter().chain(&ready.early_messages) {
            if let RaftBody::RequestVote { pre_vote, .. } = msg.body {
                if msg.to == id("n2") {
                    now_ms += 1;
                    raft.step(now_ms, grant(msg.term, pre_vote));
                }
            }
        }
        if raft.role() == Role::Leader && ready.is_empty() {
            // Both followers take the leader's first entries: replication leaves probing.
            let last = raft.log().last_index();
            for follower in ["n2", "n3"] {
                raft.step(now_ms + 1, ack(follower, raft.term(), last));
            }
            raft.poll_ready();
            return now_ms + 1;
        }
    }
    panic!("n1 was not elected: {:?}", raft.role());
}

fn grant(term: u64, pre_vote: bool) -> RaftMessage {
    RaftMessage {
        from: id("n2"),
        to: id("n1"),
        term,
        body: RaftBody::RequestVoteResponse {
            granted: true,
            pre_vote,
        },
    }
}

fn ack(from: &str, term: u64, match_index: u64) -> RaftMessage {
    RaftMessage {
        from: id(from),
        to: id("n1"),
        term,
        body: RaftBody::AppendEntriesResponse {
            success: true,
            match_index,
            hint_index: 0,
            hint_term: 0,
            read_seq: 0,
        },
    }
}

#[test]
fn a_leaders_appends_go_out_before_its_own_write_and_it_counts_itself_only_once_durable() {
    let mut raft = fresh("n1", &["n1", "n2", "n3"]);
    let now_ms = elect(&mut raft);
    let index = raft.propose(now_ms, b"x".to_vec()).unwrap();
    let ready = raft.poll_ready();
    assert_eq!(ready.last_entry(), Some((index, raft.term())));
    assert!(ready.must_sync, "new entries are fsynced");
    let early_to: Vec<_> = ready.early_messages.iter().map(|m| m.to.clone()).collect();
    assert_eq!(early_to, vec![id("n2"), id("n3")], "both followers, early");
    assert!(ready.early_messages.iter().all(|m| matches!(
        &m.body,
        RaftBody::AppendEntries { entries, .. } if entries.last().map(|e| e.index) == Some(index)
    )));
    assert!(ready.messages.is_empty(), "nothing waits for the write");
    // n2 has it, the leader's own write is still in flight: one copy of three is durable.
    raft.step(now_ms + 1, ack("n2", raft.term(), index));
    assert!(raft.poll_ready().committed.is_empty());
    assert!(
        raft.commit_index() < index,
        "counted its own copy before it was durable"
    );
    raft.on_persisted(index, raft.term());
    assert_eq!(raft.commit_index(), index, "n2 and the leader: a quorum");
}

#[test]
fn a_hard_state_that_only_moves_the_commit_index_is_not_fsynced() {
    let mut raft = fresh("n2", &["n1", "n2", "n3"]);
    raft.poll_ready();
    // After (1, 1), the bootstrap entry: entry 2 of term 2, then a commit of it alone.
    let append = |leader_commit: u64, entries: Vec<Entry>| RaftMessage {
        from: id("n1"),
        to: id("n2"),
        term: 2,
        body: RaftBody::AppendEntries {
            prev_log_index: if entries.is_empty() { 2 } else { 1 },
            prev_log_term: if entries.is_empty() { 2 } else { 1 },
            entries,
            leader_commit,
            read_seq: 0,
        },
    };
    let entry = Entry {
        term: 2,
        index: 2,
        payload: EntryPayload::Command(b"x".to_vec()),
    };
    raft.step(10, append(1, vec![entry]));
    let ready = raft.poll_ready();
    assert!(ready.must_sync, "an entry and a new term");
    assert!(
        ready.early_messages.is_empty(),
        "a follower sends nothing early"
    );
    raft.on_persisted(2, 2);
    raft.step(11, append(2, Vec::new()));
    let ready = raft.poll_ready();
    assert_eq!(ready.hard_state.as_ref().map(|h| h.commit_index), Some(2));
    assert!(!ready.must_sync, "only the commit index moved");
    assert!(ready.entries.is_empty());
}
