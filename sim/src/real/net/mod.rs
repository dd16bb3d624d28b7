//! The real world's network (issue 16): one network namespace per machine, each with a TUN
//! device whose fd stays the runner's, and one switch thread that moves IP packets between
//! them with the simulator's faults (cut, clog, loss, duplication, latency, reordering).
//! This kernel has no `sch_netem`, so the delay and duplication are done in user space; see
//! /work/notes/issue16-design.md §3. The runner's own client traffic never crosses the switch:
//! a [`Connector`] makes its sockets inside the agent's namespace, on the agent's loopback.

mod connector;
mod netns;
mod switch;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use connector::Connector;
pub use netns::in_namespace;
pub use switch::DELAY_QUEUE_PACKETS_MAX;
use switch::{CounterCells, SwitchHandle};

/// The first two octets of every world's addresses; the third is the world's number.
pub const SUBNET_OCTETS: [u8; 2] = [10, 77];
/// The last octet of a world's first machine (`10.77.W.10`); lower octets are left free.
pub const HOST_OCTET_FIRST: u8 = 10;

/// The faults the switch applies to every packet between two machines, as the scenario verb
/// `network loss%= latency=A..B dup%= reorder%= reorder-ms=` sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetParams {
    /// Packets dropped, per thousand.
    pub loss_per_mille: u64,
    /// One-way delay drawn uniformly from `lo..=hi` milliseconds.
    pub latency_ms: (u64, u64),
    /// Packets sent twice, per thousand.
    pub dup_per_mille: u64,
    /// Packets held back (out of their link's FIFO order), per thousand.
    pub reorder_per_mille: u64,
    /// The most a reordered packet is held back beyond its latency, in milliseconds.
    pub reorder_ms_max: u64,
}

impl Default for NetParams {
    /// madsim's default latency (1..10 ms) and nothing else, so that a scenario without a
    /// `network` line means the same in both worlds.
    fn default() -> NetParams {
        NetParams {
            loss_per_mille: 0,
            latency_ms: (1, 10),
            dup_per_mille: 0,
            reorder_per_mille: 0,
            reorder_ms_max: 0,
        }
    }
}

/// What the switch did with the packets it read, since the network was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets written to their destination (each copy of a duplicate counts).
    pub forwarded: u64,
    /// Packets dropped because their link was cut or an end was clogged.
    pub cut: u64,
    /// Packets dropped by the loss rate.
    pub lost: u64,
    /// Extra copies made by the duplication rate.
    pub duplicated: u64,
    /// Packets held back out of their link's order by the reorder rate.
    pub reordered: u64,
    /// Packets dropped because the delay queue was full (`DELAY_QUEUE_PACKETS_MAX`).
    pub overflowed: u64,
    /// Packets to an address no machine has, or not IPv4, or that could not be written.
    pub unroutable: u64,
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "forwarded={} cut={} lost={} duplicated={} reordered={} overflowed={} unroutable={}",
            self.forwarded,
            self.cut,
            self.lost,
            self.duplicated,
            self.reordered,
            self.overflowed,
            self.unroutable
        )
    }
}

/// One world's network. Dropping it stops the switch, closes the TUN fds (the devices
/// vanish with them) and deletes the namespaces; the caller kills its processes first.
pub struct Network {
    world: u8,
    switch: Option<SwitchHandle>,
    counters: Arc<CounterCells>,
    /// Namespace name -> its socket-making thread, made on first use.
    connectors: std::sync::Mutex<BTreeMap<String, Connector>>,
    namespaces: Vec<String>,
}

impl Network {
    /// Sweeps leftovers named with this world's prefix (`cr{world}-`), starts the switch thread.
    pub fn new(world: u8, seed: u64) -> io::Result<Network> {
        netns::sweep(&Network::prefix(world))?;
        let counters = Arc::new(CounterCells::default());
        let switch = SwitchHandle::start(world, seed, Arc::clone(&counters))?;
        Ok(Network {
            world,
            switch: Some(switch),
            counters,
            connectors: std::sync::Mutex::new(BTreeMap::new()),
            namespaces: Vec::new(),
        })
    }

