//! The life of one `concord lock`: acquire, run the child while the monitor watches the lock,
//! then stop the child if needed, release, clean up. Threads (acquirer, monitor, child waiter,
//! signal watcher) report to this loop through one channel.

use super::child::{Child, ChildSpec};
use super::mutex::Mutex;
use super::semaphore::Semaphore;
use super::session::{LockSession, SessionSpec};
use super::{plan, AcquireClock, Cleanup, Event, LockArgs, Plan};
use crate::commands::{fail, signals, subprocess};
use crate::http_client::Client;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// How often the signal watcher looks for SIGINT/SIGTERM.
const SIGNAL_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The lock or the semaphore: the same steps, Go's two algorithms.
#[derive(Clone)]
enum Contender {
    Mutex(Mutex),
    Semaphore(Semaphore),
}

impl Contender {
    fn acquire(&self, clock: &mut AcquireClock) -> Result<Option<u64>, String> {
        match self {
            Contender::Mutex(m) => m.acquire(clock),
            Contender::Semaphore(s) => s.acquire(clock),
        }
    }

    fn monitor(&self, retries: u32) {
        match self {
            Contender::Mutex(m) => m.monitor(retries),
            Contender::Semaphore(s) => s.monitor(retries),
        }
    }

    fn release(&self) -> Result<(), String> {
        match self {
            Contender::Mutex(m) => m.release(),
            Contender::Semaphore(s) => s.release(),
        }
    }

    fn cleanup(&self) -> Result<Cleanup, String> {
        match self {
            Contender::Mutex(m) => m.cleanup(),
            Contender::Semaphore(s) => s.cleanup(),
        }
    }
}

pub fn run(args: &LockArgs) -> i32 {
    let plan = match plan(args) {
        Ok(plan) => plan,
        Err(why) => return fail(why),
    };
    let client = match args.http.connected_client() {
        Ok(client) => client,
        Err(why) => return fail(why),
    };
    signals::catch_shutdown();
    say(&plan, &setup_text(&plan));
    say(&plan, "Attempting lock acquisition");
    let session = match LockSession::create(&client, &session_spec(&plan)) {
        Ok(session) => session,
        Err(e) => return fail(format!("Lock acquisition failed: {e}")),
    };
    let contender = contender(&plan, client, session.id());
    let (events_tx, events) = mpsc::channel();
    watch_signals(events_tx.clone());
    let acquirer = contender.clone();
    let (tx, timeout) = (events_tx.clone(), plan.timeout);
    std::thread::spawn(move || {
        let outcome = acquirer.acquire(&mut AcquireClock::new(timeout));
        let _ = tx.send(Event::Acquired(outcome));
    });
    match wait_acquired(&events) {
        Ok(Some(token)) => hold(&plan, &contender, session, (events_tx, events), token),
        Ok(None) => {
            // Destroying the session also frees whatever the abandoned acquirer may still get.
            session.destroy();
            fail("Shutdown triggered or timeout during lock acquisition")
        }
        Err(e) => {
            session.destroy();
            fail(format!("Lock acquisition failed: {e}"))
        }
    }
}

fn setup_text(plan: &Plan) -> String {
    if plan.limit == 1 {
        format!("Setting up lock at path: {}/.lock", plan.prefix)
    } else {
        format!(
            "Setting up semaphore (limit {}) at prefix: {}",
            plan.limit, plan.prefix
        )
    }
}

fn session_spec(plan: &Plan) -> SessionSpec {
    SessionSpec {
        name: plan.session_name.clone(),
        behavior: (plan.limit > 1).then_some("delete"),
        lock_delay_ms: plan.lock_delay_ms,
    }
}

fn contender(plan: &Plan, client: Client, session: &str) -> Contender {
    if plan.limit == 1 {
        Contender::Mutex(Mutex {
            client,
            key: format!("{}/.lock", plan.prefix),
            session: session.to_string(),
        })
    } else {
        Contender::Semaphore(Semaphore {
            client,
            prefix: plan.prefix.clone(),
            limit: plan.limit,
            session: session.to_string(),
        })
    }
}

