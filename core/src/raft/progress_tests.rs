//! How the leader paces replication to one follower: when it may send, and where it goes
//! after a rejection or a stall.

use super::{Progress, ReplicationState};

/// A follower known to match up to `match_index`, pipelining.
fn replicating(match_index: u64) -> Progress {
    let mut progress = Progress::new(match_index + 1);
    assert!(progress.on_match(match_index, 0));
    assert_eq!(progress.state, ReplicationState::Replicate);
    progress
}

#[test]
fn probe_sends_one_message_until_answered_or_unpaused() {
    let mut progress = Progress::new(4);
    assert!(progress.can_send(8));
    progress.on_sent(3, 0, 0);
    assert!(!progress.can_send(8), "one probe at a time");
    progress.unpause_probe();
    assert!(progress.can_send(8), "a lost probe is retried");
}

#[test]
fn snapshot_burst_waits_until_answered_or_unpaused() {
    let mut progress = Progress::new(4);
    let snapshot = super::OutgoingSnapshot {
        meta: super::SnapshotMeta::default(),
        data: std::sync::Arc::new(vec![7; 100]),
    };
    progress.state = ReplicationState::Snapshot {
        snapshot,
        acked_offset_bytes: 0,
        burst_end_bytes: Some(48),
        confirmed: true,
    };
    assert!(!progress.can_send(8), "a burst waits for the last one");
    progress.unpause_probe();
    assert!(progress.can_send(8), "a lost burst is resent");
    let ReplicationState::Snapshot { confirmed, .. } = &progress.state else {
        unreachable!()
    };
    assert!(
        !confirmed,
        "a burst given up on makes the next one a single chunk"
    );
    assert!(
        !progress.on_reject(3, 1),
        "a rejection never interrupts a snapshot"
    );
}

#[test]
fn replicate_pipelines_up_to_the_bound() {
    let mut progress = replicating(5);
    for last_index in 6..8 {
        assert!(progress.can_send(2));
        progress.on_sent(last_index, 1, 100);
    }
    assert!(!progress.can_send(2), "two messages in flight");
    assert_eq!(progress.next_index, 8);
    assert!(progress.on_match(6, 150));
    assert!(progress.can_send(2), "an acknowledgement frees a slot");
    assert!(
        !progress.on_match(6, 160),
        "a repeated acknowledgement is stale"
    );
}

#[test]
fn stall_is_measured_from_the_oldest_unanswered_message() {
    let mut progress = replicating(5);
    assert!(!progress.is_stalled(10_000, 1_000), "nothing in flight");
    progress.on_sent(6, 1, 100);
    progress.on_sent(7, 1, 600);
    assert!(!progress.is_stalled(1_099, 1_000));
    assert!(progress.is_stalled(1_100, 1_000));
    progress.reset_to_probe();
    assert_eq!((progress.next_index, progress.inflight.len()), (6, 0));
}

#[test]
fn rejection_moves_next_index_within_what_can_match() {
    let mut progress = replicating(5);
    progress.on_sent(9, 4, 0);
    assert!(
        !progress.on_reject(5, 1),
        "a rejection at or below the match is stale"
    );
    assert!(
        progress.on_reject(8, 2),
        "below the match: clamped up to it"
    );
    assert_eq!(progress.next_index, 6);
    assert_eq!(
        progress.state,
        ReplicationState::Probe {
            waiting_for_reply: false
        }
    );
    let mut progress = replicating(5);
    progress.on_sent(9, 4, 0);
    assert!(
        progress.on_reject(8, 20),
        "above the rejected index: clamped down to it"
    );
    assert_eq!(progress.next_index, 8);
    assert!(
        !progress.on_reject(3, 7),
        "a probe rejection for another index is stale"
    );
    assert!(progress.on_reject(7, 7));
    assert_eq!(progress.next_index, 7);
}
