//! TCP checks: passing when a connection opens within the timeout, as Consul's.

use concord_core::catalog::CheckStatus;
use std::time::Duration;
use tokio::net::TcpStream;

pub async fn run(addr: &str, timeout: Duration) -> (CheckStatus, String) {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => (CheckStatus::Passing, format!("TCP connect {addr}: Success")),
        Ok(Err(e)) => super::critical(format!("dial tcp {addr}: {e}")),
        Err(_) => super::critical(format!("dial tcp {addr}: i/o timeout")),
    }
}
