//! The peer transport over `tokio::net` TCP (simulated under madsim): listeners feed one
//! bounded inbox; each destination has a bounded send queue and a task that connects,
//! writes frames, and reconnects with backoff. Bad input is dropped and counted. Datagrams
//! (UDP, on the gossip address) feed the same inbox; see `datagram`.

pub mod chaos;
pub mod datagram;
#[cfg(all(test, not(madsim)))]
mod datagram_tests;
pub mod frame;
#[cfg(test)]
mod gossip_budget_tests;
pub mod limits;
mod peer;
#[cfg(all(test, not(madsim)))]
mod tests;

pub use limits::{Inbound, InboundLimits};

use concord_core::agent::Envelope;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Messages waiting for the driver; beyond this, new ones are dropped (Raft retries).
pub const INBOX_MAX: usize = 8192;
/// Frames waiting for one destination; beyond this, new ones are dropped.
pub const PEER_QUEUE_MAX: usize = 1024;
/// Destinations with a connection task at once.
pub const PEERS_MAX: usize = 1024;

#[derive(Debug, Default)]
pub struct TransportStats {
    pub frames_received: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_dropped_malformed: AtomicU64,
    pub frames_dropped_oversized: AtomicU64,
    pub frames_dropped_inbox_full: AtomicU64,
    pub frames_dropped_queue_full: AtomicU64,
    /// Frames not received whole within `frame_read_timeout_ms`: the connection was dropped.
    pub frames_dropped_timeout: AtomicU64,
    /// Connections closed at once: over `rpc_max_conns_per_client` from one address, or over
    /// `inbound_conns_max` in total.
    pub conns_refused_per_client: AtomicU64,
    pub conns_refused_total: AtomicU64,
    pub connect_failures: AtomicU64,
    /// Outbound connections found closed by their peer (it died or restarted) before a write:
    /// reconnected, so the frame reached the new process.
    pub stale_connections: AtomicU64,
    pub datagrams_sent: AtomicU64,
    pub datagrams_received: AtomicU64,
    pub datagrams_dropped_malformed: AtomicU64,
    /// Received datagrams over `datagram::DATAGRAM_SIZE_BYTES_MAX`.
    pub datagrams_dropped_oversized: AtomicU64,
    pub datagrams_dropped_queue_full: AtomicU64,
    pub datagrams_dropped_inbox_full: AtomicU64,
    /// Envelopes asked to go as a datagram that did not fit in one: sent by stream instead.
    pub datagrams_oversized_to_stream: AtomicU64,
    /// Envelopes asked to go as a datagram to a host name (not an IP address) or with no
    /// socket bound: sent by stream, which resolves names off the driver.
    pub datagrams_unroutable_to_stream: AtomicU64,
}

impl TransportStats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Transport {
    peers: BTreeMap<String, mpsc::Sender<Arc<Vec<u8>>>>,
    pub stats: Arc<TransportStats>,
    chaos: Option<chaos::Chaos>,
    /// The UDP socket's queue; without one, datagrams go by stream.
    datagrams: Option<datagram::Outbox>,
}

impl Transport {
    pub fn new(stats: Arc<TransportStats>, chaos: Option<chaos::Chaos>) -> Transport {
        Transport {
            peers: BTreeMap::new(),
            stats,
            chaos,
            datagrams: None,
        }
    }

    /// Sends datagrams through `outbox` (see `datagram::bind`).
    pub fn with_datagrams(mut self, outbox: datagram::Outbox) -> Transport {
        self.datagrams = Some(outbox);
        self
    }

    /// Queues an envelope for `to`; never waits. Dropped (and counted) when it cannot go.
    pub fn send(&mut self, to: &str, envelope: &Envelope) {
        let frame = match frame::encode(envelope) {
            Ok(frame) => Arc::new(frame),
            Err(_) => return TransportStats::count(&self.stats.frames_dropped_oversized),
        };
        self.send_frame(to, frame);
    }

