//! One HTTP/1.1 exchange over a fresh connection, without a client library: the tests see the
//! status, headers and body exactly as the agent sent them.

use std::io::{Read, Write};
use std::time::Duration;

/// What the agent answered.
pub struct HttpAnswer {
    pub status: u16,
    /// The status line and the headers.
    pub head: String,
    pub body: String,
}

/// Sends `METHOD path` with `body` and reads the answer until the agent closes. Errors are
/// connection failures; any status, 4xx and 5xx included, is an answer.
pub fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Result<HttpAnswer, String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    let request_head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(request_head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("no status line in {text:?}"))?;
    Ok(HttpAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}
