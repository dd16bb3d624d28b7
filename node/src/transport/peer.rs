//! One connection each way: an outbound writer per destination, an inbound reader per accepted
//! connection.

use super::frame::{self, FrameError, ReadBounds};
use super::limits::{Admitted, Inbound};
use super::{TransportStats, PEER_QUEUE_MAX};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const BACKOFF_MIN_MS: u64 = 50;
const BACKOFF_MAX_MS: u64 = 2_000;
const CONNECT_TIMEOUT_MS: u64 = 1_000;
/// The longest wait between two retransmissions of an outbound connection (TCP_RTO_MAX_MS,
/// Linux 6.15 and later; older kernels keep their 120 s). Without it, a connection whose
/// packets a partition dropped backs off exponentially, and after the partition heals the peer
/// hears nothing for as long again (54 s was seen): writes succeed locally all the while. With
/// it, what was queued arrives within a second of the heal, and nothing is lost.
#[cfg_attr(madsim, allow(dead_code))]
pub(super) const RETRANSMIT_INTERVAL_MS_MAX: u64 = 1_000;
/// Sent data unacknowledged this long ends an outbound connection (TCP_USER_TIMEOUT): the peer
/// is gone or cut off for good, and the writer reconnects. Aborting loses what the kernel still
/// held, so it must be well above the retransmission interval: a partition that heals sooner
/// loses nothing (an abort just after a heal would drop a forwarded request).
#[cfg_attr(madsim, allow(dead_code))]
pub(super) const UNACKNOWLEDGED_MS_MAX: u64 = 10_000;
const _: () = assert!(UNACKNOWLEDGED_MS_MAX >= 5 * RETRANSMIT_INTERVAL_MS_MAX);
/// linux/tcp.h's TCP_RTO_MAX_MS (the libc crate does not name it yet).
#[cfg(not(madsim))]
const TCP_RTO_MAX_MS: libc::c_int = 44;

/// Starts the writer task for `addr`; returns its bounded queue.
pub fn spawn(addr: String, stats: Arc<TransportStats>) -> mpsc::Sender<Arc<Vec<u8>>> {
    spawn_with(addr, stats, CONNECT_TIMEOUT_MS)
}

/// `spawn` with another connect timeout (tests need one shorter than the kernel's first SYN
/// retransmission, 1 s, to fail an attempt for certain).
pub(super) fn spawn_with(
    addr: String,
    stats: Arc<TransportStats>,
    connect_timeout_ms: u64,
) -> mpsc::Sender<Arc<Vec<u8>>> {
    assert!(connect_timeout_ms > 0);
    let (tx, rx) = mpsc::channel(PEER_QUEUE_MAX);
    tokio::spawn(write_loop(addr, rx, stats, connect_timeout_ms));
    tx
}

