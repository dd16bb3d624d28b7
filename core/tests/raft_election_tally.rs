//! `Raft::election_tally`: the granted votes of the election a node won, which the
//! runtime logs as Consul does (`raft: election won: term=N tally=M`).

use concord_core::raft::*;

fn id(s: &str) -> NodeId {
    NodeId::new(s)
}

fn fresh(voters: &[&str]) -> Raft {
    let mut raft = Raft::new(id("n1"), RaftOptions::fast(), 1, 0, RaftRestore::default());
    raft.bootstrap(ClusterConfig::with_voters(voters.iter().map(|v| id(v))))
        .unwrap();
    raft
}

/// Runs `raft`'s Readies, granting what `granters` are asked, until it leads.
fn elect(raft: &mut Raft, granters: &[&str]) {
    let mut now_ms = 10_000;
    raft.tick(now_ms);
    for _ in 0..20 {
        let ready = raft.poll_ready();
        if let Some((index, term)) = ready.last_entry() {
            raft.on_persisted(index, term);
        }
        for msg in ready.messages.iter().chain(&ready.early_messages) {
            let RaftBody::RequestVote { pre_vote, .. } = msg.body else {
                continue;
            };
            if granters.contains(&msg.to.as_str()) {
                now_ms += 1;
                raft.step(now_ms, grant(&msg.to, msg.term, pre_vote));
            }
        }
        if raft.role() == Role::Leader {
            return;
        }
    }
    panic!("n1 was not elected: {:?}", raft.role());
}

fn grant(from: &NodeId, term: u64, pre_vote: bool) -> RaftMessage {
    RaftMessage {
        from: from.clone(),
        to: id("n1"),
        term,
        body: RaftBody::RequestVoteResponse {
            granted: true,
            pre_vote,
        },
    }
}

#[test]
fn a_single_server_wins_with_its_own_vote() {
    let mut raft = fresh(&["n1"]);
    assert_eq!(raft.election_tally(), 0, "no election won yet");
    elect(&mut raft, &[]);
    assert_eq!(raft.election_tally(), 1);
}

#[test]
fn the_tally_counts_the_granted_votes_its_own_included() {
    let mut three = fresh(&["n1", "n2", "n3"]);
    elect(&mut three, &["n2"]);
    assert_eq!(three.election_tally(), 2, "n1 and n2 of three");
    let mut five = fresh(&["n1", "n2", "n3", "n4", "n5"]);
    elect(&mut five, &["n2", "n3"]);
    assert_eq!(five.election_tally(), 3, "a majority of five");
}
