//! Bootstrap forms a cluster only from a blank server: any term, log entry or configuration
//! already held means the server belongs to a cluster, and a second bootstrap is refused.

use concord_core::raft::*;

fn fresh(restore: RaftRestore) -> Raft {
    Raft::new(NodeId::new("n1"), RaftOptions::default(), 7, 0, restore)
}

fn config() -> ClusterConfig {
    ClusterConfig::with_voters([NodeId::new("n1"), NodeId::new("n2")])
}

#[test]
fn a_blank_server_bootstraps_once() {
    let mut raft = fresh(RaftRestore::default());
    assert_eq!(raft.bootstrap(config()), Ok(()));
    assert_eq!((raft.term(), raft.last_index()), (1, 1));
    assert_eq!(
        raft.bootstrap(config()),
        Err(RaftError::AlreadyBootstrapped)
    );
}

#[test]
fn a_server_with_a_term_is_not_blank() {
    let hard_state = HardState {
        term: 3,
        ..HardState::default()
    };
    let mut raft = fresh(RaftRestore {
        hard_state,
        ..RaftRestore::default()
    });
    assert_eq!(
        raft.bootstrap(config()),
        Err(RaftError::AlreadyBootstrapped)
    );
    assert_eq!(raft.last_index(), 0, "nothing written");
}

#[test]
fn a_server_with_a_snapshot_is_not_blank() {
    let meta = SnapshotMeta {
        last_index: 5,
        last_term: 2,
        config: config(),
    };
    let snapshot = Snapshot {
        meta,
        data: Vec::new(),
    };
    let hard_state = HardState {
        term: 2,
        ..HardState::default()
    };
    let mut raft = fresh(RaftRestore {
        hard_state,
        snapshot: Some(snapshot),
        entries: Vec::new(),
    });
    assert_eq!(
        raft.bootstrap(config()),
        Err(RaftError::AlreadyBootstrapped)
    );
    assert_eq!(raft.last_index(), 5);
}

#[test]
fn a_server_with_log_entries_is_not_blank() {
    let entry = Entry {
        term: 1,
        index: 1,
        payload: EntryPayload::Noop,
    };
    let mut raft = fresh(RaftRestore {
        entries: vec![entry],
        ..RaftRestore::default()
    });
    assert_eq!(
        raft.bootstrap(config()),
        Err(RaftError::AlreadyBootstrapped)
    );
    assert_eq!(raft.last_index(), 1, "the entry stays as it was");
}
