//! The inbound limits over real sockets on loopback: what unauthenticated peers can hold.

use super::limits::{Inbound, InboundLimits};
use super::{frame, listen, Received, TransportStats};
use concord_core::agent::{Envelope, WireMessage};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

struct Server {
    addr: SocketAddr,
    inbound: Arc<Inbound>,
    stats: Arc<TransportStats>,
    inbox: mpsc::Receiver<Received>,
}

async fn server(limits: InboundLimits) -> Server {
    let inbound = Inbound::new(limits);
    let stats = Arc::new(TransportStats::default());
    let (tx, inbox) = mpsc::channel(16);
    let addr = listen(
        "127.0.0.1:0".parse().unwrap(),
        tx,
        stats.clone(),
        inbound.clone(),
    )
    .await
    .unwrap();
    Server {
        addr,
        inbound,
        stats,
        inbox,
    }
}

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Connects, declares a frame of `declared_bytes` and sends `sent_bytes` of it, then holds the
/// connection open until the task is aborted or the server closes it.
fn partial_frame(
    source: &'static str,
    to: SocketAddr,
    declared_bytes: usize,
    sent_bytes: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stream = connect_from(source, to).await;
        let mut bytes = (declared_bytes as u32).to_be_bytes().to_vec();
        bytes.resize(4 + sent_bytes, 0xab);
        let _ = stream.write_all(&bytes).await;
        let mut rest = [0u8; 1];
        let _ = stream.read(&mut rest).await;
    })
}

/// Whether the server closes `stream` within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

fn limits() -> InboundLimits {
    InboundLimits {
        inbound_buffer_bytes_max: 4 * MIB,
        conn_buffer_bytes_max: MIB,
        rpc_max_conns_per_client: 8,
        inbound_conns_max: 64,
        frame_read_timeout_ms: 1_500,
    }
}

#[tokio::test]
async fn partial_frames_stay_within_the_buffer_budget() {
    let server = server(limits()).await;
    // 16 connections from two addresses, each sending 900 KiB of a declared 1 MiB frame:
    // 14 MiB offered against a 4 MiB budget.
    let mut holders = Vec::new();
    for source in ["127.0.0.1", "127.0.0.2"] {
        for _ in 0..8 {
            holders.push(partial_frame(source, server.addr, MIB, 900 * KIB));
        }
    }
    let mut peak_bytes = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_000) {
        peak_bytes = peak_bytes.max(server.inbound.buffered_bytes());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(peak_bytes <= 4 * MIB, "buffered {peak_bytes} bytes");
    assert!(
        peak_bytes >= 2 * MIB,
        "the budget was used: {peak_bytes} bytes"
    );
    assert_eq!(server.inbound.open_conns(), 16);
    for holder in holders {
        holder.abort();
    }
}

#[tokio::test]
async fn a_declared_length_is_not_allocated_up_front() {
    let server = server(limits()).await;
    let holder = partial_frame("127.0.0.1", server.addr, MIB, 10);
    let started = Instant::now();
    while server.inbound.open_conns() == 0 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let buffered = server.inbound.buffered_bytes();
    // Every byte of buffer is charged to the budget when allocated: charged, and small.
    assert!(
        buffered > 0 && buffered <= 4 * KIB,
        "6 body bytes sent, {buffered} bytes held"
    );
    holder.abort();
}

#[tokio::test]
async fn connections_over_the_per_address_limit_are_closed() {
    let server = server(limits()).await;
    let mut kept = Vec::new();
    for _ in 0..8 {
        kept.push(connect_from("127.0.0.3", server.addr).await);
    }
    let mut excess = connect_from("127.0.0.3", server.addr).await;
    assert!(closed_by_server(&mut excess, Duration::from_secs(2)).await);
    assert_eq!(
        server
            .stats
            .conns_refused_per_client
            .load(Ordering::Relaxed),
        1
    );
    // Another address still gets in, and the kept ones are still open.
    let mut other = connect_from("127.0.0.4", server.addr).await;
    assert!(!closed_by_server(&mut other, Duration::from_millis(200)).await);
    assert!(!closed_by_server(&mut kept[0], Duration::from_millis(50)).await);
}

#[tokio::test]
async fn a_slow_partial_frame_is_dropped_after_the_timeout_and_frees_its_bytes() {
    let mut server = server(limits()).await;
    let mut slow = connect_from("127.0.0.5", server.addr).await;
    let mut bytes = (MIB as u32).to_be_bytes().to_vec();
    bytes.resize(4 + 300 * KIB, 0);
    slow.write_all(&bytes).await.unwrap();
    let sent = Instant::now();
    assert!(closed_by_server(&mut slow, Duration::from_secs(5)).await);
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(1_000),
        "closed after {waited:?}"
    );
    assert_eq!(
        server.stats.frames_dropped_timeout.load(Ordering::Relaxed),
        1
    );
    assert_eq!(server.inbound.buffered_bytes(), 0);
    // A peer that completes its frame is heard as before.
    let envelope = Envelope {
        from_addr: "127.0.0.6:8300".into(),
        msg: WireMessage::ForwardReply {
            request_id: 1,
            result: Err(concord_core::agent::ApiError::NoLeader),
        },
    };
    let mut good = connect_from("127.0.0.6", server.addr).await;
    good.write_all(&frame::encode(&envelope).unwrap())
        .await
        .unwrap();
    let received = tokio::time::timeout(Duration::from_secs(2), server.inbox.recv()).await;
    assert_eq!(received.unwrap().unwrap().envelope, envelope);
}

