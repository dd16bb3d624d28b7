//! Script checks (`args`), only registered when `enable_script_checks` is set: exit 0 is
//! passing, 1 warning, anything else critical; the output is stdout and stderr together.

use super::OUTPUT_READ_BYTES_MAX;
use concord_core::catalog::CheckStatus;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

pub async fn run(args: &[String], timeout: Duration) -> (CheckStatus, String) {
    let Some((program, rest)) = args.split_first() else {
        return super::critical("no script arguments".into());
    };
    let mut command = Command::new(program);
    command.args(rest).stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return super::critical(format!("Check failed to start: {e}")),
        Err(_) => return super::critical(format!("Timed out ({timeout:?}) running check")),
    };
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text.truncate(text.floor_char_boundary(OUTPUT_READ_BYTES_MAX));
    let status = match output.status.code() {
        Some(0) => CheckStatus::Passing,
        Some(1) => CheckStatus::Warning,
        _ => CheckStatus::Critical,
    };
    (status, text)
}
