//! The network's tests. The `fabric_*` ones check the switch's decisions without I/O and run
//! anywhere; the others make real namespaces and need root (CI is root): without it they say
//! so and pass. Each uses its own world number (200+), so they run side by side and never meet
//! a real run's worlds (0..9).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use super::switch::{Control, Fabric};
use super::*;

/// How long a receiver waits after the last datagram before it counts what it got.
const QUIET_MS: u64 = 300;
/// Datagrams sent back to back before the sender pauses, so no kernel queue overflows.
const BURST_PACKETS: u32 = 20;
const BURST_PAUSE_MS: u64 = 1;
const CONNECT_TIMEOUT_MS: u64 = 2_000;

fn is_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        println!("{test}: skipped: needs root (network namespaces and TUN devices)");
    }
    root
}

/// A world with two machines `a` and `b`: the network, their namespaces and addresses.
fn two_machines(world: u8, seed: u64) -> (Network, [String; 2], [Ipv4Addr; 2]) {
    let mut net = Network::new(world, seed).expect("network");
    let ips = [Network::ip_of(world, 0), Network::ip_of(world, 1)];
    let a = net.add_node("a", ips[0]).expect("add a");
    let b = net.add_node("b", ips[1]).expect("add b");
    (net, [a, b], ips)
}

fn udp(namespace: &str, ip: Ipv4Addr) -> UdpSocket {
    in_namespace(namespace, move || UdpSocket::bind((ip, 0))).expect("udp socket")
}

/// Sends `n` numbered datagrams from `from` to `to`; returns the numbers `to` got, in order.
fn blast(from: &UdpSocket, to: &UdpSocket, n: u32) -> Vec<u32> {
    let target = to.local_addr().unwrap();
    let rx = to.try_clone().unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(QUIET_MS)))
        .unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut got, mut buf) = (Vec::new(), [0u8; 256]);
        while let Ok(len) = rx.recv(&mut buf) {
            assert_eq!(len, 100, "datagrams arrive whole");
            got.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
        }
        got
    });
    for i in 0..n {
        let mut payload = [0u8; 100];
        payload[..4].copy_from_slice(&i.to_be_bytes());
        from.send_to(&payload, target).unwrap();
        if i % BURST_PACKETS == BURST_PACKETS - 1 {
            std::thread::sleep(Duration::from_millis(BURST_PAUSE_MS));
        }
    }
    receiver.join().unwrap()
}

/// Datagrams each way between `a` and `b`: (a to b, b to a).
fn both_ways(names: &[String; 2], ips: [Ipv4Addr; 2], n: u32) -> (usize, usize) {
    let (sa, sb) = (udp(&names[0], ips[0]), udp(&names[1], ips[1]));
    (blast(&sa, &sb, n).len(), blast(&sb, &sa, n).len())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A one-shot echo server on `addr` inside `namespace`.
fn echo_server(namespace: &str, addr: SocketAddr) {
    let listener = in_namespace(namespace, move || TcpListener::bind(addr)).expect("listen");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(&buf[..n]);
        }
    });
}

async fn echo(connector: &Connector, addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
    let mut stream = connector.connect(addr, timeout).await?;
    stream.write_all(b"ping").await?;
    let mut got = vec![0u8; 4];
    stream.read_exact(&mut got).await?;
    Ok(got)
}

#[test]
fn tcp_crosses_the_switch_and_loopback_stays_home() {
    if !is_root("tcp_crosses_the_switch_and_loopback_stays_home") {
        return;
    }
    let (net, names, ips) = two_machines(200, 1);
    let across = SocketAddr::from((ips[1], 7000));
    echo_server(&names[1], across);
    let rt = runtime();
    assert_eq!(
        rt.block_on(echo(&net.connector(&names[0]), across))
            .unwrap(),
        b"ping"
    );
    let after_across = net.counters();
    println!("world 200 after one exchange: {after_across}");
    assert_eq!(
        after_across.unroutable, 0,
        "IPv6 is off: no stray packets reach the switch"
    );
    assert!(
        after_across.forwarded >= 6,
        "a TCP exchange crosses the switch: {after_across}"
    );
    // b's loopback: reached from b's connector, and the switch sees none of it.
    let home = SocketAddr::from((Ipv4Addr::LOCALHOST, 7001));
    echo_server(&names[1], home);
    std::thread::sleep(Duration::from_millis(100)); // the first connection's close settles
    let before = net.counters().forwarded;
    assert_eq!(
        rt.block_on(echo(&net.connector(&names[1]), home)).unwrap(),
        b"ping"
    );
    assert_eq!(
        net.counters().forwarded,
        before,
        "loopback traffic never crosses the switch"
    );
    // a's loopback has no listener: the connector really is in a's namespace.
    let refused = rt
        .block_on(echo(&net.connector(&names[0]), home))
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
}

