//! Running a user's command the way Consul's `lock` and `watch` do (agent.ExecScript and
//! agent.ExecSubprocess): with `-shell` (the default) the words are joined by spaces and run by
//! `$SHELL -c` (`/bin/sh` when unset); without it the first word is the program.

use std::process::{Command, ExitStatus};

/// The shell when `$SHELL` is unset or empty.
const SHELL_DEFAULT: &str = "/bin/sh";

/// A `Command` for `words`, not yet started.
pub fn command(words: &[String], shell: bool) -> Result<Command, String> {
    if words.is_empty() {
        return Err("no command given".to_string());
    }
    if !shell {
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]);
        return Ok(command);
    }
    let program = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| SHELL_DEFAULT.to_string());
    let mut command = Command::new(program);
    command.arg("-c").arg(words.join(" "));
    Ok(command)
}

/// Go's text for a process that did not succeed (`exit status 3`, `signal: terminated`).
pub fn status_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(libc::SIGTERM)) => "signal: terminated".to_string(),
        (None, Some(libc::SIGKILL)) => "signal: killed".to_string(),
        (None, Some(libc::SIGINT)) => "signal: interrupt".to_string(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "exited".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_joins_the_words_and_exec_keeps_them() {
        let words: Vec<String> = ["echo", "a", "b"].iter().map(|s| s.to_string()).collect();
        let shell = command(&words, true).unwrap();
        let args: Vec<_> = shell.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(args, ["-c", "echo a b"]);
        let exec = command(&words, false).unwrap();
        assert_eq!(exec.get_program(), "echo");
        assert_eq!(exec.get_args().count(), 2);
        assert!(command(&[], true).is_err());
    }

    #[test]
    fn statuses_read_like_go() {
        let status = |words: &[&str]| {
            let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            command(&words, false).unwrap().status().unwrap()
        };
        assert_eq!(
            status_text(status(&["sh", "-c", "exit 3"])),
            "exit status 3"
        );
        assert_eq!(
            status_text(status(&["sh", "-c", "kill -TERM $$"])),
            "signal: terminated"
        );
    }
}
