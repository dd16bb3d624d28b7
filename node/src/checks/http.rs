//! HTTP checks: a request to the URL (GET unless `Method`), 2xx passing, 429 warning, anything
//! else critical; output "HTTP GET <url>: <code> <reason> Output: <body prefix>", Consul's.
//!
//! A small HTTP/1.1 client over a TCP stream (the node has no HTTP client library): plain
//! `http://` only. An `https://` check is reported critical saying so; `TLSSkipVerify` has no
//! effect.

use super::OUTPUT_READ_BYTES_MAX;
use concord_core::agent::local::CheckKind;
use concord_core::catalog::CheckStatus;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn run(kind: &CheckKind, timeout: Duration) -> (CheckStatus, String) {
    let CheckKind::Http {
        url,
        method,
        header,
        body,
        ..
    } = kind
    else {
        unreachable!("HTTP checks only");
    };
    let exchange = exchange(url, method, header, body);
    let (code, reason, text) = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return super::critical(format!("{method} {url}: {e}")),
        Err(_) => {
            let why = format!("{method} {url}: request timed out after {timeout:?}");
            return super::critical(why);
        }
    };
    let status = match code {
        200..=299 => CheckStatus::Passing,
        429 => CheckStatus::Warning,
        _ => CheckStatus::Critical,
    };
    (
        status,
        format!("HTTP {method} {url}: {code} {reason} Output: {text}"),
    )
}

/// `http://host[:port]/path` into (host:port, host, path).
fn split_url(url: &str) -> Result<(String, String, String), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err("only http:// URLs are supported by Concord's HTTP checks".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    let addr = match has_port {
        true => authority.to_string(),
        false => format!("{authority}:80"),
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

async fn exchange(
    url: &str,
    method: &str,
    header: &BTreeMap<String, Vec<String>>,
    body: &str,
) -> Result<(u16, String, String), String> {
    let (addr, host, path) = split_url(url)?;
    let mut stream = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    request.push_str("User-Agent: Consul Health Check\r\nAccept: text/plain, text/*, */*\r\n");
    for (name, values) in header {
        values
            .iter()
            .for_each(|v| request.push_str(&format!("{name}: {v}\r\n")));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut limited = (&mut stream).take(OUTPUT_READ_BYTES_MAX as u64 + 1024);
    limited
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    parse_answer(&answer)
}

/// The status line's code and reason, and the body (as much as was read).
fn parse_answer(answer: &[u8]) -> Result<(u16, String, String), String> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (_version, code) = (parts.next(), parts.next());
    let code: u16 = code
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("malformed HTTP response: {status_line:?}"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut body = body.to_string();
    body.truncate(body.floor_char_boundary(OUTPUT_READ_BYTES_MAX));
    Ok((code, reason, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_answers_are_read_as_a_check_needs() {
        let (addr, host, path) = split_url("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(
            (addr.as_str(), host.as_str(), path.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "/health?x=1")
        );
        assert_eq!(split_url("http://example").unwrap().0, "example:80");
        assert!(split_url("https://x/").is_err());
        let answer = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 4\r\n\r\nslow";
        assert_eq!(
            parse_answer(answer).unwrap(),
            (429, "Too Many Requests".into(), "slow".into())
        );
        assert!(parse_answer(b"garbage").is_err());
    }
}
