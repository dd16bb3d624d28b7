//! `concord lock [options] PREFIX CHILD...`: runs CHILD while holding a lock (or, with `-n N`, a
//! slot of a semaphore) on PREFIX, as `consul lock` does, over the agent's HTTP API. The child
//! is told `CONSUL_LOCK_HELD=true` and `CONCORD_LOCK_TOKEN=<fencing token>`: the ModifyIndex at
//! which its acquisition applied, larger for every later holder, for resources that refuse
//! writes carrying a smaller token than one already seen.

mod child;
mod kv;
mod mutex;
mod run;
mod semaphore;
mod session;

pub use run::run;

use crate::commands::HttpArgs;
use clap::Args;
use concord_core::duration::parse_setting_ms;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Go's `DefaultLockWaitTime` and `DefaultSemaphoreWaitTime`: one blocking read while waiting.
const ACQUIRE_WAIT: Duration = Duration::from_secs(15);
/// One blocking read of a monitor (kept below the HTTP client's own timeout).
const MONITOR_WAIT: Duration = Duration::from_secs(15);
/// Consul's `defaultMonitorRetryTime`: between retries of a failed monitor read.
const MONITOR_RETRY_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Args, Clone, Debug)]
#[command(override_usage = "concord lock [options] PREFIX CHILD...")]
pub struct LockArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Optional limit on the number of concurrent lock holders. The underlying implementation
    /// switches from a lock to a semaphore when the value is greater than 1.
    #[arg(
        short = 'n',
        long = "n",
        value_name = "N",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub limit: i64,
    /// Optional name to associate with the lock session. If not provided, one is generated
    /// based on the provided child command.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Maximum amount of time to wait to acquire the lock, as a duration like "1s" or "3h".
    /// The default (0) waits for ever.
    #[arg(long, alias = "try", value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Number of times to retry if the agent returns a 500 error or cannot be reached while
    /// monitoring the lock, with 1s between retries; 0 disables retries.
    #[arg(
        long = "monitor-retry",
        value_name = "N",
        default_value_t = 3,
        allow_negative_numbers = true
    )]
    pub monitor_retry: i64,
    /// Use a shell to run the command (can set a custom shell via the SHELL environment
    /// variable).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub shell: Option<bool>,
    /// Pass stdin to the child process.
    #[arg(long = "pass-stdin", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub pass_stdin: Option<bool>,
    /// Exit 2 if the child process exited with an error, instead of 0.
    #[arg(long = "child-exit-code", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub child_exit_code: Option<bool>,
    /// Enable verbose (debugging) output.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub verbose: Option<bool>,
    /// Lock-delay of the lock's session (Concord): after the session ends without releasing,
    /// nobody may take its lock for this long. Default: the server's 15s; 0s disables.
    #[arg(long = "lock-delay", value_name = "DURATION")]
    pub lock_delay: Option<String>,
    /// The key prefix, then the child command and its arguments.
    #[arg(value_name = "PREFIX CHILD", trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub words: Vec<String>,
}

/// Flags of `concord lock` that take the next word as their value (`-name job`).
const FLAGS_WITH_VALUES: [&str; 9] = [
    "n",
    "name",
    "timeout",
    "try",
    "monitor-retry",
    "lock-delay",
    "http-addr",
    "rpc-addr",
    "token",
];

/// Go's `-n=3` for the one one-letter flag: clap would take it for the PREFIX (the child's words
/// may start with `-`), so it becomes `--n=3`. Only flags before PREFIX are looked at; `argv`
/// is the whole command line (`concord lock ...`).
pub fn repair_short_n(argv: &mut [String]) {
    let mut takes_value = false;
    for word in argv.iter_mut().skip(2) {
        if takes_value {
            takes_value = false;
            continue;
        }
        if word == "--" || !word.starts_with('-') {
            return;
        }
        if let Some(value) = word.strip_prefix("-n=") {
            *word = format!("--n={value}");
            continue;
        }
        let name = word.trim_start_matches('-');
        takes_value = !name.contains('=') && FLAGS_WITH_VALUES.contains(&name);
    }
}

/// The checked flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub prefix: String,
    pub child: Vec<String>,
    pub limit: u64,
    pub session_name: String,
    /// `Some`: give up when not acquired within it (Consul's one-shot mode).
    pub timeout: Option<Duration>,
    pub monitor_retry: u32,
    pub shell: bool,
    pub pass_stdin: bool,
    pub child_exit_code: bool,
    pub verbose: bool,
    pub lock_delay_ms: Option<u64>,
}

