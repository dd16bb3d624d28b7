//! The simulator's `start NAME FLAGS...` and `concord agent FLAGS...` agree, flag by flag:
//! every flag the agent's command line has is in [`ACCEPTED`] (a flag added to the CLI
//! without a row here fails the test), each row gives the same plan on both roads and reaches
//! the plan, and each row of [`REFUSED`] gets the same error on both roads.
//!
//! The CLI's road is `concord_config::plan_agent` on the words `concord agent` receives
//! (`cli/src/agent/mod.rs` calls nothing else); the scenario's road is a `start` line read by
//! the scenario parser and planned by `node_spec`'s `plan_start`, on the same machine (the
//! world's machine config and host facts).

#![cfg(test)]

use super::parse::parse;
use super::run::plan_start;
use crate::world::{host_facts, machine_layer};
use concord_config::{agent_command, plan_agent};
use std::net::Ipv4Addr;

const IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 7);
const SEED: u64 = 42;
/// Replaced by a directory holding `a.json`, `b.hcl` and `plain.conf`.
const DIR: &str = "{dir}";

/// One case per flag of `concord agent`: the flag's name, then a `start` line's flags.
const ACCEPTED: &[(&str, &str)] = &[
    ("dev", "-dev"),
    ("server", "-server"),
    ("client", "-client 10.1.2.3"),
    ("bind", "-bind 10.0.0.7"),
    ("advertise", "-bind 0.0.0.0 -advertise 10.0.0.8"),
    ("bootstrap-expect", "-server -bootstrap-expect 3"),
    ("bootstrap", "-server -bootstrap"),
    ("data-dir", "-data-dir /tmp/n0"),
    ("config-file", "-config-file {dir}/a.json"),
    ("config-dir", "-config-dir {dir}"),
    (
        "config-format",
        "-config-format hcl -config-file {dir}/plain.conf",
    ),
    ("hcl", "-hcl \"raft_snapshot_threshold = 32\""),
    ("node", "-node other"),
    ("datacenter", "-datacenter east"),
    ("join", "-join 10.0.0.9"),
    ("retry-join", "-retry-join 10.0.0.9:9301"),
    ("retry-interval", "-retry-interval 1m30s"),
    ("ui", "-ui"),
    ("ui-dir", "-ui-dir /srv/ui"),
    ("http-port", "-http-port 8501"),
    ("dns-port", "-dns-port -1"),
    ("server-port", "-server-port 9300"),
    ("serf-lan-port", "-serf-lan-port 9301"),
    ("log-level", "-log-level warn"),
    ("log-json", "-log-json"),
    ("pid-file", "-pid-file /tmp/concord.pid"),
    (
        "raft-snapshot-threshold",
        "-server -raft-snapshot-threshold 32",
    ),
    (
        "raft-snapshot-chunk-bytes",
        "-raft-snapshot-chunk-bytes 4096",
    ),
    ("enable-script-checks", "-enable-script-checks"),
    ("enable-local-script-checks", "-enable-local-script-checks"),
];

/// Flags accepted for compatibility that change nothing yet (with the words to try), and
/// `-encrypt`, which is refused (in [`REFUSED`]). None today: each flag reaches the plan.
const ACCEPTED_UNUSED: &[(&str, &str)] = &[];

/// `start` flags the CLI refuses, and a part of the error both roads must give.
const REFUSED: &[(&str, &str)] = &[
    (
        "-bootstrap",
        "'bootstrap = true' not allowed in client mode",
    ),
    (
        "-bootstrap-expect 3",
        "'bootstrap_expect > 0' not allowed in client mode",
    ),
    (
        "-server=false -bootstrap-expect 3",
        "not allowed in client mode",
    ),
    ("-dev -bootstrap-expect 3", "not allowed in dev mode"),
    (
        "-server -bootstrap -bootstrap-expect 3",
        "mutually exclusive",
    ),
    (
        "-encrypt pUqJrVyVRj5jsiYEkM/tFQ==",
        "-encrypt: gossip encryption is not built",
    ),
    ("-http-port 0", "--http-port"),
    ("-server-port -1", "cannot be turned off"),
    ("-bogus", "unexpected argument '--bogus'"),
    ("-node", "a value is required for '--node <NAME>'"),
    ("-retry-interval 30", "invalid duration \"30\""),
    ("-log-level loud", "invalid log level"),
    ("-client localhost", "invalid client address \"localhost\""),
    ("-bind not-an-ip", "invalid bind address"),
    ("-config-format xml", "invalid config format"),
    ("-raft-snapshot-threshold 0", "must be at least 1"),
    ("-hcl \"ports { http = 0 }\"", "Error parsing -hcl"),
    (
        "-hcl \"raft_snapshot_chunk_bytes = 0\"",
        "raft_snapshot_chunk_bytes",
    ),
    (
        "-config-file /nonexistent/x.json",
        "Error reading /nonexistent/x.json",
    ),
    (
        "-config-file {dir}/bad.json",
        "key \"bootstrap_expect\": expected a number",
    ),
];

