//! What an unauthenticated peer may hold on our side: connections per remote address and in
//! total, and bytes of frames still arriving (per connection and across all of them). Without
//! these, 300 connections each declaring an 8 MiB frame and sending 7 MiB took 2 GB of RSS.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Bytes of partly received frames across every inbound connection (eight maximal frames).
pub const INBOUND_BUFFER_BYTES_MAX: usize = 64 << 20;
/// Consul's `limits.rpc_max_conns_per_client` default: connections from one source address.
pub const RPC_MAX_CONNS_PER_CLIENT: usize = 100;
/// Inbound connections on the cluster ports at once. Every agent keeps one connection to each
/// destination (at most `PEERS_MAX`), so this leaves room for a cluster of that size twice over.
pub const INBOUND_CONNS_MAX: usize = 2 * super::PEERS_MAX;
/// Once a frame's first byte arrived, the rest must arrive within this (Consul's
/// `rpc_handshake_timeout` is 5s; a maximal 8 MiB frame needs under 1s at 100 Mbit/s).
pub const FRAME_READ_TIMEOUT_MS: u64 = 10_000;

/// Gives freed frame buffers back to the system, so that RSS comes back down after a burst.
/// glibc raises its mmap threshold to the largest block freed (up to 32 MiB); after the first
/// multi-MiB frame buffer is freed, later ones come from the heap and stay there (measured: an
/// attack bounded to 64 MiB of buffers left 158 MB of RSS behind). A fixed threshold keeps
/// every buffer over 128 KiB in its own mapping. Process-wide: the agent calls it at start.
#[cfg(not(madsim))]
pub fn return_freed_buffers_to_the_system() {
    // Allocations from this size up get their own mapping, unmapped when freed.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    const MMAP_THRESHOLD_BYTES: i32 = 128 << 10;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; any value is safe to set at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

/// The bounds, by name; `Default` is the product's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundLimits {
    /// The total budget shared by every connection of both cluster listeners.
    pub inbound_buffer_bytes_max: usize,
    /// One connection's frame buffer (and so its largest frame); at most `FRAME_SIZE_BYTES_MAX`.
    pub conn_buffer_bytes_max: usize,
    pub rpc_max_conns_per_client: usize,
    pub inbound_conns_max: usize,
    pub frame_read_timeout_ms: u64,
}

impl Default for InboundLimits {
    fn default() -> InboundLimits {
        InboundLimits {
            inbound_buffer_bytes_max: INBOUND_BUFFER_BYTES_MAX,
            conn_buffer_bytes_max: super::frame::FRAME_SIZE_BYTES_MAX,
            rpc_max_conns_per_client: RPC_MAX_CONNS_PER_CLIENT,
            inbound_conns_max: INBOUND_CONNS_MAX,
            frame_read_timeout_ms: FRAME_READ_TIMEOUT_MS,
        }
    }
}

/// Why an accepted connection was closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    PerClient,
    Total,
}

/// The shared state behind the bounds: one per node, shared by its listeners.
#[derive(Debug)]
pub struct Inbound {
    pub limits: InboundLimits,
    /// One permit per byte of frame buffer capacity.
    pub budget: Arc<Semaphore>,
    conns: Arc<ConnTable>,
}

impl Inbound {
    pub fn new(limits: InboundLimits) -> Arc<Inbound> {
        assert!(limits.conn_buffer_bytes_max <= super::frame::FRAME_SIZE_BYTES_MAX);
        // A maximal frame must fit in the budget, or it could never be received.
        assert!(limits.conn_buffer_bytes_max <= limits.inbound_buffer_bytes_max);
        Arc::new(Inbound {
            budget: Arc::new(Semaphore::new(limits.inbound_buffer_bytes_max)),
            conns: ConnTable::new(limits.rpc_max_conns_per_client, limits.inbound_conns_max),
            limits,
        })
    }

    /// Counts a new connection from `ip`, or says why it must be closed.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refusal> {
        self.conns.admit(ip)
    }

    /// Bytes of frame buffers held now.
    pub fn buffered_bytes(&self) -> usize {
        self.limits.inbound_buffer_bytes_max - self.budget.available_permits()
    }

    /// Connections open now.
    pub fn open_conns(&self) -> usize {
        self.conns.open()
    }
}

/// Open connections by source address, with a cap per address and in total (the HTTP server
/// keeps one too).
#[derive(Debug)]
pub struct ConnTable {
    per_client_max: usize,
    total_max: usize,
    conns: Mutex<Conns>,
}

#[derive(Debug, Default)]
struct Conns {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl ConnTable {
    pub fn new(per_client_max: usize, total_max: usize) -> Arc<ConnTable> {
        assert!(per_client_max > 0 && total_max > 0);
        Arc::new(ConnTable {
            per_client_max,
            total_max,
            conns: Mutex::new(Conns::default()),
        })
    }

    /// Counts a new connection from `ip`, or says why it must be closed.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.total >= self.total_max {
            return Err(Refusal::Total);
        }
        let from_ip = conns.per_client.entry(ip).or_insert(0);
        if *from_ip >= self.per_client_max {
            return Err(Refusal::PerClient);
        }
        *from_ip += 1;
        conns.total += 1;
        Ok(Admitted {
            table: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    table: Arc<ConnTable>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut conns = self.table.conns.lock().unwrap_or_else(|e| e.into_inner());
        debug_assert!(conns.total > 0);
        conns.total -= 1;
        if let Some(from_ip) = conns.per_client.get_mut(&self.ip) {
            *from_ip -= 1;
            if *from_ip == 0 {
                conns.per_client.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_and_total_bounds() {
        let inbound = Inbound::new(InboundLimits {
            rpc_max_conns_per_client: 2,
            inbound_conns_max: 3,
            ..InboundLimits::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = inbound.admit(a).unwrap();
        let _second = inbound.admit(a).unwrap();
        assert_eq!(inbound.admit(a).unwrap_err(), Refusal::PerClient);
        let _third = inbound.admit(b).unwrap();
        assert_eq!(inbound.admit(b).unwrap_err(), Refusal::Total);
        drop(first);
        assert_eq!(inbound.open_conns(), 2);
        assert!(inbound.admit(a).is_ok());
    }
}
