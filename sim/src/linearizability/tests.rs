//! Hand-written histories with a known verdict.

use super::testkit::{cas, delete, delete_cas, get, put, put_unknown};
use super::{check, check_bounded, KvOp, KvOutcome, Operation, Verdict};

/// The key of a violation, or a panic showing the verdict.
fn violation_key(verdict: Verdict) -> String {
    match verdict {
        Verdict::NotLinearizable { key, .. } => key,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(check(&[]), Verdict::Linearizable);
}

#[test]
fn sequential_history_is_linearizable() {
    let history = [
        get(1, "k", None, 0, 1),
        put(1, "k", "a", 2, 3),
        get(2, "k", Some("a"), 4, 5),
        put(2, "k", "b", 6, 7),
        get(1, "k", Some("b"), 8, 9),
        delete(1, "k", 10, 11),
        get(2, "k", None, 12, 13),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn get_concurrent_with_put_may_see_either_value() {
    for seen in ["a", "b"] {
        let history = [
            put(1, "k", "a", 0, 10),
            put(1, "k", "b", 20, 40),
            get(2, "k", Some(seen), 25, 30),
        ];
        assert_eq!(check(&history), Verdict::Linearizable, "get saw {seen}");
    }
}

#[test]
fn timed_out_put_may_become_visible_later() {
    let history = [
        put(1, "k", "a", 0, 10),
        put_unknown(1, "k", "x", 20),
        get(2, "k", Some("a"), 30, 40),
        get(2, "k", Some("x"), 500, 510),
        get(3, "k", Some("x"), 600, 610),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn timed_out_put_may_never_become_visible() {
    let history = [
        put(1, "k", "a", 0, 10),
        put_unknown(1, "k", "x", 20),
        get(2, "k", Some("a"), 30, 40),
        get(2, "k", Some("a"), 500, 510),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn timed_out_put_once_seen_stays_seen() {
    let history = [
        put(1, "k", "a", 0, 10),
        put_unknown(1, "k", "x", 20),
        get(2, "k", Some("x"), 30, 40),
        get(2, "k", Some("a"), 50, 60),
    ];
    assert_eq!(violation_key(check(&history)), "k");
}

#[test]
fn stale_read_after_completed_overwrite_is_a_violation() {
    let history = [
        put(1, "k", "a", 0, 10),
        put(1, "k", "b", 20, 30),
        get(2, "k", Some("a"), 40, 50),
    ];
    assert_eq!(violation_key(check(&history)), "k");
}

#[test]
fn read_of_a_value_never_written_is_a_violation() {
    let history = [put(1, "k", "a", 0, 10), get(2, "k", Some("zzz"), 20, 30)];
    let Verdict::NotLinearizable { key, explanation } = check(&history) else {
        panic!("expected a violation");
    };
    assert_eq!(key, "k");
    let why = "#1 client 2 get -> \"zzz\" [20, 30] saw a value that no operation of the key writes";
    assert!(explanation.contains(why), "{explanation}");
}

#[test]
fn sequential_reads_seeing_new_then_old_are_a_violation() {
    // The put of b is still running during both reads, so each alone is fine.
    let history = [
        put(1, "k", "a", 0, 10),
        put(1, "k", "b", 20, 100),
        get(2, "k", Some("b"), 30, 35),
        get(2, "k", Some("a"), 40, 45),
    ];
    assert_eq!(violation_key(check(&history)), "k");
}

#[test]
fn violation_names_its_key_among_fine_ones() {
    let history = [
        put(1, "a", "1", 0, 10),
        put(1, "b", "1", 0, 10),
        put(1, "c", "1", 0, 10),
        put(2, "b", "2", 20, 30),
        get(3, "a", Some("1"), 40, 50),
        get(3, "b", Some("1"), 40, 50),
        get(3, "c", Some("1"), 40, 50),
    ];
    assert_eq!(violation_key(check(&history)), "b");
}

#[test]
fn failed_put_never_happened() {
    let mut refused = put(1, "k", "x", 0, 10);
    refused.outcome = KvOutcome::Failed;
    let fine = [refused.clone(), get(2, "k", None, 20, 30)];
    assert_eq!(check(&fine), Verdict::Linearizable);
    let seen = [refused, get(2, "k", Some("x"), 20, 30)];
    assert_eq!(violation_key(check(&seen)), "k");
}

#[test]
fn get_with_unknown_outcome_is_dropped() {
    let lost = Operation::new(2, KvOp::Get { key: "k".into() }, KvOutcome::Unknown, 5, 9);
    let history = [put(1, "k", "a", 0, 10), lost];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn return_and_invoke_in_the_same_millisecond_are_concurrent() {
    let history = [
        put(1, "k", "a", 0, 10),
        put(1, "k", "b", 20, 30),
        get(2, "k", Some("a"), 30, 40),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn cas_follows_modify_index() {
    let history = [
        cas(1, "k", "a", 0, KvOutcome::Ok, 0, 10).at_index(5),
        cas(1, "k", "b", 0, KvOutcome::Rejected, 20, 30),
        cas(2, "k", "c", 4, KvOutcome::Rejected, 40, 50),
        cas(2, "k", "d", 5, KvOutcome::Ok, 60, 70).at_index(9),
        get(1, "k", Some("d"), 80, 90),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn cas_applied_against_the_wrong_index_is_a_violation() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(5),
        cas(2, "k", "b", 4, KvOutcome::Ok, 20, 30).at_index(7),
    ];
    assert_eq!(violation_key(check(&history)), "k");
    let absent = [
        put(1, "k", "a", 0, 10).at_index(5),
        cas(2, "k", "b", 0, KvOutcome::Ok, 20, 30).at_index(7),
    ];
    assert_eq!(violation_key(check(&absent)), "k");
}

#[test]
fn cas_rejected_when_it_should_apply_is_a_violation() {
    let history = [
        put(1, "k", "a", 0, 10).at_index(5),
        cas(2, "k", "b", 5, KvOutcome::Rejected, 20, 30),
    ];
    assert_eq!(violation_key(check(&history)), "k");
}

#[test]
fn delete_cas_follows_modify_index_and_applies_to_an_absent_key() {
    let history = [
        delete_cas(1, "k", 3, KvOutcome::Ok, 0, 10).at_index(2),
        put(1, "k", "a", 20, 30).at_index(5),
        delete_cas(2, "k", 4, KvOutcome::Rejected, 40, 50),
        get(1, "k", Some("a"), 60, 70),
        delete_cas(2, "k", 5, KvOutcome::Ok, 80, 90).at_index(9),
        get(1, "k", None, 100, 110),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn delete_cas_with_the_wrong_outcome_is_a_violation() {
    let rejected_absent = [delete_cas(1, "k", 7, KvOutcome::Rejected, 0, 10)];
    assert_eq!(violation_key(check(&rejected_absent)), "k");
    let applied_wrong_index = [
        put(1, "k", "a", 0, 10).at_index(5),
        delete_cas(2, "k", 4, KvOutcome::Ok, 20, 30).at_index(7),
    ];
    assert_eq!(violation_key(check(&applied_wrong_index)), "k");
    let applied_but_still_there = [
        put(1, "k", "a", 0, 10).at_index(5),
        delete_cas(2, "k", 5, KvOutcome::Ok, 20, 30).at_index(7),
        get(1, "k", Some("a"), 40, 50),
    ];
    assert_eq!(violation_key(check(&applied_but_still_there)), "k");
}

#[test]
fn cas_against_an_unknown_index_may_go_either_way() {
    // The put's index was not reported: the model cannot tell whether 5 matched.
    for outcome in [KvOutcome::Ok, KvOutcome::Rejected] {
        let history = [
            put(1, "k", "a", 0, 10),
            cas(2, "k", "b", 5, outcome.clone(), 20, 30),
        ];
        assert_eq!(check(&history), Verdict::Linearizable, "{outcome:?}");
    }
}

#[test]
fn malformed_operations_give_unknown() {
    let get_ok = Operation::new(1, KvOp::Get { key: "k".into() }, KvOutcome::Ok, 0, 1);
    let backwards = put(1, "j", "a", 10, 5);
    for history in [[get_ok], [backwards]] {
        assert!(
            matches!(check(&history), Verdict::Unknown { .. }),
            "{history:?}"
        );
    }
}

#[test]
fn explanation_lists_the_operations_and_the_prefix() {
    let history = [
        put(1, "k", "a", 0, 10),
        put(1, "k", "b", 20, 30),
        get(2, "k", Some("a"), 40, 50),
    ];
    let Verdict::NotLinearizable { explanation, .. } = check(&history) else {
        panic!("expected a violation");
    };
    println!("{explanation}");
    for needed in [
        "#0 client 1 put \"a\" -> ok [0, 10]",
        "#2 client 2 get -> \"a\" [40, 50]",
        "Longest linearizable prefix found: 1 operation:",
        "#1 client 1 put \"b\" -> ok [20, 30]: it would overwrite \"a\", which #2 must still read",
    ] {
        assert!(
            explanation.contains(needed),
            "missing {needed:?} in:\n{explanation}"
        );
    }
}

#[test]
fn search_bound_gives_unknown() {
    // 16 puts all concurrent, then reads of two of them in turn: the second read can only be
    // refuted after trying every order of every subset of the puts, far more than the bound.
    let mut history: Vec<Operation> = (0..16)
        .map(|i| put(i, "k", &format!("v{i}"), 0, 100))
        .collect();
    history.push(get(99, "k", Some("v1"), 200, 210));
    history.push(get(99, "k", Some("v2"), 220, 230));
    let verdict = check_bounded(&history, 10_000);
    assert!(
        matches!(&verdict, Verdict::Unknown { key, .. } if key == "k"),
        "{verdict:?}"
    );
}