struct ConfigDir(std::path::PathBuf);

impl ConfigDir {
    /// A directory of its own: tests run in parallel, and each removes its directory when done.
    fn new() -> ConfigDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("concord-sim-start-flags-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write(
            "a.json",
            r#"{"datacenter": "from-json", "retry_join": ["10.0.0.4"]}"#,
        );
        write("b.hcl", "raft_snapshot_threshold = 100\n");
        write("plain.conf", "datacenter = \"from-plain\"\n");
        write("bad.json", r#"{"bootstrap_expect": "three"}"#);
        ConfigDir(dir)
    }

    fn fill(&self, flags: &str) -> String {
        flags.replace(DIR, &self.0.display().to_string())
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bad.json` would make `-config-dir` fail: it has its own directory.
fn without_bad_file(dir: &ConfigDir, flags: &str) -> String {
    if flags.contains("-config-dir") {
        let _ = std::fs::remove_file(dir.0.join("bad.json"));
    }
    dir.fill(flags)
}

/// Both roads for one set of flags: (CLI, scenario), each the plan or the error.
fn both_roads(flags: &str) -> (Result<String, String>, Result<String, String>) {
    let line = format!("start s1 {flags}");
    let parsed = parse(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let words: Vec<&str> = parsed[0].words[2..].iter().map(String::as_str).collect();
    let scenario = plan_start("s1", &words, IP, SEED).map(|p| format!("{:?}", p.plan));
    let cli_words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let cli = plan_agent(&cli_words, machine_layer(), &host_facts("s1", IP, SEED))
        .map(|p| format!("{:?}", p.plan))
        .map_err(|e| e.to_string().trim_end().to_string());
    (cli, scenario)
}

#[test]
fn every_cli_flag_has_a_row() {
    let covered: Vec<&str> = ACCEPTED
        .iter()
        .chain(ACCEPTED_UNUSED)
        .map(|(flag, _)| *flag)
        .chain(["encrypt", "help"])
        .collect();
    for arg in agent_command().get_arguments() {
        let long = arg.get_long().unwrap_or_default();
        assert!(
            covered.contains(&long),
            "-{long} has no row in ACCEPTED: add one (and to REFUSED if it can be refused)"
        );
    }
}

#[test]
fn accepted_flags_give_the_same_plan_on_both_roads_and_reach_it() {
    let dir = ConfigDir::new();
    let (_, baseline) = both_roads("");
    let baseline = baseline.expect("a bare start line plans");
    for (flag, flags) in ACCEPTED.iter().chain(ACCEPTED_UNUSED) {
        let flags = without_bad_file(&dir, flags);
        let (cli, scenario) = both_roads(&flags);
        let plan = cli.unwrap_or_else(|e| panic!("-{flag}: the CLI refused {flags}: {e}"));
        assert_eq!(Ok(&plan), scenario.as_ref(), "-{flag}: {flags}");
        let unused = ACCEPTED_UNUSED.iter().any(|(f, _)| f == flag);
        assert_eq!(
            plan == baseline,
            unused,
            "-{flag} ({flags}) must reach the plan"
        );
    }
}

#[test]
fn refused_flags_give_the_users_error_on_both_roads() {
    let dir = ConfigDir::new();
    for (flags, want) in REFUSED {
        let flags = dir.fill(flags);
        let (cli, scenario) = both_roads(&flags);
        let error = cli.expect_err(&flags);
        assert!(
            error.contains(want),
            "{flags}: {error:?} should contain {want:?}"
        );
        assert_eq!(Err(&error), scenario.as_ref(), "{flags}");
    }
}

/// The simulator's old parser made servers of these and dropped these values.
#[test]
fn old_disagreements_are_gone() {
    let spec = |flags: &str| {
        let words: Vec<&str> = flags.split_whitespace().collect();
        super::run::node_spec("s1", &words, IP, SEED)
    };
    let client = spec("-server=false").unwrap();
    assert_eq!(client.role, concord_core::membership::Role::Client);
    let named = spec("-node n9 -bind 10.0.0.7 -data-dir /tmp/n9").unwrap();
    assert_eq!(named.config.agent.node_name, "n9");
    assert_eq!(named.config.agent.gossip_addr, "10.0.0.7:8301");
    assert_eq!(named.config.data_dir, Some("/tmp/n9".into()));
    assert!(spec("-dev").unwrap().in_memory());
    assert!(spec("-bootstrap").is_err());
    assert!(spec("-bootstrap-expect 2").is_err());
}
