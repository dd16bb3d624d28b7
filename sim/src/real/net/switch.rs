//! The switch: one OS thread that reads IP packets from every machine's TUN fd and writes
//! them to the destination's, with the simulator's faults. `Fabric` decides (no I/O, so it is
//! tested without root); `run` is the poll(2) loop around it. Controls (ports, cuts, clogs,
//! parameters, stop) arrive over a channel, with an eventfd in the poll set to wake the loop.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use concord_core::rng::Rng;

use super::{Counters, NetParams, SUBNET_OCTETS};

/// Packets waiting for their delivery time; beyond this they are dropped and counted, so a
/// flood cannot grow the runner without bound (at 64 KiB MTU this is at most 4 GiB, and in
/// practice packets are far smaller).
pub const DELAY_QUEUE_PACKETS_MAX: usize = 65_536;
/// One read buffer: the largest IPv4 packet.
const PACKET_BYTES_MAX: usize = 65_536;
/// Reads from one port before the loop looks at the others and at the clock again.
const READS_PER_PORT_PER_ROUND_MAX: usize = 256;
/// How long a caller waits for the switch to take a control; only a stuck switch takes this.
const CONTROL_ACK_TIMEOUT_MS: u64 = 5_000;
/// The smallest IPv4 header; shorter reads are not IPv4 packets.
const IPV4_HEADER_BYTES_MIN: usize = 20;
/// Microseconds per millisecond: delays are drawn in microseconds so 1..10 ms is not 10 values.
const US_PER_MS: u64 = 1_000;

#[derive(Debug)]
pub enum Control {
    /// A machine's TUN fd, reached at this last octet.
    AddPort(u8, OwnedFd),
    /// Drop packets from the first octet to the second.
    Cut(u8, u8),
    /// Drop (true) or stop dropping (false) every packet from and to this octet.
    Clog(u8, bool),
    /// Clear cuts and clogs.
    Heal,
    Params(NetParams),
    Stop,
}

/// The counters, shared with `Network::counters` (the switch publishes after every round).
#[derive(Default)]
pub struct CounterCells([AtomicU64; 7]);

impl CounterCells {
    pub fn load(&self, order: Ordering) -> Counters {
        let v: Vec<u64> = self.0.iter().map(|c| c.load(order)).collect();
        Counters {
            forwarded: v[0],
            cut: v[1],
            lost: v[2],
            duplicated: v[3],
            reordered: v[4],
            overflowed: v[5],
            unroutable: v[6],
        }
    }

    fn store(&self, c: &Counters) {
        let v = [
            c.forwarded,
            c.cut,
            c.lost,
            c.duplicated,
            c.reordered,
            c.overflowed,
            c.unroutable,
        ];
        for (cell, value) in self.0.iter().zip(v) {
            cell.store(value, Ordering::Relaxed);
        }
    }
}

/// A packet waiting in the delay queue; ordered by delivery time, then arrival.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pending {
    pub at: Instant,
    pub seq: u64,
    pub src: u8,
    pub dst: u8,
    pub packet: Vec<u8>,
}

/// The switch's decisions: which packets pass, when, and how many times. No I/O.
pub struct Fabric {
    world: u8,
    rng: Rng,
    params: NetParams,
    ports: BTreeSet<u8>,
    cuts: BTreeSet<(u8, u8)>,
    clogged: BTreeSet<u8>,
    /// The latest delivery time given on each link (src, dst): later packets never go sooner,
    /// so a link is FIFO as a real path is (free per-packet draws made TCP 2x slower).
    last: HashMap<(u8, u8), Instant>,
    queue: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    pub counters: Counters,
}

impl Fabric {
    pub fn new(world: u8, seed: u64) -> Fabric {
        Fabric {
            world,
            rng: Rng::new(seed),
            params: NetParams::default(),
            ports: BTreeSet::new(),
            cuts: BTreeSet::new(),
            clogged: BTreeSet::new(),
            last: HashMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            counters: Counters::default(),
        }
    }

    pub fn add_port(&mut self, octet: u8) {
        self.ports.insert(octet);
    }

    /// Applies every control but `AddPort` and `Stop`, which the I/O loop handles.
    pub fn apply(&mut self, control: &Control) {
        match *control {
            Control::Cut(from, to) => {
                self.cuts.insert((from, to));
            }
            Control::Clog(octet, true) => {
                self.clogged.insert(octet);
            }
            Control::Clog(octet, false) => {
                self.clogged.remove(&octet);
            }
            Control::Heal => {
                self.cuts.clear();
                self.clogged.clear();
            }
            Control::Params(mut params) => {
                // A reversed range is read as its smaller end: never a panic in the switch.
                params.latency_ms.1 = params.latency_ms.1.max(params.latency_ms.0);
                self.params = params;
            }
            Control::AddPort(octet, _) => self.add_port(octet),
            Control::Stop => {}
        }
    }

