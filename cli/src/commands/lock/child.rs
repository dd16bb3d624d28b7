//! The child `concord lock` runs while it holds the lock: started with the lock's environment,
//! in its own process group (so stopping it stops everything it started: a grandchild left
//! running after the lock is gone would act without the lock), stopped with SIGTERM and, after
//! Consul's grace period, SIGKILL.

use super::Event;
use crate::commands::subprocess;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Consul's `lockKillGracePeriod`: between SIGTERM and SIGKILL.
pub const KILL_GRACE_PERIOD: Duration = Duration::from_secs(5);
/// How long a SIGKILLed child may take to be reaped before we stop waiting for it.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the child is and what it is told.
pub struct ChildSpec<'a> {
    pub words: &'a [String],
    pub shell: bool,
    pub pass_stdin: bool,
    /// The fencing token of this hold (`CONCORD_LOCK_TOKEN`).
    pub fencing_token: u64,
}

/// A started child: its exit arrives as `Event::ChildExited`.
pub struct Child {
    pid: i32,
}

impl Child {
    /// Starts the child; a thread waits for it and reports its exit on `events`.
    pub fn start(spec: &ChildSpec, events: Sender<Event>) -> Result<Child, String> {
        let mut command = subprocess::command(spec.words, spec.shell)?;
        command
            .env("CONSUL_LOCK_HELD", "true")
            .env("CONCORD_LOCK_TOKEN", spec.fencing_token.to_string())
            .stdin(if spec.pass_stdin {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .process_group(0);
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        let pid = i32::try_from(child.id()).map_err(|_| "child pid out of range".to_string())?;
        std::thread::spawn(move || {
            let status = child.wait().ok();
            let _ = events.send(Event::ChildExited(status));
        });
        Ok(Child { pid })
    }

    /// SIGTERM to the child's group, SIGKILL after the grace period (Consul's `killChild`);
    /// returns once the child is reaped (or `REAP_TIMEOUT` after the SIGKILL).
    pub fn stop(&self, events: &Receiver<Event>, verbose: bool) -> Result<(), String> {
        if verbose {
            println!("Terminating child pid {}", self.pid);
        }
        if let Err(e) = self.signal(libc::SIGTERM) {
            return Err(format!("Failed to terminate {}: {e}", self.pid));
        }
        if wait_for_exit(events, KILL_GRACE_PERIOD) {
            if verbose {
                println!("Child terminated");
            }
            return Ok(());
        }
        if verbose {
            println!("Child did not exit after grace period of {KILL_GRACE_PERIOD:?}");
            println!("Killing child pid {}", self.pid);
        }
        if let Err(e) = self.signal(libc::SIGKILL) {
            return Err(format!("Failed to kill {}: {e}", self.pid));
        }
        wait_for_exit(events, REAP_TIMEOUT);
        Ok(())
    }

    /// Signals the child's whole process group; a group already gone is no error.
    fn signal(&self, signal: libc::c_int) -> Result<(), std::io::Error> {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
        let rc = unsafe { libc::kill(-self.pid, signal) };
        let error = std::io::Error::last_os_error();
        match rc {
            0 => Ok(()),
            _ if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            _ => Err(error),
        }
    }
}

/// Waits up to `timeout` for `Event::ChildExited` (other events no longer matter); whether it
/// came.
fn wait_for_exit(events: &Receiver<Event>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::ChildExited(_)) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}
