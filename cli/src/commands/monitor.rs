//! `concord monitor [-log-level=LEVEL] [-log-json]`: follows the agent's log lines as they
//! occur (`/v1/agent/monitor`), at a level that may be more verbose than the agent's own.
//! Like Consul's: Ctrl+C ends it with status 0; the agent ending the stream (it stopped)
//! says so and exits 1.

use super::{fail, signals, HttpArgs};
use clap::Args;
use std::io::{BufRead, BufReader, Read, Write};

/// Consul's words when the agent ends the stream.
pub const REMOTE_ENDED: &str =
    "Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.";

#[derive(Args, Clone, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The level of the lines to show (trace, debug, info, warn, err); may be more verbose
    /// than the agent's own.
    #[arg(long, value_name = "LEVEL", default_value = "INFO")]
    pub log_level: String,
    /// Stream the lines as JSON objects.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub log_json: Option<bool>,
}

pub fn run(args: &MonitorArgs) -> i32 {
    let client = match args.http.client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    let mut query = vec![("loglevel", args.log_level.as_str())];
    if args.log_json.unwrap_or(false) {
        query.push(("logjson", ""));
    }
    // Nothing to clean up: an interrupt ends the process at once, with status 0.
    signals::exit_on_shutdown();
    let body = match client.get_streaming("/v1/agent/monitor", &query) {
        Ok((200, body)) => body,
        Ok((status, body)) => {
            let reason = read_reason(body);
            return fail(format!(
                "Error starting monitor: Unexpected response code: {status} ({reason})"
            ));
        }
        Err(e) => return fail(format!("Error starting monitor: {e}")),
    };
    copy_lines(BufReader::new(body), &mut std::io::stdout().lock());
    println!();
    println!("{REMOTE_ENDED}");
    1
}

/// Copies the stream line by line, flushing each so a pipe sees it at once; stops at the end
/// or at a broken stream.
fn copy_lines(reader: impl BufRead, out: &mut impl Write) {
    for line in reader.split(b'\n') {
        let Ok(line) = line else { return };
        if out
            .write_all(&line)
            .and_then(|()| out.write_all(b"\n"))
            .is_err()
        {
            return;
        }
        let _ = out.flush();
    }
}

/// An error answer's body (short: it is a reason, not a stream).
fn read_reason(body: Box<dyn std::io::Read + Send>) -> String {
    let mut reason = String::new();
    let _ = body.take(4096).read_to_string(&mut reason);
    reason.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_copied_whole_with_a_last_partial_line_ended() {
        let input: &[u8] = b"2026-12-01T02:00:00.000Z [DEBUG] a\nsecond\npartial";
        let mut out = Vec::new();
        copy_lines(input, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-12-01T02:00:00.000Z [DEBUG] a\nsecond\npartial\n"
        );
    }
}
