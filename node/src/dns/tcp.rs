//! The DNS TCP listener, with the bounds hickory's own TCP server lacks: at most
//! `DNS_TCP_CONNS_MAX` connections (more are closed at once), and a connection that does not
//! complete a query within `DNS_TCP_IDLE_TIMEOUT_MS` is closed. Messages are RFC 1035 §4.2.2's:
//! a 16-bit length, then the message, so one is at most 64 KiB by construction.

use super::handler::DnsHandler;
use hickory_server::net::xfer::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Open DNS TCP connections at once, over every listener. DNS clients use TCP only after a
/// truncated UDP reply (or for large answers), one short connection at a time; this keeps a
/// flood of idle connections from taking the file descriptors HTTP and the cluster need.
pub const DNS_TCP_CONNS_MAX: usize = 256;
/// A connection must deliver each whole query within this. miekg/dns (Consul's DNS library)
/// closes an idle connection after 8 s; resolvers send their query at once.
pub const DNS_TCP_IDLE_TIMEOUT_MS: u64 = 8_000;
/// After a failed accept (out of file descriptors), wait this long before the next, so the
/// loop does not spin while nothing can be accepted.
const ACCEPT_RETRY_MS: u64 = 50;

/// Accepts connections on `listener` until the process ends.
pub async fn serve_tcp(listener: TcpListener, handler: Arc<DnsHandler>, conns: Arc<Semaphore>) {
    loop {
        let (stream, src) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("dns: cannot accept a TCP connection: {e}");
                tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                continue;
            }
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            tracing::debug!("dns: more than {DNS_TCP_CONNS_MAX} TCP connections; closing {src}");
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve_connection(stream, src, &handler).await;
            drop(permit);
        });
    }
}

/// Answers the queries of one connection in order until it closes, idles or sends a message
/// with no header.
async fn serve_connection(mut stream: TcpStream, src: SocketAddr, handler: &DnsHandler) {
    let idle = Duration::from_millis(DNS_TCP_IDLE_TIMEOUT_MS);
    loop {
        let raw = match tokio::time::timeout(idle, read_message(&mut stream)).await {
            Ok(Ok(raw)) => raw,
            Ok(Err(_)) | Err(_) => return,
        };
        let Some(reply) = handler.reply_bytes(raw, src, Protocol::Tcp).await else {
            return;
        };
        if write_message(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

async fn read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = usize::from(stream.read_u16().await?);
    let mut raw = vec![0; len];
    stream.read_exact(&mut raw).await?;
    Ok(raw)
}

async fn write_message(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(std::io::Error::other)?;
    let mut framed = Vec::with_capacity(2 + message.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}
