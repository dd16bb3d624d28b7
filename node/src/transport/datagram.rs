//! Datagrams (UDP) beside the stream transport, on the gossip address as Consul's 8301 serves
//! both: SWIM's probes and gossip want a lossy, unordered, connectionless channel so that one
//! slow peer never holds up the others. A datagram is one frame without its length prefix
//! (`[version u8][bincode Envelope]`: the datagram's own length frames it). One socket is shared
//! by a sender task (draining a bounded queue) and a receiver task (feeding the driver's inbox).
//! Bad input is dropped and counted; neither task ever waits on the driver.

use super::frame::{self, FRAME_SIZE_BYTES_MAX};
use super::{Received, TransportStats};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// The largest datagram sent (memberlist's UDPBufferSize): under a 1500-byte Ethernet MTU
/// with IP and UDP headers, so a datagram is never fragmented. Larger ones go by stream.
pub const DATAGRAM_SIZE_BYTES_MAX: usize = 1400;
const _: () = assert!(DATAGRAM_SIZE_BYTES_MAX < FRAME_SIZE_BYTES_MAX);
/// Datagrams waiting for the socket; beyond this, new ones are dropped (SWIM retries).
pub const DATAGRAM_QUEUE_MAX: usize = 1024;
/// The receive buffer: larger than any datagram we accept, so that an oversized one is seen
/// as oversized (and dropped) rather than silently truncated into something decodable.
pub const DATAGRAM_RECEIVE_BUFFER_BYTES: usize = 64 << 10;
const _: () = assert!(DATAGRAM_RECEIVE_BUFFER_BYTES > DATAGRAM_SIZE_BYTES_MAX);
/// The pause after a failed `recv_from`, so that a persistent error does not spin.
const RECEIVE_ERROR_PAUSE_MS: u64 = 100;

/// The sending half: a bounded queue drained by the task that owns the socket's sends.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<(SocketAddr, Arc<Vec<u8>>)>,
    local_addr: SocketAddr,
}

/// Why a datagram did not go into the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsent {
    /// The queue is full (or the sender task is gone): dropped.
    QueueFull,
}

impl Outbox {
    /// The address the socket is bound to (the listener's port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether every queued datagram was handed to the socket (or the sender is gone).
    pub fn is_drained(&self) -> bool {
        self.queue.is_closed() || self.queue.capacity() == self.queue.max_capacity()
    }

    /// Queues one datagram for `to`; never waits.
    pub fn try_send(&self, to: SocketAddr, datagram: Arc<Vec<u8>>) -> Result<(), Unsent> {
        debug_assert!(datagram.len() <= DATAGRAM_SIZE_BYTES_MAX);
        self.queue
            .try_send((to, datagram))
            .map_err(|_| Unsent::QueueFull)
    }
}

/// What an envelope becomes on its way out.
#[derive(Debug, PartialEq, Eq)]
pub enum Encoded {
    Datagram(Vec<u8>),
    /// Too large for one datagram: a stream frame (length prefix included) instead.
    Frame(Vec<u8>),
}

/// Encodes an envelope once, as a datagram when it fits in one.
pub fn encode(envelope: &concord_core::agent::Envelope) -> Result<Encoded, frame::FrameError> {
    let mut frame = frame::encode(envelope)?;
    const LENGTH_PREFIX_BYTES: usize = 4;
    if frame.len() - LENGTH_PREFIX_BYTES > DATAGRAM_SIZE_BYTES_MAX {
        return Ok(Encoded::Frame(frame));
    }
    // The datagram's own length frames it.
    frame.drain(..LENGTH_PREFIX_BYTES);
    Ok(Encoded::Datagram(frame))
}

/// Binds a UDP socket on `addr` and starts its sender and receiver; the receiver feeds every
/// well-formed envelope into `inbox` (the stream listeners' inbox) until the driver is gone.
pub async fn bind(
    addr: SocketAddr,
    inbox: mpsc::Sender<Received>,
    stats: Arc<TransportStats>,
) -> io::Result<Outbox> {
    let socket = Arc::new(UdpSocket::bind(addr).await?);
    let local_addr = socket.local_addr()?;
    let (queue, pending) = mpsc::channel(DATAGRAM_QUEUE_MAX);
    tokio::spawn(send_loop(socket.clone(), pending, stats.clone()));
    tokio::spawn(receive_loop(socket, inbox, stats));
    Ok(Outbox { queue, local_addr })
}

/// Sends queued datagrams until the transport is dropped. A failed send is a lost datagram,
/// which UDP allows anyway: logged at debug, not retried.
async fn send_loop(
    socket: Arc<UdpSocket>,
    mut pending: mpsc::Receiver<(SocketAddr, Arc<Vec<u8>>)>,
    stats: Arc<TransportStats>,
) {
    while let Some((to, datagram)) = pending.recv().await {
        match send_to(&socket, to, &datagram).await {
            Ok(()) => TransportStats::count(&stats.datagrams_sent),
            Err(e) => {
                tracing::debug!(target: "concord", "transport: datagram to {to} failed: {e}")
            }
        }
    }
}

/// madsim's `send_to` takes its arguments the other way round and returns no length.
async fn send_to(socket: &UdpSocket, to: SocketAddr, datagram: &[u8]) -> io::Result<()> {
    #[cfg(madsim)]
    return socket.send_to(to, datagram).await;
    #[cfg(not(madsim))]
    socket.send_to(datagram, to).await.map(|_| ())
}

/// Receives datagrams until the driver's inbox closes (the node stopped), which releases the
/// socket's address for a restart.
async fn receive_loop(
    socket: Arc<UdpSocket>,
    inbox: mpsc::Sender<Received>,
    stats: Arc<TransportStats>,
) {
    let mut buffer = vec![0u8; DATAGRAM_RECEIVE_BUFFER_BYTES];
    loop {
        let received = tokio::select! {
            received = socket.recv_from(&mut buffer) => received,
            () = inbox.closed() => return,
        };
        match received {
            Ok((size_bytes, from)) => {
                if !deliver(&buffer[..size_bytes], from, &inbox, &stats) {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(target: "concord", "transport: datagram receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(RECEIVE_ERROR_PAUSE_MS)).await;
            }
        }
    }
}

/// Decodes one datagram into the inbox, or drops and counts it. Never waits: a full inbox
/// drops the datagram, as the network might have. Returns false once the inbox is closed.
fn deliver(
    datagram: &[u8],
    from: SocketAddr,
    inbox: &mpsc::Sender<Received>,
    stats: &TransportStats,
) -> bool {
    if datagram.len() > DATAGRAM_SIZE_BYTES_MAX {
        TransportStats::count(&stats.datagrams_dropped_oversized);
        tracing::debug!(target: "concord", "transport: dropped a datagram of {} bytes from {from}: over {DATAGRAM_SIZE_BYTES_MAX}", datagram.len());
        return true;
    }
    let envelope = match frame::decode(datagram) {
        Ok(envelope) => envelope,
        Err(e) => {
            TransportStats::count(&stats.datagrams_dropped_malformed);
            tracing::debug!(target: "concord", "transport: dropped a malformed datagram from {from}: {e:?}");
            return true;
        }
    };
    match inbox.try_send(Received::new(envelope, None)) {
        Ok(()) => TransportStats::count(&stats.datagrams_received),
        Err(mpsc::error::TrySendError::Full(_)) => {
            TransportStats::count(&stats.datagrams_dropped_inbox_full)
        }
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
    }
    true
}
