//! The DNS listeners: UDP and TCP on each client address at the DNS port, bound before the
//! node starts (a busy port is a start error naming the address). UDP is hickory's `Server`;
//! TCP is `tcp.rs` (hickory's has no connection limit).

use super::config::DnsConfig;
use super::handler::{DnsHandler, SharedHandler};
use super::tcp::{serve_tcp, DNS_TCP_CONNS_MAX};
use crate::handle::NodeHandle;
use hickory_server::Server;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;

/// The bound sockets, waiting for the node.
pub struct DnsSockets {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
}

/// Tries at most this many port pairs for a port 0 address: the port the system gave UDP
/// may already be taken for TCP (by another process's TCP socket), and then a new pair is
/// drawn. A fixed port is tried once: there is nothing else to try.
const PORT_ZERO_BIND_ATTEMPTS_MAX: usize = 16;

/// Binds UDP and TCP on each of `addrs`; the error names the address and the protocol.
pub async fn bind(addrs: &[SocketAddr]) -> Result<DnsSockets, String> {
    let mut sockets = DnsSockets {
        udp: Vec::new(),
        tcp: Vec::new(),
    };
    for addr in addrs {
        let (udp, tcp) = bind_pair(*addr).await?;
        sockets.udp.push(udp);
        sockets.tcp.push(tcp);
    }
    assert_eq!(sockets.udp.len(), sockets.tcp.len());
    Ok(sockets)
}

/// UDP and TCP on one port: `addr`'s, or for port 0 one the system gives UDP and TCP can
/// also have.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), String> {
    let attempts = if addr.port() == 0 {
        PORT_ZERO_BIND_ATTEMPTS_MAX
    } else {
        1
    };
    let mut attempt = 1;
    loop {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for DNS (UDP) on {addr}: {e}"))?;
        // The TCP port must be the one UDP got (a port 0 asks the system for any).
        let tcp_addr = udp.local_addr().unwrap_or(addr);
        match TcpListener::bind(tcp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < attempts => {
                attempt += 1;
            }
            Err(e) => return Err(format!("cannot listen for DNS (TCP) on {tcp_addr}: {e}")),
        }
    }
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

/// Serves DNS on `sockets` until the process ends. The task owns hickory's `Server`
/// (dropping it would stop the UDP listeners).
pub fn serve(sockets: DnsSockets, handle: NodeHandle, config: DnsConfig) -> Result<(), String> {
    let handler = Arc::new(DnsHandler::new(handle, config)?);
    let conns = Arc::new(Semaphore::new(DNS_TCP_CONNS_MAX));
    for listener in sockets.tcp {
        tokio::spawn(serve_tcp(listener, handler.clone(), conns.clone()));
    }
    let mut server = Server::new(SharedHandler(handler));
    for socket in sockets.udp {
        server.register_socket(socket);
    }
    tokio::spawn(async move {
        if let Err(e) = server.block_until_done().await {
            tracing::error!("dns: the DNS server stopped: {e}");
        }
    });
    Ok(())
}