    fn blocked(&self, src: u8, dst: u8) -> bool {
        self.cuts.contains(&(src, dst))
            || self.clogged.contains(&src)
            || self.clogged.contains(&dst)
    }

    /// The (src, dst) last octets of an IPv4 packet between two of this world's machines.
    fn route(&self, packet: &[u8]) -> Option<(u8, u8)> {
        if packet.len() < IPV4_HEADER_BYTES_MIN || packet[0] >> 4 != 4 {
            return None;
        }
        let subnet = [SUBNET_OCTETS[0], SUBNET_OCTETS[1], self.world];
        let (src, dst) = (&packet[12..16], &packet[16..20]);
        let ours = src[..3] == subnet && dst[..3] == subnet && self.ports.contains(&dst[3]);
        ours.then_some((src[3], dst[3]))
    }

    /// Takes one packet read at `now`: drops it (counted) or queues one or two copies.
    pub fn accept(&mut self, packet: &[u8], now: Instant) {
        let Some((src, dst)) = self.route(packet) else {
            self.counters.unroutable += 1;
            return;
        };
        if self.blocked(src, dst) {
            self.counters.cut += 1;
            return;
        }
        if self.rng.chance(self.params.loss_per_mille, 1000) {
            self.counters.lost += 1;
            return;
        }
        let copies = if self.rng.chance(self.params.dup_per_mille, 1000) {
            2
        } else {
            1
        };
        self.counters.duplicated += copies - 1;
        for _ in 0..copies {
            self.enqueue(src, dst, packet.to_vec(), now);
        }
    }

    fn enqueue(&mut self, src: u8, dst: u8, packet: Vec<u8>, now: Instant) {
        if self.queue.len() >= DELAY_QUEUE_PACKETS_MAX {
            self.counters.overflowed += 1;
            return;
        }
        let (lo_us, hi_us) = (
            self.params.latency_ms.0 * US_PER_MS,
            self.params.latency_ms.1 * US_PER_MS,
        );
        let mut at = now + Duration::from_micros(self.rng.range(lo_us, hi_us + 1));
        if self.rng.chance(self.params.reorder_per_mille, 1000) {
            // Held back beyond its latency and outside the link's FIFO: later packets overtake it.
            let extra_us = self
                .rng
                .range(0, self.params.reorder_ms_max * US_PER_MS + 1);
            at += Duration::from_micros(extra_us);
            self.counters.reordered += 1;
        } else {
            let last = self.last.entry((src, dst)).or_insert(at);
            at = at.max(*last);
            *last = at;
        }
        self.seq += 1;
        let seq = self.seq;
        self.queue.push(Reverse(Pending {
            at,
            seq,
            src,
            dst,
            packet,
        }));
    }

    /// When the next queued packet is due, if any.
    pub fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(p)| p.at)
    }

    /// The next packet due by `now`. One whose link was cut or clogged while it was in flight
    /// is dropped here (counted as cut), as a pulled cable drops what is on it.
    pub fn pop_due(&mut self, now: Instant) -> Option<Pending> {
        while self.next_at().is_some_and(|at| at <= now) {
            let Reverse(p) = self.queue.pop().expect("peeked");
            if self.blocked(p.src, p.dst) {
                self.counters.cut += 1;
                continue;
            }
            return Some(p);
        }
        None
    }

    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

type Request = (Control, mpsc::SyncSender<()>);

/// The runner's side of the switch thread.
pub struct SwitchHandle {
    tx: mpsc::Sender<Request>,
    wake: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl SwitchHandle {
    pub fn start(world: u8, seed: u64, counters: Arc<CounterCells>) -> io::Result<SwitchHandle> {
        // SAFETY: eventfd returns a fresh fd or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("eventfd: {e}")));
        }
        // SAFETY: `raw` is fresh and owned only here.
        let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(raw) });
        let (tx, rx) = mpsc::channel();
        let loop_wake = Arc::clone(&wake);
        let thread = std::thread::Builder::new()
            .name(format!("switch-w{world}"))
            .spawn(move || run(Fabric::new(world, seed), rx, &loop_wake, &counters))?;
        Ok(SwitchHandle {
            tx,
            wake,
            thread: Some(thread),
        })
    }

    pub fn add_port(&self, octet: u8, fd: OwnedFd) -> io::Result<()> {
        self.control(Control::AddPort(octet, fd))
    }

    /// Hands `control` to the switch and waits until it has taken it.
    pub fn control(&self, control: Control) -> io::Result<()> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.tx
            .send((control, ack_tx))
            .map_err(|_| io::Error::other("the switch thread has ended"))?;
        wake(self.wake.as_raw_fd());
        ack_rx
            .recv_timeout(Duration::from_millis(CONTROL_ACK_TIMEOUT_MS))
            .map_err(|e| io::Error::other(format!("the switch did not take the control: {e}")))
    }

    /// Stops the thread and waits for it; its TUN fds close with it.
    pub fn stop(mut self) {
        let _ = self.control(Control::Stop);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                eprintln!("network: the switch thread panicked");
            }
        }
    }
}