/// Checks the flags in Consul's order, with Consul's messages.
pub fn plan(args: &LockArgs) -> Result<Plan, String> {
    if args.limit <= 0 {
        return Err("Lock holder limit must be positive".to_string());
    }
    if args.words.len() < 2 {
        return Err("Key prefix and child command must be specified".to_string());
    }
    let prefix = args.words[0].strip_prefix('/').unwrap_or(&args.words[0]);
    let child = args.words[1..].to_vec();
    let timeout_ms = match &args.timeout {
        Some(text) if text.trim().starts_with('-') => {
            return Err("Timeout must be positive".to_string())
        }
        Some(text) => {
            parse_setting_ms(text).map_err(|e| format!("invalid value for -timeout: {e}"))?
        }
        None => 0,
    };
    if args.monitor_retry < 0 {
        return Err("Number for 'monitor-retry' must be >= 0".to_string());
    }
    let lock_delay_ms = match &args.lock_delay {
        Some(text) => Some(
            parse_setting_ms(text).map_err(|e| format!("invalid value for -lock-delay: {e}"))?,
        ),
        None => None,
    };
    let session_name = match &args.name {
        Some(name) if !name.is_empty() => name.clone(),
        _ => format!("Consul lock for '{}' at '{prefix}'", child.join(" ")),
    };
    Ok(Plan {
        prefix: prefix.to_string(),
        child,
        limit: args.limit as u64,
        session_name,
        timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
        monitor_retry: u32::try_from(args.monitor_retry).unwrap_or(u32::MAX),
        shell: args.shell.unwrap_or(true),
        pass_stdin: args.pass_stdin.unwrap_or(false),
        child_exit_code: args.child_exit_code.unwrap_or(false),
        verbose: args.verbose.unwrap_or(false),
        lock_delay_ms,
    })
}

/// What the threads of a running `concord lock` tell its main loop.
pub enum Event {
    /// SIGINT or SIGTERM.
    Shutdown,
    /// The acquisition ended: the fencing token, `None` for a timeout, or the error.
    Acquired(Result<Option<u64>, String>),
    /// The monitor saw the lock taken from us (or could not read it).
    Lost,
    /// The child ended (`None`: its status could not be read).
    ChildExited(Option<ExitStatus>),
}

/// Whether the lock key could be removed after the release (Go's `Destroy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    Done,
    /// Another contender holds or waits for it: left in place.
    InUse,
}

/// Consul's one-shot mode: the wait of each blocking read while acquiring, until the timeout.
pub struct AcquireClock {
    start: Instant,
    timeout: Option<Duration>,
    attempts: u32,
}

impl AcquireClock {
    pub fn new(timeout: Option<Duration>) -> AcquireClock {
        AcquireClock {
            start: Instant::now(),
            timeout,
            attempts: 0,
        }
    }

    /// The wait of the next read, `None` once the timeout has passed (the first read always
    /// happens).
    pub fn next_wait(&mut self) -> Option<Duration> {
        let mut wait = ACQUIRE_WAIT;
        if let (Some(timeout), true) = (self.timeout, self.attempts > 0) {
            let elapsed = self.start.elapsed();
            if elapsed > timeout {
                return None;
            }
            wait = timeout - elapsed;
        }
        self.attempts += 1;
        Some(wait)
    }
}

/// The monitor loop of Go's `api.Lock` and `api.Semaphore`: `read(index)` answers whether we
/// still hold (`Some(next index)`) or not (`None`); a retryable failure is tried again up to
/// `retries_max` times in a row, a second apart, with a fresh (non-blocking) read. Returns
/// when the hold is gone or cannot be confirmed.
pub fn monitor_until_lost(
    retries_max: u32,
    mut read: impl FnMut(u64) -> Result<Option<u64>, kv::ReadError>,
) {
    let mut index = 0;
    let mut retries = retries_max;
    loop {
        match read(index) {
            Ok(Some(next)) => {
                index = next;
                retries = retries_max;
            }
            Ok(None) => return,
            Err(e) if retries > 0 && e.retryable => {
                std::thread::sleep(MONITOR_RETRY_INTERVAL);
                retries -= 1;
                index = 0;
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests;
