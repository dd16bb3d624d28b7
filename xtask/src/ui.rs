//! The browser test of the web UI: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm, which downloads no browser) against a real cluster of 3 servers
//! and 2 client agents. The script starts and stops the agents itself; this step installs
//! Chromium and Node.js if missing, the pinned packages into target/ui-npm, and runs it.
//! Screenshots land in target/ui-screenshots/; `CONCORD_UI_README_SHOT=1 cargo xtask ui` also
//! writes the README's docs/images/ui-services.png.

use std::process::Command;

use crate::{root, step};

/// Installs Debian's Chromium when `chromium` is not on the PATH (through sudo when not root).
const INSTALL_CHROMIUM: &str = "command -v chromium >/dev/null 2>&1 || { S=; \
     [ \"$(id -u)\" = 0 ] || S=sudo; \
     $S apt-get update -qq && $S apt-get install -y -qq chromium; }";

/// Where `chromium` is, for playwright's `executablePath`.
fn chromium_path() -> Result<String, String> {
    let output = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .map_err(|e| format!("looking for chromium: {e}"))?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if path.is_empty() {
        return Err("chromium is not on the PATH after installing it".into());
    }
    Ok(path)
}

pub fn ui_browser() -> Result<(), String> {
    let script = root().join("tests/ui/test_ui.mjs");
    if !script.exists() {
        return Err(format!("missing {}", script.display()));
    }
    step(
        "install Chromium (Debian's chromium) if missing",
        Command::new("sh").args(["-c", INSTALL_CHROMIUM]),
    )?;
    let chromium = chromium_path()?;
    let npm_dir = crate::npm::install_pinned("tests/ui", "target/ui-npm", "playwright-core")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    step(
        "build the concord binary",
        Command::new(cargo)
            .current_dir(root())
            .args(["build", "-p", "concord"]),
    )?;
    step(
        "the web UI in headless Chromium against a real 3-server cluster",
        Command::new("node")
            .current_dir(root())
            .arg(&script)
            .env("CONCORD_BIN", root().join("target/debug/concord"))
            .env("CONCORD_UI_NPM_DIR", &npm_dir)
            .env("CONCORD_CHROMIUM", chromium)
            .env("CONCORD_UI_SHOTS", root().join("target/ui-screenshots"))
            .env("CONCORD_UI_WORK", root().join("target/ui-cluster")),
    )
}
