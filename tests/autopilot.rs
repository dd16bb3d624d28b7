//! Autopilot with real processes and production timings: of three servers, one is killed with
//! SIGKILL; once membership has declared it failed (and 10 s more, the dead-server grace) the
//! leader removes it from the voters, `operator raft list-peers` lists two servers with their
//! commit indexes, and writes go on. The `operator autopilot` commands show Consul's output.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn a_killed_server_is_removed_from_the_voters_and_writes_go_on() {
    let dir = scratch("autopilot");
    let mut servers = Vec::new();
    for i in 1..=3 {
        let ip = format!("127.0.91.{i}");
        let name = format!("s{i}");
        let data = dir.join(&name).display().to_string();
        let mut args = agent_args(&name, &ip, &data);
        args.extend(["-server", "-bootstrap-expect", "3"]);
        if i > 1 {
            args.extend(["-retry-join", "127.0.91.1", "-retry-interval", "1s"]);
        }
        servers.push(Agent::start(&dir, &name, &ip, &args));
    }
    let leader = eventually(Duration::from_secs(20), "a leader is elected", || {
        leader_of(&servers[0])
    });
    let config = stdout(&servers[0].cli(&["operator", "autopilot", "get-config"]));
    assert!(config.contains("CleanupDeadServers = true\n"), "{config}");
    assert!(
        config.contains("ServerStabilizationTime = 10s\n"),
        "{config}"
    );
    assert!(
        config.contains("LastContactThreshold = 200ms\n"),
        "{config}"
    );

    let victim = servers.iter().position(|s| s.name != leader).unwrap();
    let survivor = servers
        .iter()
        .position(|s| s.name != leader && s.name != servers[victim].name)
        .unwrap();
    let victim_name = servers[victim].name.clone();
    servers[victim].kill();
    let rows = eventually(
        Duration::from_secs(60),
        "the dead server is removed",
        || {
            let rows = peers(&servers[survivor])?;
            if rows.len() == 2 && rows.iter().all(|r| r[0] != victim_name) {
                Ok(rows)
            } else {
                Err(format!("{rows:?}"))
            }
        },
    );
    // Commit Index is a number for every server, not `_`: read from autopilot's health.
    assert!(rows.iter().all(|r| r[6].parse::<u64>().is_ok()), "{rows:?}");
    eventually(
        Duration::from_secs(10),
        "writes go on with two voters",
        || kv_put(&servers[survivor], "after", "removal"),
    );
    let state = stdout(&servers[survivor].cli(&["operator", "autopilot", "state"]));
    assert!(
        state.contains("Healthy:                      true\n"),
        "{state}"
    );
    assert!(
        state.contains("Failure Tolerance:            0\n"),
        "{state}"
    );
    assert!(!state.contains(&format!("   {victim_name}\n")), "{state}");
}