    /// The namespace prefix of one world: `cr7-` (the dash keeps `cr1-` off `cr10-*`).
    pub fn prefix(world: u8) -> String {
        format!("cr{world}-")
    }

    /// Machine `index`'s address in world `world`: `10.77.{world}.{10+index}`.
    pub fn ip_of(world: u8, index: usize) -> Ipv4Addr {
        let octet = usize::from(HOST_OCTET_FIRST) + index;
        assert!(octet < 255, "machine index {index} has no address in a /24");
        Ipv4Addr::new(SUBNET_OCTETS[0], SUBNET_OCTETS[1], world, octet as u8)
    }

    /// Creates namespace `cr{world}-{name}`, a TUN device in it with `ip`/24 (MTU 65535, up),
    /// lo up, IPv6 off; returns the namespace's name. The switch forwards packets to `ip`.
    pub fn add_node(&mut self, name: &str, ip: Ipv4Addr) -> io::Result<String> {
        let octets = ip.octets();
        if octets[..2] != SUBNET_OCTETS || octets[2] != self.world || octets[3] == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "add_node {name}: {ip} is not a host of world {}'s 10.77.{}.0/24",
                    self.world, self.world
                ),
            ));
        }
        let namespace = format!("{}{name}", Network::prefix(self.world));
        netns::check_name(&namespace)?;
        if self.namespaces.contains(&namespace) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("add_node: namespace {namespace} exists already"),
            ));
        }
        netns::add(&namespace)?;
        self.namespaces.push(namespace.clone());
        let tun = netns::add_tun(&namespace, ip)?;
        self.switch()?.add_port(octets[3], tun)?;
        Ok(namespace)
    }

    /// One way: drops the packets from `from` to `to` (also those already in flight).
    pub fn cut(&self, from: Ipv4Addr, to: Ipv4Addr) {
        self.send(switch::Control::Cut(from.octets()[3], to.octets()[3]));
    }

    /// Drops every packet from and to `ip`.
    pub fn clog(&self, ip: Ipv4Addr) {
        self.send(switch::Control::Clog(ip.octets()[3], true));
    }

    pub fn unclog(&self, ip: Ipv4Addr) {
        self.send(switch::Control::Clog(ip.octets()[3], false));
    }

    /// Clears cuts and clogs only: loss, latency and the rest stay, as `World::heal` does.
    pub fn heal(&self) {
        self.send(switch::Control::Heal);
    }

    pub fn set_params(&self, params: NetParams) {
        self.send(switch::Control::Params(params));
    }

    pub fn counters(&self) -> Counters {
        self.counters.load(Ordering::Relaxed)
    }

    /// A TCP connection made inside `namespace` (so it reaches the agent's 127.0.0.1 listener
    /// and never crosses the switch). One thread per namespace makes the sockets.
    pub fn connector(&self, namespace: &str) -> Connector {
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        connectors
            .entry(namespace.to_string())
            .or_insert_with(|| Connector::start(namespace))
            .clone()
    }

    fn switch(&self) -> io::Result<&SwitchHandle> {
        self.switch
            .as_ref()
            .ok_or_else(|| io::Error::other("the switch is stopped"))
    }

    /// Applies a control and waits until the switch has it, so that a `cut` holds for every
    /// packet read after this returns. A dead switch is reported, not fatal: the run's
    /// checks fail on their own when nothing is forwarded.
    fn send(&self, control: switch::Control) {
        let what = format!("{control:?}");
        let result = self.switch().and_then(|s| s.control(control));
        if let Err(e) = result {
            eprintln!("network world {}: {what} not applied: {e}", self.world);
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let connectors =
            std::mem::take(self.connectors.get_mut().unwrap_or_else(|e| e.into_inner()));
        for connector in connectors.into_values() {
            connector.stop();
        }
        if let Some(switch) = self.switch.take() {
            switch.stop();
        }
        for namespace in self.namespaces.drain(..) {
            if let Err(e) = netns::delete(&namespace) {
                eprintln!("network world {}: {e}", self.world);
            }
        }
    }
}
