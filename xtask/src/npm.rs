//! The npm real-client test: the `consul` package from npm (2.x, and 0.40 for its Lock helper),
//! unchanged, against a real `concord agent -dev`. The script starts the agent on free ports and
//! stops it; this step only installs Node.js if missing and the pinned packages into target/npm.

use std::fs;
use std::process::Command;

use crate::{root, step};

/// Installs Node.js and npm from Debian when `npm` is not on the PATH (through sudo when not root).
pub(crate) const INSTALL_NODE: &str =
    "command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { S=; \
     [ \"$(id -u)\" = 0 ] || S=sudo; \
     $S apt-get update -qq && $S apt-get install -y -qq nodejs npm; }";

pub fn npm_consul() -> Result<(), String> {
    let tests = root().join("tests/npm");
    let script = tests.join("test_consul.mjs");
    if !script.exists() {
        return Err(format!("missing {}", script.display()));
    }
    let npm_dir = root().join("target/npm");
    fs::create_dir_all(&npm_dir).map_err(|e| format!("create {}: {e}", npm_dir.display()))?;
    // The pinned versions live in tests/npm; node_modules stays out of the source tree.
    for file in ["package.json", "package-lock.json"] {
        let (from, to) = (tests.join(file), npm_dir.join(file));
        fs::copy(&from, &to)
            .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
    }
    step(
        "install Node.js and npm if missing",
        Command::new("sh").args(["-c", INSTALL_NODE]),
    )?;
    step(
        "install the npm consul package (pinned by tests/npm/package-lock.json)",
        Command::new("npm").current_dir(&npm_dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
    )?;
    step(
        "npm consul against a real agent",
        Command::new("node")
            .current_dir(root())
            .arg(&script)
            .env("CONCORD_BIN", root().join("target/debug/concord"))
            .env("CONCORD_NPM_DIR", &npm_dir)
            .env(
                "CONCORD_NPM_LOG",
                root().join("target/npm-consul-agent.log"),
            ),
    )
}