async fn write_loop(
    addr: String,
    mut queue: mpsc::Receiver<Arc<Vec<u8>>>,
    stats: Arc<TransportStats>,
    connect_timeout_ms: u64,
) {
    let mut backoff_ms = BACKOFF_MIN_MS;
    let mut pending: Option<Arc<Vec<u8>>> = None;
    loop {
        let queued_before_attempt = queue.len();
        let connect = tokio::time::timeout(
            Duration::from_millis(connect_timeout_ms),
            TcpStream::connect(&addr),
        );
        let mut stream = match connect.await {
            Ok(Ok(stream)) => stream,
            outcome => {
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                tracing::debug!(target: "concord", "transport: cannot connect to {addr}: {why}");
                TransportStats::count(&stats.connect_failures);
                drop_stale_frames(&mut queue, queued_before_attempt);
                pending = None;
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
                if queue.is_closed() && queue.is_empty() {
                    return;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        abort_when_unacknowledged(&stream);
        backoff_ms = BACKOFF_MIN_MS;
        loop {
            let frame = match pending.take() {
                Some(frame) => frame,
                None => match queue.try_recv() {
                    Ok(frame) => frame,
                    Err(_) => match queue.recv().await {
                        // After an idle while the peer may have died or restarted.
                        Some(frame) if closed_by_peer(&stream) => {
                            TransportStats::count(&stats.stale_connections);
                            pending = Some(frame);
                            break;
                        }
                        Some(frame) => frame,
                        None => return, // the transport is gone: the node stopped
                    },
                },
            };
            // Flush every frame: madsim's stream only sends on flush (real TCP's flush is free).
            let written = stream.write_all(&frame).await;
            if written.is_err() || stream.flush().await.is_err() {
                pending = Some(frame);
                break;
            }
            TransportStats::count(&stats.frames_sent);
        }
    }
}

/// While the peer is unreachable, what queued up is stale: the frames that waited through a
/// whole failed attempt are dropped, so that the queue does not replay old traffic when the
/// peer returns (Raft and gossip resend). Frames queued during the attempt are kept for the
/// next one: a join sent just after a partition healed, while an attempt begun before the heal
/// was still waiting for its lost SYN, was dropped with them and never answered (real fuzz
/// seeds 19 and 29). So a frame waits at most two attempts and one back-off.
fn drop_stale_frames(queue: &mut mpsc::Receiver<Arc<Vec<u8>>>, queued_before_attempt: usize) {
    assert!(queued_before_attempt <= PEER_QUEUE_MAX);
    for _ in 0..queued_before_attempt {
        if queue.try_recv().is_err() {
            break;
        }
    }
}

/// An outbound connection carries nothing back (answers come on the peer's own connection),
/// so anything readable on it is its end: the peer's process died or restarted, and its
/// kernel closed the socket. A frame written into it would be accepted locally and lost (a
/// request forwarded once, say, to a server that came back); a new connection reaches the new
/// process. Asked only after the queue was idle: while frames flow, a write fails soon enough.
#[cfg(not(madsim))]
fn closed_by_peer(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = [0u8; 1];
    // SAFETY: recv(2) into a 1-byte buffer we own, on the stream's open fd, with MSG_PEEK
    // (nothing is consumed) and MSG_DONTWAIT (it never blocks the task).
    let read = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            byte.as_mut_ptr().cast(),
            byte.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    let would_block =
        read < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
    !would_block
}

/// Bounds an outbound connection's retransmission back-off and how long it may go
/// unacknowledged (see the two constants).
#[cfg(not(madsim))]
pub(super) fn abort_when_unacknowledged(stream: &TcpStream) {
    set_tcp_option(
        stream,
        TCP_RTO_MAX_MS,
        RETRANSMIT_INTERVAL_MS_MAX,
        "TCP_RTO_MAX_MS",
    );
    set_tcp_option(
        stream,
        libc::TCP_USER_TIMEOUT,
        UNACKNOWLEDGED_MS_MAX,
        "TCP_USER_TIMEOUT",
    );
}

#[cfg(not(madsim))]
fn set_tcp_option(stream: &TcpStream, option: libc::c_int, value_ms: u64, name: &str) {
    use std::os::fd::AsRawFd;
    let value = libc::c_uint::try_from(value_ms).expect("fits");
    // SAFETY: setsockopt(2) on the stream's open fd with a pointer to a c_uint we own and
    // its size; a failure leaves the kernel's default, which is only slower to notice.
    let set = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            (&value as *const libc::c_uint).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if set != 0 {
        let why = std::io::Error::last_os_error();
        tracing::debug!(target: "concord", "transport: cannot set {name}: {why}");
    }
}

/// madsim's streams neither retransmit nor back off: nothing to bound.
#[cfg(madsim)]
fn abort_when_unacknowledged(_stream: &TcpStream) {}

/// The simulator's streams have no end that the peer's death announces (see README, "Two
/// worlds": a difference between the model and reality).
#[cfg(madsim)]
fn closed_by_peer(_stream: &TcpStream) -> bool {
    false
}

/// Reads frames from an accepted connection until it ends, loses framing, or is too slow to
/// finish a frame; `_admitted` holds its place in the connection limits until then.
pub async fn read_connection(
    mut stream: TcpStream,
    inbox: mpsc::Sender<super::Received>,
    stats: Arc<TransportStats>,
    inbound: Arc<Inbound>,
    _admitted: Admitted,
) {
    let bounds = ReadBounds {
        budget: &inbound.budget,
        size_bytes_max: inbound.limits.conn_buffer_bytes_max,
        timeout: Duration::from_millis(inbound.limits.frame_read_timeout_ms),
    };
    loop {
        let mut body = match frame::read_frame(&mut stream, &bounds).await {
            Ok(body) => body,
            Err(FrameError::TooLarge { .. }) => {
                TransportStats::count(&stats.frames_dropped_oversized);
                return;
            }
            Err(FrameError::TimedOut) => {
                TransportStats::count(&stats.frames_dropped_timeout);
                return;
            }
            Err(_) => return,
        };
        match frame::decode(&body.bytes) {
            Ok(envelope) => {
                TransportStats::count(&stats.frames_received);
                let received = super::Received::new(envelope, body.take_charge());
                if inbox.try_send(received).is_err() {
                    TransportStats::count(&stats.frames_dropped_inbox_full);
                }
            }
            Err(_) => TransportStats::count(&stats.frames_dropped_malformed),
        }
    }
}
