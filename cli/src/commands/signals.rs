//! SIGINT and SIGTERM for commands that must clean up before they exit (`concord lock` releases
//! its lock and stops its child): the handler only records the signal; the command polls.

use std::sync::atomic::{AtomicI32, Ordering};

/// The last shutdown signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(signal: libc::c_int) {
    // Async-signal-safe: one atomic store.
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM from now on (instead of dying at once).
pub fn catch_shutdown() {
    let handler = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: `record` only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Whether a shutdown signal has arrived.
pub fn shutdown_requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) != 0
}

extern "C" fn exit_now(_signal: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe; nothing is left to clean up (see `exit_on_shutdown`).
    unsafe { libc::_exit(0) }
}

/// SIGINT and SIGTERM end the process at once with status 0: for commands that hold nothing
/// that needs releasing (`concord watch`, as Consul's watch exits 0 on a shutdown signal),
/// even while they are blocked in a long read.
pub fn exit_on_shutdown() {
    let handler = exit_now as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: `exit_now` only calls `_exit`, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}