#[test]
fn cut_is_one_way_and_heal_clears_it() {
    if !is_root("cut_is_one_way_and_heal_clears_it") {
        return;
    }
    let (net, names, ips) = two_machines(201, 2);
    net.cut(ips[0], ips[1]);
    assert_eq!(
        both_ways(&names, ips, 20),
        (0, 20),
        "a to b is cut, b to a is not"
    );
    assert!(net.counters().cut >= 20, "{}", net.counters());
    let timeout = Duration::from_millis(200);
    let blocked = runtime().block_on(
        net.connector(&names[0])
            .connect((ips[1], 7000).into(), timeout),
    );
    assert_eq!(
        blocked.unwrap_err().kind(),
        std::io::ErrorKind::TimedOut,
        "a SYN over a cut"
    );
    net.heal();
    assert_eq!(both_ways(&names, ips, 20), (20, 20), "heal restores a to b");
}

#[test]
fn clog_drops_both_ways_until_unclog() {
    if !is_root("clog_drops_both_ways_until_unclog") {
        return;
    }
    let (net, names, ips) = two_machines(202, 3);
    net.clog(ips[1]);
    assert_eq!(both_ways(&names, ips, 20), (0, 0));
    assert!(net.counters().cut >= 40, "{}", net.counters());
    net.unclog(ips[1]);
    assert_eq!(both_ways(&names, ips, 20), (20, 20));
}

#[test]
fn loss_drops_about_its_rate_and_counts_each() {
    if !is_root("loss_drops_about_its_rate_and_counts_each") {
        return;
    }
    let (net, names, ips) = two_machines(203, 4);
    net.set_params(NetParams {
        loss_per_mille: 300,
        ..NetParams::default()
    });
    let (sa, sb) = (udp(&names[0], ips[0]), udp(&names[1], ips[1]));
    let got = blast(&sa, &sb, 1000).len() as u64;
    // 1000 draws at 30%: 700 expected, 14.5 standard deviation; the band is four of them.
    assert!(
        (640..=760).contains(&got),
        "{got} of 1000 arrived at 30% loss"
    );
    assert_eq!(
        net.counters().lost,
        1000 - got,
        "every missing datagram is counted lost"
    );
}

#[test]
fn latency_delays_each_way() {
    if !is_root("latency_delays_each_way") {
        return;
    }
    let (net, names, ips) = two_machines(204, 5);
    net.set_params(NetParams {
        latency_ms: (20, 25),
        ..NetParams::default()
    });
    let (sa, sb) = (udp(&names[0], ips[0]), udp(&names[1], ips[1]));
    sb.set_read_timeout(Some(Duration::from_millis(QUIET_MS)))
        .unwrap();
    let b_addr = sb.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        while let Ok((n, from)) = sb.recv_from(&mut buf) {
            let _ = sb.send_to(&buf[..n], from);
        }
    });
    sa.set_read_timeout(Some(Duration::from_millis(QUIET_MS)))
        .unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        sa.send_to(b"rtt", b_addr).unwrap();
        let mut buf = [0u8; 16];
        sa.recv(&mut buf).expect("the echo comes back");
        let rtt = start.elapsed();
        assert!(
            rtt >= Duration::from_millis(40),
            "RTT {rtt:?} under 2 x 20 ms"
        );
        assert!(
            rtt < Duration::from_millis(250),
            "RTT {rtt:?}: the switch is slow"
        );
    }
}

