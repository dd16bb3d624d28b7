//! The npm real-client test: the `consul` package from npm (2.x, and 0.40 for its Lock helper),
//! unchanged, against a real `concord agent -dev`. The script starts the agent on free ports and
//! stops it; this step only installs Node.js if missing and the pinned packages into target/npm.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::{root, step};

/// Installs Node.js and npm from Debian when `npm` is not on the PATH (through sudo when not root).
const INSTALL_NODE: &str =
    "command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { S=; \
     [ \"$(id -u)\" = 0 ] || S=sudo; \
     $S apt-get update -qq && $S apt-get install -y -qq nodejs npm; }";

pub fn npm_consul() -> Result<(), String> {
    let script = root().join("tests/npm/test_consul.mjs");
    if !script.exists() {
        return Err(format!("missing {}", script.display()));
    }
    let npm_dir = install_pinned("tests/npm", "target/npm", "the npm consul package")?;
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

/// Installs Node.js and npm if missing, and the packages pinned by `tests_dir`'s package.json
/// and package-lock.json into `npm_dir` (both relative to the workspace root), so that
/// node_modules stays out of the source tree. Returns the absolute `npm_dir`.
pub(crate) fn install_pinned(
    tests_dir: &str,
    npm_dir: &str,
    what: &str,
) -> Result<PathBuf, String> {
    let (tests, npm_dir) = (root().join(tests_dir), root().join(npm_dir));
    fs::create_dir_all(&npm_dir).map_err(|e| format!("create {}: {e}", npm_dir.display()))?;
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
        &format!("install {what} (pinned by {tests_dir}/package-lock.json)"),
        Command::new("npm").current_dir(&npm_dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
    )?;
    Ok(npm_dir)
}
