//! The DNS listeners: UDP and TCP on each client address at the DNS port, bound before the
//! node starts (a busy port is a start error naming the address), served by hickory's
//! `Server` with `DnsHandler`.

use super::config::DnsConfig;
use super::handler::DnsHandler;
use crate::handle::NodeHandle;
use hickory_server::Server;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

/// A TCP connection that sends no complete query for this long is closed. miekg/dns (Consul's
/// DNS library) closes an idle connection after 8 s; resolvers that use TCP after a truncated
/// UDP reply send their query at once.
pub const DNS_TCP_IDLE_TIMEOUT_MS: u64 = 8_000;
/// Replies queued for one TCP connection: hickory answers a connection's queries one at a
/// time, so a few suffice and a client that does not read cannot pile them up.
pub const DNS_TCP_REPLIES_QUEUED_MAX: usize = 4;

/// The bound sockets, waiting for the node.
pub struct DnsSockets {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
}

/// Binds UDP and TCP on each of `addrs`; the error names the address and the protocol.
pub async fn bind(addrs: &[SocketAddr]) -> Result<DnsSockets, String> {
    let mut sockets = DnsSockets {
        udp: Vec::new(),
        tcp: Vec::new(),
    };
    for addr in addrs {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for DNS (UDP) on {addr}: {e}"))?;
        // The TCP port must be the one UDP got (a port 0 asks the system for any).
        let tcp_addr = udp.local_addr().unwrap_or(*addr);
        let tcp = TcpListener::bind(tcp_addr)
            .await
            .map_err(|e| format!("cannot listen for DNS (TCP) on {tcp_addr}: {e}"))?;
        sockets.udp.push(udp);
        sockets.tcp.push(tcp);
    }
    Ok(sockets)
}

impl DnsSockets {
    /// Where the UDP sockets listen (the TCP listeners share the addresses).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

/// Serves DNS on `sockets` until the process ends; the task owns hickory's `Server` (dropping
/// it would stop the listeners).
pub fn serve(sockets: DnsSockets, handle: NodeHandle, config: DnsConfig) -> Result<(), String> {
    let handler = DnsHandler::new(handle, config)?;
    let mut server = Server::new(handler);
    for socket in sockets.udp {
        server.register_socket(socket);
    }
    let idle = Duration::from_millis(DNS_TCP_IDLE_TIMEOUT_MS);
    for listener in sockets.tcp {
        server.register_listener(listener, idle, DNS_TCP_REPLIES_QUEUED_MAX);
    }
    tokio::spawn(async move {
        if let Err(e) = server.block_until_done().await {
            tracing::error!("dns: the DNS server stopped: {e}");
        }
    });
    Ok(())
}
