use super::*;
use crate::cli::Cli;
use clap::{CommandFactory, FromArgMatches};

/// `concord lock WORDS...` parsed as the binary parses it (Consul's single-dash flags).
fn lock_args(words: &[&str]) -> Result<LockArgs, String> {
    let mut argv: Vec<String> = ["concord", "lock"]
        .iter()
        .chain(words)
        .map(|s| s.to_string())
        .collect();
    repair_short_n(&mut argv);
    let mut root = Cli::command();
    root.build();
    let argv = concord_config::args::normalize(&argv, &root);
    let matches = root.try_get_matches_from(argv).map_err(|e| e.to_string())?;
    let sub = matches.subcommand_matches("lock").ok_or("not lock")?;
    LockArgs::from_arg_matches(sub).map_err(|e| e.to_string())
}

fn plan_of(words: &[&str]) -> Result<Plan, String> {
    plan(&lock_args(words)?)
}

#[test]
fn consuls_argument_errors() {
    assert_eq!(
        plan_of(&["-n", "0", "p", "true"]).unwrap_err(),
        "Lock holder limit must be positive"
    );
    assert_eq!(
        plan_of(&["-n=-2", "p", "true"]).unwrap_err(),
        "Lock holder limit must be positive"
    );
    assert_eq!(
        plan_of(&["p"]).unwrap_err(),
        "Key prefix and child command must be specified"
    );
    assert_eq!(
        plan_of(&[]).unwrap_err(),
        "Key prefix and child command must be specified"
    );
    assert_eq!(
        plan_of(&["-monitor-retry=-1", "p", "true"]).unwrap_err(),
        "Number for 'monitor-retry' must be >= 0"
    );
    let err = plan_of(&["-timeout", "soon", "p", "true"]).unwrap_err();
    assert!(err.starts_with("invalid value for -timeout"), "{err}");
}

#[test]
fn defaults_and_the_generated_session_name() {
    let plan = plan_of(&["/svc/leader", "echo", "hi"]).unwrap();
    assert_eq!(plan.prefix, "svc/leader", "a leading / is dropped");
    assert_eq!(plan.child, ["echo", "hi"]);
    assert_eq!(
        plan.session_name,
        "Consul lock for 'echo hi' at 'svc/leader'"
    );
    assert_eq!(
        (
            plan.limit,
            plan.monitor_retry,
            plan.timeout,
            plan.lock_delay_ms
        ),
        (1, 3, None, None)
    );
    assert!(plan.shell && !plan.pass_stdin && !plan.child_exit_code && !plan.verbose);
}

#[test]
fn flags_parse_with_one_dash_and_child_words_keep_theirs() {
    let plan = plan_of(&[
        "-n=3",
        "-name",
        "job",
        "-timeout=2s",
        "-shell=false",
        "-lock-delay",
        "3s",
        "-verbose",
        "-child-exit-code",
        "p",
        "sh",
        "-c",
        "echo -n x",
    ])
    .unwrap();
    assert_eq!(plan.limit, 3);
    assert_eq!(plan.session_name, "job");
    assert_eq!(plan.timeout, Some(Duration::from_secs(2)));
    assert_eq!(plan.lock_delay_ms, Some(3000));
    assert!(!plan.shell && plan.verbose && plan.child_exit_code);
    assert_eq!(plan.child, ["sh", "-c", "echo -n x"]);
}

#[test]
fn a_timeout_ends_the_reads_after_the_first() {
    let mut clock = AcquireClock::new(Some(Duration::ZERO));
    assert_eq!(
        clock.next_wait(),
        Some(ACQUIRE_WAIT),
        "the first read happens"
    );
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(clock.next_wait(), None);
    let mut forever = AcquireClock::new(None);
    for _ in 0..3 {
        assert_eq!(forever.next_wait(), Some(ACQUIRE_WAIT));
    }
}

#[test]
fn only_the_flags_before_the_prefix_are_repaired() {
    let mut argv: Vec<String> = [
        "concord", "lock", "-name", "-n=x", "-n=2", "p", "cmd", "-n=5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    repair_short_n(&mut argv);
    assert_eq!(argv[3], "-n=x", "the value of -name");
    assert_eq!(argv[4], "--n=2");
    assert_eq!(argv[7], "-n=5", "a word of the child");
}

#[test]
fn a_monitor_rides_out_retryable_failures_up_to_the_limit_in_a_row() {
    let failure = |retryable| kv::ReadError {
        retryable,
        text: "down".into(),
    };
    // held, fail, held (the count starts again), fail, fail: with 1 retry the second run of
    // failures ends it. The indexes show what each read waited on.
    let mut script = vec![
        Ok(Some(5)),
        Err(failure(true)),
        Ok(Some(6)),
        Err(failure(true)),
    ];
    script.push(Err(failure(true)));
    script.reverse();
    let mut waited = Vec::new();
    monitor_until_lost(1, |index| {
        waited.push(index);
        script.pop().expect("the monitor stopped in time")
    });
    assert_eq!(waited, [0, 5, 0, 6, 0]);
    let mut calls = 0;
    monitor_until_lost(3, |_| {
        calls += 1;
        Err(failure(false))
    });
    assert_eq!(calls, 1, "a non-retryable failure ends it at once");
}