#[test]
fn links_are_fifo_unless_reordered() {
    if !is_root("links_are_fifo_unless_reordered") {
        return;
    }
    let (net, names, ips) = two_machines(205, 6);
    net.set_params(NetParams {
        latency_ms: (1, 30),
        ..NetParams::default()
    });
    let (sa, sb) = (udp(&names[0], ips[0]), udp(&names[1], ips[1]));
    let got = blast(&sa, &sb, 200);
    assert_eq!(
        got,
        (0..200).collect::<Vec<u32>>(),
        "1..30 ms draws keep a link's order"
    );
    net.set_params(NetParams {
        reorder_per_mille: 500,
        reorder_ms_max: 20,
        ..NetParams::default()
    });
    let got = blast(&sa, &sb, 200);
    let inversions = got.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(got.len(), 200);
    assert!(
        inversions > 0,
        "half held back up to 20 ms: some arrive late"
    );
    assert!(net.counters().reordered > 50, "{}", net.counters());
}

#[test]
fn dup_sends_copies_and_counts_them() {
    if !is_root("dup_sends_copies_and_counts_them") {
        return;
    }
    let (net, names, ips) = two_machines(206, 7);
    net.set_params(NetParams {
        dup_per_mille: 500,
        ..NetParams::default()
    });
    let (sa, sb) = (udp(&names[0], ips[0]), udp(&names[1], ips[1]));
    let extra = blast(&sa, &sb, 200).len() as u64 - 200;
    assert!((60..=140).contains(&extra), "{extra} copies of 200 at 50%");
    assert_eq!(net.counters().duplicated, extra, "{}", net.counters());
}

#[test]
fn new_sweeps_leftovers_and_drop_deletes_namespaces() {
    if !is_root("new_sweeps_leftovers_and_drop_deletes_namespaces") {
        return;
    }
    let ours = |names: Vec<String>| {
        names
            .into_iter()
            .filter(|n| n.starts_with("cr207-"))
            .count()
    };
    netns::add("cr207-left").unwrap();
    let mut net = Network::new(207, 8).unwrap();
    assert_eq!(
        ours(netns::list().unwrap()),
        0,
        "the crashed run's namespace is swept"
    );
    net.add_node("a", Network::ip_of(207, 0)).unwrap();
    let outside = net.add_node("b", Network::ip_of(208, 1)).unwrap_err();
    assert!(
        outside.to_string().contains("not a host of world 207"),
        "{outside}"
    );
    assert_eq!(ours(netns::list().unwrap()), 1);
    drop(net);
    assert_eq!(
        ours(netns::list().unwrap()),
        0,
        "drop deletes the namespaces"
    );
}

/// Bytes of the bulk transfer: sixteen of the scenarios' largest (512 KiB) values.
const BULK_BYTES: usize = 16 * 512 * 1024;

/// Reads everything one connection to `addr` in `namespace` sends; returns the byte count.
fn sink(namespace: &str, addr: SocketAddr) -> std::thread::JoinHandle<usize> {
    let listener = in_namespace(namespace, move || TcpListener::bind(addr)).expect("listen");
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let (mut buf, mut total) = (vec![0u8; 1 << 16], 0);
        while let Ok(n @ 1..) = s.read(&mut buf) {
            total += n;
        }
        total
    })
}

#[test]
fn bulk_tcp_uses_the_large_mtu() {
    if !is_root("bulk_tcp_uses_the_large_mtu") {
        return;
    }
    let (net, names, ips) = two_machines(208, 9);
    let addr = SocketAddr::from((ips[1], 7002));
    let received = sink(&names[1], addr);
    let start = Instant::now();
    runtime().block_on(async {
        use tokio::io::AsyncWriteExt;
        let timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
        let mut s = net
            .connector(&names[0])
            .connect(addr, timeout)
            .await
            .unwrap();
        s.write_all(&vec![7u8; BULK_BYTES]).await.unwrap();
        s.shutdown().await.unwrap();
    });
    assert_eq!(received.join().unwrap(), BULK_BYTES);
    let (elapsed, counters) = (start.elapsed(), net.counters());
    println!("{BULK_BYTES} bytes in {elapsed:?}: {counters}");
    // At a 1500-byte MTU this takes 5,600 data packets; 64 KiB ones need some 130 (+ acks).
    assert!(
        counters.forwarded < 1_000,
        "segments are small: is the MTU set? {counters}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "{elapsed:?} for 8 MiB: the switch is slow"
    );
}

