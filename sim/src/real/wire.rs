//! One HTTP/1.1 exchange over tokio, on its own connection (`Connection: close`, so the answer
//! ends at EOF). Hand-rolled: no client crate, and cancelling a request is dropping its future.

use super::net::Connector;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer is read up to this size; a larger one is cut off and reported (the simulator's
/// requests never get answers near it: KV values are at most 512 KiB).
pub const ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;

/// An answer, its headers as sent (names compared without case).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        found.next().map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why an exchange gave no answer. The difference matters to the history: `NotSent` means
/// the request cannot have happened, `Lost` that it may have.
#[derive(Debug)]
pub enum WireError {
    /// The connection was refused or could not be made: nothing was sent.
    NotSent(String),
    /// The connection broke, or the time ran out, after the request was (maybe) sent.
    Lost(String),
}

/// Sends `method path` with `body` to `addr` and reads the answer, all within `timeout`.
/// With a `connector`, the connection is made inside its namespace (the agent's loopback).
pub async fn exchange(
    addr: SocketAddr,
    connector: Option<&Connector>,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Answer, WireError> {
    let connected = match connector {
        Some(connector) => Ok(connector.connect(addr, timeout).await),
        None => tokio::time::timeout(timeout, TcpStream::connect(addr)).await,
    };
    let mut stream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(WireError::NotSent(format!("connect to {addr}: {e}"))),
        Err(_) => return Err(WireError::NotSent(format!("connect to {addr}: timed out"))),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let talk = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        read_bounded(&mut stream).await
    };
    match tokio::time::timeout(timeout, talk).await {
        Ok(Ok(raw)) => parse(&raw).map_err(WireError::Lost),
        Ok(Err(e)) => Err(WireError::Lost(format!("{method} {path} on {addr}: {e}"))),
        Err(_) => Err(WireError::Lost(format!(
            "{method} {path} on {addr}: no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

async fn read_bounded(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut limited = stream.take(ANSWER_BYTES_MAX as u64 + 1);
    limited.read_to_end(&mut raw).await?;
    if raw.len() > ANSWER_BYTES_MAX {
        return Err(std::io::Error::other(format!(
            "answer over {ANSWER_BYTES_MAX} bytes"
        )));
    }
    Ok(raw)
}

/// The status line, the headers, and the body (de-chunked when sent chunked).
pub fn parse(raw: &[u8]) -> Result<Answer, String> {
    let split = find(raw, b"\r\n\r\n").ok_or("answer has no end of head")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    let chunked = answer
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    if chunked {
        answer.body = dechunk(&answer.body)?;
    }
    Ok(answer)
}

fn find(data: &[u8], what: &[u8]) -> Option<usize> {
    data.windows(what.len()).position(|w| w == what)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or("chunk size line has no end")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(line_end + 2..line_end + 2 + size)
            .ok_or("answer ends inside a chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(line_end + 4 + size..).ok_or("chunk has no end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_headers_found_without_case() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Consul-Index: 7\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let answer = parse(raw).unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &b"abcde"[..])
        );
        assert_eq!(answer.header("x-consul-index"), Some("7"));
    }

    #[test]
    fn a_truncated_answer_is_an_error_not_a_panic() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3").is_err());
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc";
        assert!(parse(cut).is_err());
        assert!(parse(b"garbage\r\n\r\n").is_err());
    }
}
