//! Datagrams over real UDP sockets on loopback: delivery, the fall-back to stream, and what
//! bad or excess input costs (dropped and counted, never a stalled reader).

use super::chaos::{Chaos, ChaosKnobs};
use super::datagram::{self, DATAGRAM_SIZE_BYTES_MAX};
use super::limits::Inbound;
use super::{listen, Received, Transport, TransportStats};
use concord_core::agent::{ApiError, Envelope, WireMessage};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(2);

/// One side: a UDP socket (and, when asked, a TCP listener on the same port) feeding `inbox`.
struct Peer {
    addr: SocketAddr,
    stats: Arc<TransportStats>,
    inbox: mpsc::Receiver<Received>,
    transport: Transport,
}

async fn peer(inbox_max: usize, with_stream: bool) -> Peer {
    peer_with(inbox_max, with_stream, None).await
}

async fn peer_with(inbox_max: usize, with_stream: bool, chaos: Option<Chaos>) -> Peer {
    let stats = Arc::new(TransportStats::default());
    let (tx, inbox) = mpsc::channel(inbox_max);
    let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    if with_stream {
        let inbound = Inbound::new(Default::default());
        addr = listen(addr, tx.clone(), stats.clone(), inbound)
            .await
            .unwrap();
    }
    let outbox = datagram::bind(addr, tx, stats.clone()).await.unwrap();
    assert!(!with_stream || outbox.local_addr() == addr);
    let transport = Transport::new(stats.clone(), chaos).with_datagrams(outbox.clone());
    Peer {
        addr: outbox.local_addr(),
        stats,
        inbox,
        transport,
    }
}

fn envelope(request_id: u64, padding_bytes: usize) -> Envelope {
    Envelope {
        from_addr: "127.0.0.1:8300".into(),
        msg: WireMessage::ForwardReply {
            request_id,
            result: Err(ApiError::BadRequest("x".repeat(padding_bytes))),
        },
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

async fn next(inbox: &mut mpsc::Receiver<Received>) -> Envelope {
    let received = tokio::time::timeout(WAIT, inbox.recv()).await;
    received.expect("nothing arrived").unwrap().envelope
}

/// Waits until `done` holds (counters move on other tasks), at most `WAIT`.
async fn eventually(done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_datagram_reaches_the_other_side_by_udp() {
    let mut a = peer(16, false).await;
    let mut b = peer(16, false).await;
    // No TCP listener on b: only the datagram can arrive.
    a.transport
        .send_datagram(&b.addr.to_string(), &envelope(1, 10));
    assert_eq!(next(&mut b.inbox).await, envelope(1, 10));
    assert_eq!(load(&a.stats.datagrams_sent), 1);
    assert_eq!(load(&b.stats.datagrams_received), 1);
    assert_eq!(load(&b.stats.frames_received), 0);
    // And back.
    b.transport
        .send_datagram(&a.addr.to_string(), &envelope(2, 10));
    assert_eq!(next(&mut a.inbox).await, envelope(2, 10));
}

#[tokio::test]
async fn an_envelope_too_large_for_a_datagram_goes_by_stream() {
    let mut a = peer(16, false).await;
    let mut b = peer(16, true).await;
    let large = envelope(3, DATAGRAM_SIZE_BYTES_MAX);
    a.transport.send_datagram(&b.addr.to_string(), &large);
    assert_eq!(next(&mut b.inbox).await, large);
    assert_eq!(load(&a.stats.datagrams_oversized_to_stream), 1);
    assert_eq!(load(&a.stats.datagrams_sent), 0);
    assert_eq!(load(&b.stats.frames_received), 1);
    assert_eq!(load(&b.stats.datagrams_received), 0);
    // The largest envelope that fits still goes as a datagram.
    let fitting = (0..DATAGRAM_SIZE_BYTES_MAX)
        .rev()
        .map(|padding| envelope(4, padding))
        .find(|e| matches!(datagram::encode(e), Ok(datagram::Encoded::Datagram(_))))
        .unwrap();
    a.transport.send_datagram(&b.addr.to_string(), &fitting);
    assert_eq!(next(&mut b.inbox).await, fitting);
    assert_eq!(load(&b.stats.datagrams_received), 1);
}

#[tokio::test]
async fn garbage_and_oversized_datagrams_are_dropped_and_the_reader_keeps_going() {
    let mut b = peer(16, false).await;
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.send_to(b"\x01garbage", b.addr).await.unwrap();
    raw.send_to(&[], b.addr).await.unwrap();
    raw.send_to(&vec![1u8; 4 * DATAGRAM_SIZE_BYTES_MAX], b.addr)
        .await
        .unwrap();
    let Ok(datagram::Encoded::Datagram(good)) = datagram::encode(&envelope(5, 10)) else {
        panic!("a small envelope encodes as a datagram");
    };
    raw.send_to(&good, b.addr).await.unwrap();
    assert_eq!(next(&mut b.inbox).await, envelope(5, 10));
    assert_eq!(load(&b.stats.datagrams_dropped_malformed), 2);
    assert_eq!(load(&b.stats.datagrams_dropped_oversized), 1);
    assert_eq!(load(&b.stats.datagrams_received), 1);
}

#[tokio::test]
async fn a_full_inbox_drops_datagrams_without_blocking_the_reader() {
    let mut a = peer(16, false).await;
    let mut b = peer(1, false).await;
    for id in 0..3 {
        a.transport
            .send_datagram(&b.addr.to_string(), &envelope(id, 10));
    }
    let stats = b.stats.clone();
    eventually(|| load(&stats.datagrams_received) + load(&stats.datagrams_dropped_inbox_full) == 3)
        .await;
    assert_eq!(load(&b.stats.datagrams_received), 1);
    assert_eq!(load(&b.stats.datagrams_dropped_inbox_full), 2);
    // The reader did not wait on the inbox: it takes the next datagram once there is room.
    assert_eq!(next(&mut b.inbox).await, envelope(0, 10));
    a.transport
        .send_datagram(&b.addr.to_string(), &envelope(9, 10));
    assert_eq!(next(&mut b.inbox).await, envelope(9, 10));
}

#[tokio::test]
async fn chaos_duplicates_datagrams_as_it_does_frames() {
    let knobs = Arc::new(ChaosKnobs::default());
    knobs.set(1000, 0, 1);
    let seed = 7;
    let mut a = peer_with(16, false, Some(Chaos::new(knobs, seed))).await;
    let mut b = peer(16, false).await;
    a.transport
        .send_datagram(&b.addr.to_string(), &envelope(6, 10));
    assert_eq!(next(&mut b.inbox).await, envelope(6, 10));
    assert_eq!(next(&mut b.inbox).await, envelope(6, 10), "seed {seed}");
    assert_eq!(load(&a.stats.datagrams_sent), 2);
}

#[tokio::test]
async fn a_datagram_to_a_host_name_goes_by_stream() {
    let mut a = peer(16, false).await;
    let mut b = peer(16, true).await;
    let to = format!("localhost:{}", b.addr.port());
    a.transport.send_datagram(&to, &envelope(7, 10));
    assert_eq!(next(&mut b.inbox).await, envelope(7, 10));
    assert_eq!(load(&a.stats.datagrams_unroutable_to_stream), 1);
    assert_eq!(load(&b.stats.frames_received), 1);
}