/// A minimal IPv4 header from `src` to `dst` (last octets) in `world`.
fn packet(world: u8, src: u8, dst: u8) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[12..16].copy_from_slice(&[10, 77, world, src]);
    p[16..20].copy_from_slice(&[10, 77, world, dst]);
    p
}

fn fabric(params: NetParams) -> Fabric {
    let mut f = Fabric::new(1, 42);
    f.add_port(10);
    f.add_port(11);
    f.apply(&Control::Params(params));
    f
}

#[test]
fn the_network_and_a_connect_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let connector = Connector::start("cr299-none");
    send_sync(&connector);
    send(&connector.connect((Ipv4Addr::LOCALHOST, 1).into(), Duration::ZERO));
    let err = runtime()
        .block_on(connector.connect((Ipv4Addr::LOCALHOST, 1).into(), Duration::from_secs(1)));
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("/run/netns/cr299-none"),
        "names the namespace"
    );
    connector.stop();
    fn network_is_send_sync(n: &Network) {
        send_sync(n);
    }
    let _ = network_is_send_sync;
}

#[test]
fn fabric_keeps_each_link_fifo_and_reorder_breaks_it() {
    let far = Instant::now() + Duration::from_secs(60);
    for (reorder, fifo) in [(0, true), (500, false)] {
        let mut f = fabric(NetParams {
            latency_ms: (1, 30),
            reorder_per_mille: reorder,
            reorder_ms_max: 20,
            ..NetParams::default()
        });
        let now = Instant::now();
        for i in 0..100u8 {
            let mut p = packet(1, 10, 11);
            p[4] = i;
            f.accept(&p, now);
        }
        let order: Vec<u8> = std::iter::from_fn(|| f.pop_due(far))
            .map(|p| p.packet[4])
            .collect();
        assert_eq!(order.len(), 100);
        assert_eq!(
            order.windows(2).all(|w| w[0] < w[1]),
            fifo,
            "reorder {reorder}: {order:?}"
        );
    }
}

#[test]
fn fabric_drops_in_flight_packets_of_a_cut_link_and_foreign_packets() {
    let mut f = fabric(NetParams::default());
    let now = Instant::now();
    f.accept(&packet(1, 10, 11), now);
    f.accept(&packet(1, 11, 10), now);
    f.accept(&packet(2, 10, 11), now); // another world's subnet
    f.accept(&packet(1, 10, 12), now); // no such machine
    f.apply(&Control::Cut(10, 11));
    let delivered: Vec<(u8, u8)> = std::iter::from_fn(|| f.pop_due(now + Duration::from_secs(1)))
        .map(|p| (p.src, p.dst))
        .collect();
    assert_eq!(
        delivered,
        vec![(11, 10)],
        "the cut direction's packet in flight is dropped"
    );
    assert_eq!(
        (f.counters.cut, f.counters.unroutable),
        (1, 2),
        "{}",
        f.counters
    );
}

#[test]
fn fabric_bounds_its_delay_queue() {
    let mut f = fabric(NetParams {
        latency_ms: (1000, 1000),
        ..NetParams::default()
    });
    let now = Instant::now();
    let p = packet(1, 10, 11);
    for _ in 0..DELAY_QUEUE_PACKETS_MAX + 10 {
        f.accept(&p, now);
    }
    assert_eq!(f.queued(), DELAY_QUEUE_PACKETS_MAX);
    assert_eq!(f.counters.overflowed, 10);
}

#[test]
fn fabric_same_seed_same_decisions() {
    let params = NetParams {
        loss_per_mille: 200,
        dup_per_mille: 100,
        reorder_per_mille: 100,
        reorder_ms_max: 5,
        ..NetParams::default()
    };
    let run = |seed: u64| {
        let mut f = Fabric::new(1, seed);
        f.add_port(10);
        f.add_port(11);
        f.apply(&Control::Params(params));
        let now = Instant::now();
        for _ in 0..500 {
            f.accept(&packet(1, 10, 11), now);
        }
        let delays: Vec<Duration> = std::iter::from_fn(|| f.pop_due(now + Duration::from_secs(1)))
            .map(|p| p.at - now)
            .collect();
        (f.counters, delays)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9).0, run(10).0, "another seed draws otherwise");
}