fn wake(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to our eventfd; a full counter only means a
    // wake-up is pending already.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// The loop: wait for a packet, a control or the next delivery time; read, decide, deliver.
fn run(
    mut fabric: Fabric,
    rx: mpsc::Receiver<Request>,
    wake_fd: &OwnedFd,
    counters: &CounterCells,
) {
    let mut ports: Vec<(u8, OwnedFd)> = Vec::new();
    let mut buf = vec![0u8; PACKET_BYTES_MAX];
    loop {
        let ready = wait(wake_fd, &ports, fabric.next_at());
        if ready.first().copied().unwrap_or(false) {
            drain_wake(wake_fd.as_raw_fd());
            if !take_controls(&mut fabric, &rx, &mut ports) {
                return;
            }
        }
        for (i, (_, fd)) in ports.iter().enumerate() {
            if ready.get(i + 1).copied().unwrap_or(false) {
                read_port(&mut fabric, fd.as_raw_fd(), &mut buf);
            }
        }
        deliver(&mut fabric, &ports);
        counters.store(&fabric.counters);
    }
}

/// Applies the pending controls; false once told to stop (or the runner's side is gone).
fn take_controls(
    fabric: &mut Fabric,
    rx: &mpsc::Receiver<Request>,
    ports: &mut Vec<(u8, OwnedFd)>,
) -> bool {
    loop {
        match rx.try_recv() {
            Ok((Control::Stop, ack)) => {
                let _ = ack.send(());
                return false;
            }
            Ok((Control::AddPort(octet, fd), ack)) => {
                fabric.add_port(octet);
                ports.retain(|(o, _)| *o != octet);
                ports.push((octet, fd));
                let _ = ack.send(());
            }
            Ok((control, ack)) => {
                fabric.apply(&control);
                let _ = ack.send(());
            }
            Err(mpsc::TryRecvError::Empty) => return true,
            Err(mpsc::TryRecvError::Disconnected) => return false,
        }
    }
}

/// ppoll over the wake fd and the ports until one is readable or `until`; returns which are
/// (index 0 is the wake fd). ppoll, not poll: its timeout is not rounded to milliseconds.
fn wait(wake_fd: &OwnedFd, ports: &[(u8, OwnedFd)], until: Option<Instant>) -> Vec<bool> {
    let mut fds: Vec<libc::pollfd> = std::iter::once(wake_fd.as_raw_fd())
        .chain(ports.iter().map(|(_, fd)| fd.as_raw_fd()))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout = until.map(|at| {
        let left = at.saturating_duration_since(Instant::now());
        libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        }
    });
    let timeout_ptr = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of its length; a null timeout waits without bound.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout_ptr,
            std::ptr::null(),
        )
    };
    if n < 0 {
        // EINTR: look again. Nothing is ready.
        return vec![false; fds.len()];
    }
    fds.iter()
        .map(|p| p.revents & (libc::POLLIN | libc::POLLERR) != 0)
        .collect()
}

fn drain_wake(fd: RawFd) {
    let mut count: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
    unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
}

/// Reads what one port has (a bounded number, for fairness) into the fabric.
fn read_port(fabric: &mut Fabric, fd: RawFd, buf: &mut [u8]) {
    for _ in 0..READS_PER_PORT_PER_ROUND_MAX {
        // SAFETY: reads at most `buf.len()` bytes into `buf` from a TUN fd we own.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            // EAGAIN: drained. A TUN fd reports no other error while we hold it open.
            return;
        }
        fabric.accept(&buf[..n as usize], Instant::now());
    }
}

/// Writes every packet that is due; a failed write is counted as unroutable.
fn deliver(fabric: &mut Fabric, ports: &[(u8, OwnedFd)]) {
    let now = Instant::now();
    while let Some(p) = fabric.pop_due(now) {
        let Some((_, fd)) = ports.iter().find(|(o, _)| *o == p.dst) else {
            fabric.counters.unroutable += 1;
            continue;
        };
        // SAFETY: writes `p.packet` (one IP packet) to a TUN fd we own.
        let n = unsafe { libc::write(fd.as_raw_fd(), p.packet.as_ptr().cast(), p.packet.len()) };
        if n == p.packet.len() as isize {
            fabric.counters.forwarded += 1;
        } else {
            fabric.counters.unroutable += 1;
        }
    }
}
