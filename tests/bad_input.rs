//! Bad input gets a clear error and loses nothing: a bad flag, a bad config file, an unknown
//! command, a bad HTTP request.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;
use support::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(concord_bin()).args(args).output().unwrap()
}

#[test]
fn bad_flag_is_named() {
    let out = run(&["agent", "-dev", "-no-such-flag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-flag"), "{}", stderr(&out));
}

#[test]
fn unknown_command_is_named() {
    let out = run(&["frobnicate"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("frobnicate"), "{}", stderr(&out));
}

#[test]
fn bad_config_file_names_file_key_and_reason() {
    let dir = scratch("bad-config");
    let file = dir.join("bad.json");
    std::fs::write(&file, r#"{"bootstrap_expect": "three", "server": true}"#).unwrap();
    let out = run(&[
        "agent",
        "-data-dir",
        &dir.display().to_string(),
        "-config-file",
        &file.display().to_string(),
        "-bind",
        "127.0.15.9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.json") && err.contains("bootstrap_expect"),
        "{err}"
    );
    let out = run(&["validate", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "validate refuses it too");
}

#[test]
fn bad_http_requests_get_4xx_with_a_reason() {
    let dir = scratch("bad-http");
    let ip = "127.0.15.1";
    let agent = Agent::start(&dir, "dev", ip, &["-dev", "-bind", ip, "-client", ip]);
    eventually(Duration::from_secs(10), "dev agent is up", || {
        let out = agent.cli(&["kv", "put", "up", "yes"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(stderr(&out))
        }
    });
    let too_big = vec![b'x'; 600_000];
    let (status, body) = http(&agent.http_addr(), "PUT", "/v1/kv/big", &too_big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("524288"), "{body}");
    let (status, _) = http(&agent.http_addr(), "GET", "/v1/kv/big", b"");
    assert_eq!(status, 404, "nothing was written");
    let (status, body) = http(&agent.http_addr(), "PUT", "/v1/kv/k?cas=notanumber", b"v");
    assert_eq!(status, 400, "{body}");
    assert!(!body.is_empty());
    let (status, body) = http(&agent.http_addr(), "GET", "/v1/kv/k?stale&consistent", b"");
    assert_eq!(status, 400, "{body}");
}

/// A minimal HTTP/1.1 exchange; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