/// Reports SIGINT/SIGTERM as `Event::Shutdown`, once.
fn watch_signals(events: Sender<Event>) {
    std::thread::spawn(move || loop {
        if signals::shutdown_requested() {
            let _ = events.send(Event::Shutdown);
            return;
        }
        std::thread::sleep(SIGNAL_POLL_INTERVAL);
    });
}

/// The acquirer's answer; a shutdown first counts as "not acquired".
fn wait_acquired(events: &Receiver<Event>) -> Result<Option<u64>, String> {
    loop {
        match events.recv() {
            Ok(Event::Acquired(outcome)) => return outcome,
            Ok(Event::Shutdown) | Err(_) => return Ok(None),
            Ok(_) => continue,
        }
    }
}

/// Why the child stopped running under the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The child ended by itself (`true`: successfully).
    ChildDone(bool),
    Shutdown,
    Lost,
}

/// Runs the child under the lock until it ends, the lock is lost or we are told to stop; then
/// releases. The exit code.
fn hold(
    plan: &Plan,
    contender: &Contender,
    session: LockSession,
    (events_tx, events): (Sender<Event>, Receiver<Event>),
    token: u64,
) -> i32 {
    if signals::shutdown_requested() {
        eprintln!("Shutdown triggered during lock acquisition");
        return release(plan, contender, session, Ending::Shutdown);
    }
    let monitor = contender.clone();
    let (tx, retries) = (events_tx.clone(), plan.monitor_retry);
    std::thread::spawn(move || {
        monitor.monitor(retries);
        let _ = tx.send(Event::Lost);
    });
    say(plan, "Starting handler");
    let spec = ChildSpec {
        words: &plan.child,
        shell: plan.shell,
        pass_stdin: plan.pass_stdin,
        fencing_token: token,
    };
    let child = match Child::start(&spec, events_tx) {
        Ok(child) => child,
        Err(e) => {
            eprintln!("Error starting handler: {e}");
            return release(plan, contender, session, Ending::ChildDone(false));
        }
    };
    let ending = wait_ending(plan, &events);
    if !matches!(ending, Ending::ChildDone(_)) {
        if let Err(e) = child.stop(&events, plan.verbose) {
            eprintln!("{e}");
        }
    }
    release(plan, contender, session, ending)
}

fn wait_ending(plan: &Plan, events: &Receiver<Event>) -> Ending {
    loop {
        match events.recv() {
            Ok(Event::Shutdown) => {
                say(plan, "Shutdown triggered, killing child");
                return Ending::Shutdown;
            }
            // Said whatever -verbose says: the child was stopped because the lock is gone.
            Ok(Event::Lost) | Err(_) => {
                eprintln!("Lock lost, killing child");
                return Ending::Lost;
            }
            Ok(Event::ChildExited(status)) => {
                let ok = status.is_some_and(|s| s.success());
                if let (false, Some(status)) = (ok, status) {
                    let text = subprocess::status_text(status);
                    eprintln!("Error running handler: {text}");
                }
                say(plan, "Child terminated, releasing lock");
                return Ending::ChildDone(ok);
            }
            Ok(Event::Acquired(_)) => continue,
        }
    }
}

/// Releases, destroys the session, removes the lock key if unused; the exit code.
fn release(plan: &Plan, contender: &Contender, session: LockSession, ending: Ending) -> i32 {
    let released = contender.release();
    session.destroy();
    if let Err(e) = released {
        return fail(format!("Lock release failed: {e}"));
    }
    match contender.cleanup() {
        Ok(Cleanup::Done) => say(plan, "Cleanup succeeded"),
        Ok(Cleanup::InUse) => say(plan, "Cleanup aborted, lock in use"),
        Err(e) => return fail(format!("Lock cleanup failed: {e}")),
    }
    match ending {
        Ending::Lost => 1,
        Ending::ChildDone(false) if plan.child_exit_code => 2,
        _ => 0,
    }
}

/// `-verbose` output (Consul's `UI.Info`).
fn say(plan: &Plan, text: &str) {
    if plan.verbose {
        println!("{text}");
    }
}
