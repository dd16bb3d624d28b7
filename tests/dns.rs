//! The DNS interface as a user meets it on a `-dev` agent: `dig` finds a registered service's
//! SRV (target, port, the target's A in Additional) and A records, loses the instance whose
//! check turns critical, gets NXDOMAIN with the SOA for an unknown name, and the agent keeps
//! answering after a burst of malformed packets. A busy DNS port stops the agent at start.

mod support;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

/// Each test its own loopback address (no other test file uses 127.0.71.x).
const IP_DIG: &str = "127.0.71.1";
const IP_GARBAGE: &str = "127.0.71.2";
const IP_BUSY: &str = "127.0.71.3";
/// How long a `-dev` agent may take to elect itself and answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a change may take to reach a DNS answer (a write is applied, then read stale).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A port free for UDP on `ip` now (the agent binds TCP on it too).
fn free_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dev_agent(test: &str, ip: &str, dns_port: u16) -> Agent {
    let dir = scratch(test);
    let port = dns_port.to_string();
    let args = ["-dev", "-bind", ip, "-client", ip, "-dns-port", &port];
    let agent = Agent::start(&dir, "dev", ip, &args);
    eventually(START_TIMEOUT, "the dev agent serves the catalog", || {
        let answer = http(&agent.http_addr(), "GET", "/v1/catalog/services", b"")?;
        (answer.status == 200)
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
    agent
}

/// What `dig` printed, by section.
#[derive(Debug)]
struct Dig {
    status: String,
    flags: String,
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

/// `dig @IP -p PORT NAME TYPE [extra...]`, one try.
fn dig(ip: &str, port: u16, name: &str, qtype: &str, extra: &[&str]) -> Dig {
    let output = Command::new(dig_binary())
        .args([&format!("@{ip}"), "-p", &port.to_string(), name, qtype])
        .args(["+tries=1", "+time=3"])
        .args(extra)
        .output()
        .expect("dig runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dig {name} {qtype}: {text}");
    parse_dig(&text)
}

fn parse_dig(text: &str) -> Dig {
    let after = |line: &str, key: &str| {
        let rest = line.split(key).nth(1)?;
        Some(rest.split([',', ';']).next()?.trim().to_string())
    };
    let mut dig = Dig {
        status: String::new(),
        flags: String::new(),
        answer: vec![],
        authority: vec![],
        additional: vec![],
    };
    let mut section: Option<&mut Vec<String>> = None;
    for line in text.lines() {
        if let Some(status) = after(line, "status: ") {
            dig.status = status;
        }
        if line.starts_with(";; flags:") {
            dig.flags = after(line, "flags: ").unwrap_or_default();
        }
        section = match line {
            ";; ANSWER SECTION:" => Some(&mut dig.answer),
            ";; AUTHORITY SECTION:" => Some(&mut dig.authority),
            ";; ADDITIONAL SECTION:" => Some(&mut dig.additional),
            "" => None,
            _ => {
                if let Some(rows) = section.as_mut().filter(|_| !line.starts_with(';')) {
                    rows.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                section
            }
        };
    }
    dig
}

/// A registration as the Go api sends it, with the instance's check in `status`.
fn register(agent: &Agent, node: &str, address: &str, port: u16, status: &str) {
    let body = format!(
        r#"{{"Node":"{node}","Address":"{address}","Service":{{"ID":"web-{node}","Service":"web",
            "Tags":["v1"],"Port":{port},"Address":"","Meta":null,"Weights":null}},
            "Check":{{"Node":"{node}","CheckID":"web-{node}-alive","Name":"alive",
            "Status":"{status}","ServiceID":"web-{node}"}},"Checks":null}}"#
    );
    let answer = http(
        &agent.http_addr(),
        "PUT",
        "/v1/catalog/register",
        body.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("register {node}: {e}"));
    assert_eq!(
        (answer.status, answer.body.trim()),
        (200, "true"),
        "register {node}"
    );
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

#[test]
fn dig_finds_a_service_until_its_check_turns_critical() {
    let port = free_port(IP_DIG);
    let agent = dev_agent("dns-dig", IP_DIG, port);
    // The leader registers itself as the `consul` service, as Consul's servers are found.
    eventually(
        CHANGE_TIMEOUT,
        "the server is consul.service.consul",
        || {
            let a = dig(IP_DIG, port, "consul.service.consul", "A", &[]);
            let want = [format!("consul.service.consul. 0 IN A {IP_DIG}")];
            (a.answer == want).then_some(()).ok_or(format!("{a:?}"))
        },
    );
    register(&agent, "n1", "10.1.2.3", 8080, "passing");
    register(&agent, "n2", "10.1.2.4", 8081, "passing");
    let srv = dig(IP_DIG, port, "web.service.consul", "SRV", &[]);
    assert_eq!(
        (srv.status.as_str(), srv.flags.contains("aa")),
        ("NOERROR", true),
        "{srv:?}"
    );
    assert_eq!(
        sorted(srv.answer.clone()),
        [
            "web.service.consul. 0 IN SRV 1 1 8080 n1.node.dc1.consul.",
            "web.service.consul. 0 IN SRV 1 1 8081 n2.node.dc1.consul.",
        ]
    );
    assert_eq!(
        sorted(srv.additional.clone()),
        [
            "n1.node.dc1.consul. 0 IN A 10.1.2.3",
            "n2.node.dc1.consul. 0 IN A 10.1.2.4"
        ]
    );
    let a = dig(IP_DIG, port, "v1.web.service.dc1.consul.", "A", &[]);
    assert_eq!(
        sorted(a.answer),
        [
            "v1.web.service.dc1.consul. 0 IN A 10.1.2.3",
            "v1.web.service.dc1.consul. 0 IN A 10.1.2.4"
        ]
    );
    register(&agent, "n2", "10.1.2.4", 8081, "critical");
    eventually(CHANGE_TIMEOUT, "the critical n2 leaves the answer", || {
        let srv = dig(IP_DIG, port, "_web._tcp.service.consul", "SRV", &[]);
        let want = ["_web._tcp.service.consul. 0 IN SRV 1 1 8080 n1.node.dc1.consul."];
        (srv.answer == want).then_some(()).ok_or(format!("{srv:?}"))
    });
    let unknown = dig(IP_DIG, port, "nope.service.consul", "A", &[]);
    assert_eq!(unknown.status, "NXDOMAIN", "{unknown:?}");
    assert!(unknown.answer.is_empty(), "{unknown:?}");
    let soa = unknown.authority.first().cloned().unwrap_or_default();
    assert!(
        soa.starts_with("consul. 0 IN SOA ns.consul. hostmaster.consul. ")
            && soa.ends_with(" 3600 600 86400 0"),
        "the SOA in Authority: {unknown:?}"
    );
}

#[test]
fn a_burst_of_malformed_packets_leaves_the_agent_answering() {
    let port = free_port(IP_GARBAGE);
    let agent = dev_agent("dns-garbage", IP_GARBAGE, port);
    register(&agent, "n1", "10.1.2.3", 8080, "passing");
    let udp = UdpSocket::bind((IP_GARBAGE, 0)).unwrap();
    // A real query cut short, a header announcing records that are not there, random bytes.
    let header_only = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x05, 0, 0, 0, 0];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    println!("garbage seed {seed:#x}");
    for i in 0..200 {
        let mut packet: Vec<u8> = (0..(i % 90))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        if i % 3 == 0 {
            packet = header_only[..(i % 13).min(12)].to_vec();
            packet.extend_from_slice(b"\x03web\x07service");
        }
        udp.send_to(&packet, (IP_GARBAGE, port)).unwrap();
        if i % 20 == 0 {
            let mut tcp = TcpStream::connect((IP_GARBAGE, port)).unwrap();
            let mut framed = ((packet.len() + 7) as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&packet);
            let _ = tcp.write_all(&framed);
        }
    }
    let started = Instant::now();
    let a = dig(IP_GARBAGE, port, "web.service.consul", "A", &[]);
    assert_eq!(a.answer, ["web.service.consul. 0 IN A 10.1.2.3"], "{a:?}");
    let tcp = dig(IP_GARBAGE, port, "web.service.consul", "SRV", &["+tcp"]);
    assert_eq!(tcp.answer.len(), 1, "over TCP too: {tcp:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered promptly"
    );
    assert!(
        !agent.log_text().contains("panicked"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn a_busy_dns_port_stops_the_agent_at_start_naming_the_address() {
    let held = UdpSocket::bind((IP_BUSY, 0)).unwrap();
    let port = held.local_addr().unwrap().port();
    let dir = scratch("dns-busy");
    let port_text = port.to_string();
    let args = [
        "-dev",
        "-bind",
        IP_BUSY,
        "-client",
        IP_BUSY,
        "-dns-port",
        &port_text,
    ];
    let mut agent = Agent::start(&dir, "dev", IP_BUSY, &args);
    let mut child = agent.child.take().unwrap();
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the agent did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let want = format!("cannot listen for DNS (UDP) on {IP_BUSY}:{port}");
    assert!(agent.log_text().contains(&want), "{}", agent.log_text());
}