/// A message waiting for the driver keeps its frame's charge: the inbox's count bound alone
/// would let thousands of maximal messages wait in memory.
#[tokio::test]
async fn a_message_in_the_inbox_holds_its_share_of_the_budget() {
    let mut server = server(InboundLimits::default()).await;
    let budget_bytes = server.inbound.budget.available_permits();
    let envelope = Envelope {
        from_addr: "127.0.0.7:8300".into(),
        msg: WireMessage::ForwardReply {
            request_id: 1,
            result: Err(concord_core::agent::ApiError::BadRequest(
                "x".repeat(100_000),
            )),
        },
    };
    let mut peer = connect_from("127.0.0.7", server.addr).await;
    peer.write_all(&frame::encode(&envelope).unwrap())
        .await
        .unwrap();
    let received = tokio::time::timeout(Duration::from_secs(2), server.inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let held = budget_bytes - server.inbound.budget.available_permits();
    assert!(
        held >= 100_000,
        "the waiting message holds {held} bytes of budget"
    );
    drop(received);
    assert_eq!(server.inbound.budget.available_permits(), budget_bytes);
}

/// Reads exactly `len` bytes from the next connection `listener` accepts, within 3 s.
async fn next_bytes(listener: &tokio::net::TcpListener, len: usize) -> (TcpStream, Vec<u8>) {
    let accept = tokio::time::timeout(Duration::from_secs(3), listener.accept());
    let (mut stream, _) = accept.await.expect("a connection").unwrap();
    let mut bytes = vec![0; len];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut bytes));
    read.await.expect("the bytes").unwrap();
    (stream, bytes)
}

#[tokio::test]
async fn a_frame_after_the_peer_restarted_reaches_the_new_process() {
    // A peer's process dies and comes back on the same address: its kernel closed the old
    // connection. The next frame must not be written into that dead connection (accepted
    // locally, then lost) but reach the new process over a new one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(TransportStats::default());
    let queue = super::peer::spawn(addr.to_string(), stats.clone());
    queue.send(Arc::new(b"first".to_vec())).await.unwrap();
    let (old, first) = next_bytes(&listener, 5).await;
    assert_eq!(first, b"first");
    drop(old); // the process died: its socket is closed
    tokio::time::sleep(Duration::from_millis(100)).await;
    queue.send(Arc::new(b"second".to_vec())).await.unwrap();
    let (_new, second) = next_bytes(&listener, 6).await;
    assert_eq!(second, b"second");
    assert_eq!(stats.stale_connections.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn outbound_connections_bound_their_back_off_and_give_up_on_unacknowledged_data() {
    // A partition that drops a connection's packets would otherwise leave it retransmitting
    // with exponential back-off (54 s between tries, seen against real processes), long after
    // the partition healed.
    use std::os::fd::AsRawFd;
    const TCP_RTO_MAX_MS: libc::c_int = 44;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let read = |stream: &TcpStream, option: libc::c_int| {
        let mut value: libc::c_uint = 0;
        let mut len = std::mem::size_of::<libc::c_uint>() as libc::socklen_t;
        // SAFETY: getsockopt(2) into a c_uint we own, with its size.
        let got = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                option,
                (&mut value as *mut libc::c_uint).cast(),
                &mut len,
            )
        };
        (got == 0).then_some(u64::from(value))
    };
    let before = (
        read(&stream, libc::TCP_USER_TIMEOUT),
        read(&stream, TCP_RTO_MAX_MS),
    );
    assert_eq!(before.0, Some(0), "the kernel's default: no bound");
    super::peer::abort_when_unacknowledged(&stream);
    let user_timeout = read(&stream, libc::TCP_USER_TIMEOUT);
    assert_eq!(user_timeout, Some(super::peer::UNACKNOWLEDGED_MS_MAX));
    match before.1 {
        // Kernels before 6.15 have no TCP_RTO_MAX_MS.
        None => println!("TCP_RTO_MAX_MS: not in this kernel"),
        Some(default_ms) => {
            assert_eq!(default_ms, 120_000, "the kernel's default");
            let bounded = read(&stream, TCP_RTO_MAX_MS);
            assert_eq!(bounded, Some(super::peer::RETRANSMIT_INTERVAL_MS_MAX));
        }
    }
}

#[tokio::test]
async fn a_frame_queued_during_a_failing_connect_goes_out_on_the_next_attempt() {
    // An attempt begun while the peer was unreachable (its SYN lost) fails after the connect
    // timeout. A frame queued meanwhile (a join sent just after a partition healed) must go out
    // on the next attempt, not be dropped as stale with what waited through the whole attempt.
    const CONNECT_TIMEOUT_MS: u64 = 600;
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    // Backlog 0 holds one connection not yet accepted; SYNs beyond it are dropped.
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let filler = TcpStream::connect(addr).await.unwrap();
    let stats = Arc::new(TransportStats::default());
    let queue = super::peer::spawn_with(addr.to_string(), stats.clone(), CONNECT_TIMEOUT_MS);
    tokio::time::sleep(Duration::from_millis(150)).await;
    queue.send(Arc::new(b"join".to_vec())).await.unwrap();
    // Room again before the attempt ends; its SYN is next retransmitted only after 1 s, so
    // the attempt fails all the same, and the next one connects.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_accepted_filler, _) = listener.accept().await.unwrap();
    drop(filler);
    let (_stream, bytes) = next_bytes(&listener, 4).await;
    assert_eq!(bytes, b"join");
    assert!(stats.connect_failures.load(Ordering::Relaxed) >= 1);
}