    fn send_frame(&mut self, to: &str, frame: Arc<Vec<u8>>) {
        if !self.peers.contains_key(to) {
            if self.peers.len() >= PEERS_MAX {
                self.peers.retain(|_, queue| !queue.is_closed());
            }
            if self.peers.len() >= PEERS_MAX {
                return TransportStats::count(&self.stats.frames_dropped_queue_full);
            }
            let queue = peer::spawn(to.to_string(), self.stats.clone());
            self.peers.insert(to.to_string(), queue);
        }
        let plan = self.chaos.as_mut().map(|c| c.plan()).unwrap_or_default();
        let queue = self.peers[to].clone();
        if plan.duplicate {
            self.enqueue(&queue, frame.clone());
        }
        match plan.delay_ms {
            // Held back: frames sent meanwhile overtake it.
            Some(delay_ms) => {
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    let _ = queue.try_send(frame);
                });
            }
            None => self.enqueue(&queue, frame),
        }
    }

    /// Queues an envelope as one datagram for `to` (a gossip address); never waits. One that
    /// does not fit in a datagram, or that has nowhere to go as one, goes by stream instead.
    pub fn send_datagram(&mut self, to: &str, envelope: &Envelope) {
        let (Some(outbox), Ok(to_addr)) = (&self.datagrams, to.parse::<SocketAddr>()) else {
            TransportStats::count(&self.stats.datagrams_unroutable_to_stream);
            return self.send(to, envelope);
        };
        let datagram = match datagram::encode(envelope) {
            Ok(datagram::Encoded::Datagram(datagram)) => datagram,
            Ok(datagram::Encoded::Frame(frame)) => {
                TransportStats::count(&self.stats.datagrams_oversized_to_stream);
                return self.send_frame(to, Arc::new(frame));
            }
            Err(_) => return TransportStats::count(&self.stats.frames_dropped_oversized),
        };
        let (outbox, datagram) = (outbox.clone(), Arc::new(datagram));
        let plan = self.chaos.as_mut().map(|c| c.plan()).unwrap_or_default();
        let stats = self.stats.clone();
        let enqueue = move |datagram| {
            if outbox.try_send(to_addr, datagram).is_err() {
                TransportStats::count(&stats.datagrams_dropped_queue_full);
            }
        };
        if plan.duplicate {
            enqueue(datagram.clone());
        }
        match plan.delay_ms {
            // Held back: datagrams sent meanwhile overtake it.
            Some(delay_ms) => {
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    enqueue(datagram);
                });
            }
            None => enqueue(datagram),
        }
    }

    fn enqueue(&self, queue: &mpsc::Sender<Arc<Vec<u8>>>, frame: Arc<Vec<u8>>) {
        if queue.try_send(frame).is_err() {
            TransportStats::count(&self.stats.frames_dropped_queue_full);
        }
    }
}

impl Transport {
    /// Waits (at most `timeout`) until every queued frame was handed to its connection (and
    /// every datagram to the socket): a leaving agent's last words ("left") must go out before
    /// the process exits.
    pub async fn drain(&self, timeout: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let streams_drained = self
                .peers
                .values()
                .all(|q| q.is_closed() || q.capacity() == q.max_capacity());
            if streams_drained && self.datagrams.as_ref().is_none_or(|d| d.is_drained()) {
                // The frame a writer took last may still be on its way out.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A message as the driver's inbox holds it: with its frame's share of the inbound budget,
/// so that messages waiting for the driver count against `inbound_buffer_bytes_max` too (the
/// inbox's count bound alone would let thousands of maximal frames wait in memory).
pub struct Received {
    pub envelope: Envelope,
    _charge: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Received {
    pub fn new(envelope: Envelope, charge: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        Received {
            envelope,
            _charge: charge,
        }
    }
}

/// Binds `addr` and feeds every well-formed envelope received there into `inbox`, within the
/// connection and buffer limits of `inbound` (shared by a node's listeners).
pub async fn listen(
    addr: SocketAddr,
    inbox: mpsc::Sender<Received>,
    stats: Arc<TransportStats>,
    inbound: Arc<Inbound>,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, from)) => accept(stream, from, &inbox, &stats, &inbound),
                Err(e) => {
                    tracing::warn!(target: "concord", "transport: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(local)
}

/// Starts the reader of an accepted connection, or closes it at once when over a limit.
fn accept(
    stream: tokio::net::TcpStream,
    from: SocketAddr,
    inbox: &mpsc::Sender<Received>,
    stats: &Arc<TransportStats>,
    inbound: &Arc<Inbound>,
) {
    match inbound.admit(from.ip()) {
        Ok(admitted) => {
            let reader = peer::read_connection(
                stream,
                inbox.clone(),
                stats.clone(),
                inbound.clone(),
                admitted,
            );
            tokio::spawn(reader);
        }
        Err(refusal) => {
            let counter = match refusal {
                limits::Refusal::PerClient => &stats.conns_refused_per_client,
                limits::Refusal::Total => &stats.conns_refused_total,
            };
            TransportStats::count(counter);
            tracing::debug!(target: "concord", "transport: refused a connection from {from}: {refusal:?} limit reached");
            drop(stream);
        }
    }
}
