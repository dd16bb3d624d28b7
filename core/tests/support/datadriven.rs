//! A small datadriven test runner in the style of etcd-io/raft's testdata: a file is a list of
//! cases, each a command line, `----`, and the expected output, ended by a blank line. With
//! `REWRITE=1` in the environment the expected output is rewritten from what ran.

use std::fmt::Write as _;
use std::path::Path;

pub struct Case {
    pub line_number: usize,
    pub command: String,
    pub args: Vec<String>,
    pub expected: String,
}

impl Case {
    /// The value of `key=value` among the arguments.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find_map(|a| a.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// Arguments that are not `key=value`.
    pub fn positional(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter(|a| !a.contains('='))
            .map(|s| s.as_str())
            .collect()
    }
}

fn parse(text: &str) -> (Vec<(String, Case)>, String) {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut preamble = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || line.starts_with('#') {
            writeln!(preamble, "{line}").unwrap();
            i += 1;
            continue;
        }
        let line_number = i + 1;
        let mut words = line.split_whitespace().map(String::from);
        let command = words.next().expect("non-empty line");
        let args: Vec<String> = words.collect();
        i += 1;
        assert!(
            i < lines.len() && lines[i] == "----",
            "line {}: expected ---- after the command",
            i + 1
        );
        i += 1;
        let mut expected = String::new();
        while i < lines.len() && !lines[i].is_empty() {
            writeln!(expected, "{}", lines[i]).unwrap();
            i += 1;
        }
        i += 1; // the blank line that ends the case
        cases.push((
            std::mem::take(&mut preamble),
            Case {
                line_number,
                command,
                args,
                expected,
            },
        ));
    }
    (cases, preamble)
}

/// Runs every case of `path` through `run`, comparing (or, with REWRITE=1, rewriting) outputs.
pub fn run_file(path: &Path, mut run: impl FnMut(&Case) -> String) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (cases, trailer) = parse(&text);
    let rewrite = std::env::var("REWRITE").is_ok_and(|v| v == "1");
    let mut rewritten = String::new();
    let mut failures = Vec::new();
    for (preamble, case) in &cases {
        let mut actual = run(case);
        if actual.is_empty() {
            actual = "ok\n".to_string();
        }
        if !actual.ends_with('\n') {
            actual.push('\n');
        }
        rewritten.push_str(preamble);
        writeln!(rewritten, "{} {}\n----", case.command, case.args.join(" ")).unwrap();
        rewritten.push_str(&actual);
        rewritten.push('\n');
        if actual != case.expected && !rewrite {
            failures.push(format!(
                "{}:{}: {} {}\nexpected:\n{}got:\n{}",
                path.display(),
                case.line_number,
                case.command,
                case.args.join(" "),
                case.expected,
                actual
            ));
        }
    }
    rewritten.push_str(&trailer);
    let rewritten = rewritten
        .replace(" \n----", "\n----")
        .trim_end()
        .to_string()
        + "\n";
    if rewrite {
        std::fs::write(path, rewritten).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed (REWRITE=1 regenerates):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The test files under `core/testdata/SUBDIR`, in name order (never none).
pub fn testdata_files(subdir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(subdir);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no files in {}", dir.display());
    paths
}
