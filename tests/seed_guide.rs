//! The seed guide's two cluster recipes on real processes, with the guide's own flags (each
//! host's address swapped for its own 127.0.0.N).

mod support;

use std::time::Duration;
use support::*;

#[test]
fn method1_one_server_two_clients() {
    let dir = scratch("method1");
    let d = |n: &str| dir.join(n).display().to_string();
    let (ip0, ip1, ip2) = ("127.0.10.1", "127.0.10.2", "127.0.10.3");
    let (d0, d1, d2) = (d("node0"), d("node1"), d("node2"));
    let _node0 = Agent::start(
        &dir,
        "node0",
        ip0,
        &[
            "-data-dir",
            &d0,
            "-node=node0",
            &format!("-bind={ip0}"),
            "-datacenter=dc1",
            "-ui",
            &format!("-client={ip0}"),
            "-server",
            "-bootstrap-expect",
            "1",
        ],
    );
    let node1 = Agent::start(
        &dir,
        "node1",
        ip1,
        &[
            "-data-dir",
            &d1,
            "-node=node1",
            &format!("-bind={ip1}"),
            "-datacenter=dc1",
            "-ui",
            &format!("-client={ip1}"),
        ],
    );
    let node2 = Agent::start(
        &dir,
        "node2",
        ip2,
        &[
            "-data-dir",
            &d2,
            "-node=node2",
            &format!("-bind={ip2}"),
            "-datacenter=dc1",
            "-ui",
            &format!("-client={ip2}"),
        ],
    );
    let join1 = eventually(Duration::from_secs(10), "node1 joins node0", || {
        let out = node1.cli(&["join", ip0]);
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(stderr(&out))
        }
    });
    assert!(
        join1.contains("Successfully joined cluster by contacting 1 nodes."),
        "{join1}"
    );
    // The guide's second join uses the old -rpc-addr flag to reach node2's agent.
    let join2 = support::cli(
        &format!("{ip2}:8500"),
        &["join", &format!("-rpc-addr={ip2}:8400"), ip0],
    );
    assert!(join2.status.success(), "{}", stderr(&join2));
    let rows = eventually(
        Duration::from_secs(10),
        "members on node1 lists all three",
        || {
            let rows = members(&node1)?;
            if rows.len() == 3 && rows.iter().all(|r| r.2 == "alive") {
                Ok(rows)
            } else {
                Err(format!("{rows:?}"))
            }
        },
    );
    let table: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.0.clone(), r.1.clone(), r.3.clone()))
        .collect();
    assert_eq!(
        table,
        vec![
            (
                "node0".to_string(),
                format!("{ip0}:8301"),
                "server".to_string()
            ),
            (
                "node1".to_string(),
                format!("{ip1}:8301"),
                "client".to_string()
            ),
            (
                "node2".to_string(),
                format!("{ip2}:8301"),
                "client".to_string()
            ),
        ]
    );
    let put = node2.cli(&["kv", "put", "key", "value"]);
    assert_eq!(
        stdout(&put).trim(),
        "Success! Data written to: key",
        "{}",
        stderr(&put)
    );
    assert_eq!(stdout(&node1.cli(&["kv", "get", "key"])).trim(), "value");
}

#[test]
fn method2_three_servers_bootstrap_expect() {
    let dir = scratch("method2");
    let ips = ["127.0.11.1", "127.0.11.2", "127.0.11.3"];
    let mut servers = Vec::new();
    for ip in ips {
        let data = dir.join(ip).display().to_string();
        let args = [
            "-server",
            "-bootstrap-expect",
            "3",
            "-data-dir",
            &data,
            "-node",
            ip,
            "-datacenter",
            "huanan",
            "-ui",
            "-bind",
            ip,
            "-client",
            ip,
        ];
        servers.push(Agent::start(&dir, ip, ip, &args));
    }
    std::thread::sleep(Duration::from_secs(3));
    // No leader before the joins: requests fail with "No cluster leader".
    let put = eventually(
        Duration::from_secs(10),
        "a put fails for want of a leader",
        || {
            let out = servers[0].cli(&["kv", "put", "key", "value"]);
            if !out.status.success() && stderr(&out).contains("No cluster leader") {
                Ok(out)
            } else {
                Err(format!("{}{}", stdout(&out), stderr(&out)))
            }
        },
    );
    assert_eq!(put.status.code(), Some(1));
    assert!(
        servers[0].log_text().contains("No cluster leader"),
        "the log says why nothing works"
    );
    for server in &servers[1..] {
        let out = server.cli(&["join", ips[0]]);
        assert!(
            stdout(&out).contains("Successfully joined cluster by contacting 1 nodes."),
            "{}",
            stderr(&out)
        );
    }
    let rows = eventually(
        Duration::from_secs(15),
        "a leader and two followers",
        || {
            let rows = peers(&servers[0])?;
            let leaders = rows.iter().filter(|r| r[3] == "leader").count();
            let voters = rows.iter().filter(|r| r[4] == "true").count();
            if rows.len() == 3 && leaders == 1 && voters == 3 {
                Ok(rows)
            } else {
                Err(format!("{rows:?}"))
            }
        },
    );
    assert!(rows.iter().all(|r| r[2].ends_with(":8300")), "{rows:?}");
    let leader = leader_of(&servers[0]).unwrap();
    eventually(
        Duration::from_secs(10),
        "every server logs the new leader",
        || {
            let missing: Vec<&str> = servers
                .iter()
                .filter(|s| {
                    !s.log_text()
                        .contains(&format!("New leader elected: {leader}"))
                })
                .map(|s| s.ip.as_str())
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not logged on {missing:?}"))
            }
        },
    );
    let put = servers[0].cli(&["kv", "put", "key", "value"]);
    assert_eq!(
        stdout(&put).trim(),
        "Success! Data written to: key",
        "{}",
        stderr(&put)
    );
    for server in &servers {
        let got = eventually(Duration::from_secs(5), "the value reads everywhere", || {
            let out = server.cli(&["kv", "get", "key"]);
            if out.status.success() {
                Ok(stdout(&out))
            } else {
                Err(stderr(&out))
            }
        });
        assert_eq!(got.trim(), "value");
    }
}
