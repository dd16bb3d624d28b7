//! HTTP connection limits on a real agent: `limits.http_max_conns_per_client` refuses the
//! excess connection from one address (429, then closed, as Consul does) while other addresses
//! are served, and `limits.http_idle_timeout` closes idle keep-alive connections.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};
use support::*;

const IP: &str = "127.0.30.1";
const PER_CLIENT: usize = 4;
const IDLE_TIMEOUT_MS: u64 = 3_000;

/// A connection to `to` from the loopback address `source` (bound before connecting).
fn connect_from(source: &str, to: &str) -> TcpStream {
    try_connect_from(source, to).unwrap_or_else(|e| panic!("{source} -> {to}: {e}"))
}

fn try_connect_from(source: &str, to: &str) -> std::io::Result<TcpStream> {
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    let to: SocketAddr = to.parse().unwrap();
    let (SocketAddr::V4(source), SocketAddr::V4(to)) = (source, to) else {
        panic!("IPv4 only")
    };
    let sockaddr = |a: std::net::SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, owned by the TcpStream at once (closed on every path), bound
    // and connected with properly sized sockaddr_in values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let source = sockaddr(source);
        if libc::bind(fd, &source as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let to = sockaddr(to);
        if libc::connect(fd, &to as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Sends one keep-alive GET and reads the answer's head and body (by Content-Length).
fn get(stream: &mut TcpStream, path: &str) -> Result<String, String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {IP}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    read_answer(stream)
}

fn read_answer(stream: &mut TcpStream) -> Result<String, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&text)));
        }
        text.extend_from_slice(&buf[..n]);
        let so_far = String::from_utf8_lossy(&text).to_string();
        if let Some((head, body)) = so_far.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(String::from)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return Ok(so_far);
            }
        }
    }
}

/// Whether the agent closes `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn start_agent(dir: &std::path::Path) -> Agent {
    let config = dir.join("limits.hcl");
    std::fs::write(
        &config,
        format!(
            "limits {{\n  http_max_conns_per_client = {PER_CLIENT}\n  http_idle_timeout = \"{IDLE_TIMEOUT_MS}ms\"\n}}\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let agent = Agent::start(
        dir,
        "limits",
        IP,
        &["-dev", "-bind", IP, "-client", IP, "-config-file", &config],
    );
    eventually(Duration::from_secs(30), "the agent answers", || {
        let mut stream =
            try_connect_from("127.0.30.9", &agent.http_addr()).map_err(|e| e.to_string())?;
        get(&mut stream, "/v1/status/leader")
    });
    agent
}

#[test]
fn excess_connections_from_one_address_are_refused_and_idle_ones_closed() {
    let dir = scratch("limits");
    let agent = start_agent(&dir);
    let addr = agent.http_addr();
    // Up to the limit from 127.0.30.2, each serving a request (keep-alive: they stay open).
    let mut kept: Vec<TcpStream> = (0..PER_CLIENT)
        .map(|_| connect_from("127.0.30.2", &addr))
        .collect();
    let opened = Instant::now();
    for stream in &mut kept {
        let answer = get(stream, "/v1/status/leader").unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // One more from the same address: answered 429 and closed at once, like Consul.
    let mut excess = connect_from("127.0.30.2", &addr);
    let refusal = read_answer(&mut excess).unwrap();
    assert!(
        refusal.starts_with("HTTP/1.1 429 Too Many Requests"),
        "{refusal}"
    );
    assert!(
        refusal.contains("too many concurrent connections"),
        "{refusal}"
    );
    assert!(closed_within(&mut excess, Duration::from_secs(2)));
    // Another address is still served.
    let mut other = connect_from("127.0.30.3", &addr);
    let answer = get(&mut other, "/v1/status/leader").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Idle keep-alive connections are closed after the idle timeout, not before.
    let timeout = Duration::from_millis(IDLE_TIMEOUT_MS);
    assert!(
        opened.elapsed() < timeout - Duration::from_millis(500),
        "the test was too slow to tell early closing apart: {:?}",
        opened.elapsed()
    );
    assert!(!closed_within(&mut kept[0], Duration::from_millis(300)));
    for stream in &mut kept {
        assert!(
            closed_within(stream, timeout * 3),
            "still open after {:?}",
            opened.elapsed()
        );
    }
    assert!(opened.elapsed() >= timeout - Duration::from_millis(100));
    // Their places are free again.
    let mut again = connect_from("127.0.30.2", &addr);
    let answer = get(&mut again, "/v1/status/leader").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
