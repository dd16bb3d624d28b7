//! The stale-read check: per client and key, reads never go back to an older write.

use super::check_stale_reads_monotonic as check;
use super::testkit::{delete, get, put, put_unknown};

#[test]
fn reads_moving_forward_pass() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        put(1, "k", "b", 20, 30).at_index(8),
        get(2, "k", None, 0, 1),
        get(2, "k", Some("a"), 40, 50),
        get(2, "k", Some("a"), 60, 70),
        get(2, "k", Some("b"), 80, 90),
    ];
    assert_eq!(check(&history), Vec::<String>::new());
}

#[test]
fn stale_reads_may_lag_behind_completed_writes() {
    // Unlike linearizable reads, a stale read may miss a write that completed before it.
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        put(1, "k", "b", 20, 30).at_index(8),
        get(2, "k", Some("a"), 40, 50),
    ];
    assert_eq!(check(&history), Vec::<String>::new());
}

#[test]
fn read_going_back_is_flagged() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        put(1, "k", "b", 20, 30).at_index(8),
        get(2, "k", Some("b"), 40, 50),
        get(2, "k", Some("a"), 60, 70),
    ];
    let violations = check(&history);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("read #3 by client 2"),
        "{violations:?}"
    );
    assert!(violations[0].contains("after read #2"), "{violations:?}");
}

#[test]
fn absent_after_a_value_without_a_later_delete_is_flagged() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        get(2, "k", Some("a"), 20, 30),
        get(2, "k", None, 40, 50),
    ];
    assert_eq!(check(&history).len(), 1);
    let deleted = [
        put(1, "k", "a", 0, 10).at_index(3),
        delete(1, "k", 15, 18).at_index(4),
        get(2, "k", Some("a"), 20, 30),
        get(2, "k", None, 40, 50),
    ];
    assert_eq!(check(&deleted), Vec::<String>::new());
}

#[test]
fn different_clients_and_overlapping_reads_are_not_compared() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        put(1, "k", "b", 20, 30).at_index(8),
        get(2, "k", Some("b"), 40, 50),
        get(3, "k", Some("a"), 60, 70),
        // Client 4's reads overlap: no order between them.
        get(4, "k", Some("b"), 40, 65),
        get(4, "k", Some("a"), 60, 70),
    ];
    assert_eq!(check(&history), Vec::<String>::new());
}

#[test]
fn writes_of_unknown_index_never_count_as_going_back() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        put_unknown(1, "k", "x", 20),
        put(1, "k", "b", 30, 40), // acknowledged without an index
        get(2, "k", Some("a"), 50, 60),
        get(2, "k", Some("x"), 70, 80),
        get(2, "k", Some("b"), 90, 95),
        get(2, "k", Some("a"), 100, 110),
    ];
    assert_eq!(check(&history), Vec::<String>::new());
}

#[test]
fn value_never_written_is_flagged() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(3),
        get(2, "k", Some("zzz"), 20, 30),
    ];
    let violations = check(&history);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("\"zzz\", which no write wrote"),
        "{violations:?}"
    );
}
