//! Failures on real processes: kill -9 of the leader, restart of every server from its data
//! dir, and Ctrl+C leaving gracefully.

mod support;

use std::time::Duration;
use support::*;

fn three_servers(test: &str, subnet: u8) -> (std::path::PathBuf, Vec<Agent>) {
    let dir = scratch(test);
    let mut servers = Vec::new();
    for i in 1..=3 {
        let ip = format!("127.0.{subnet}.{i}");
        let name = format!("s{i}");
        let data = dir.join(&name).display().to_string();
        let mut args = agent_args(&name, &ip, &data);
        args.extend(["-server", "-bootstrap-expect", "3"]);
        let join = format!("127.0.{subnet}.1");
        if i > 1 {
            args.extend(["-retry-join", &join, "-retry-interval", "1s"]);
            servers.push(Agent::start(&dir, &name, &ip, &args));
        } else {
            servers.push(Agent::start(&dir, &name, &ip, &args));
        }
    }
    eventually(Duration::from_secs(20), "a leader is elected", || {
        leader_of(&servers[0])
    });
    (dir, servers)
}

#[test]
fn killing_the_leader_elects_another_within_seconds() {
    let (_dir, mut servers) = three_servers("kill-leader", 12);
    kv_put(&servers[0], "before", "kill").unwrap();
    let leader = leader_of(&servers[0]).unwrap();
    let index = servers.iter().position(|s| s.name == leader).unwrap();
    servers[index].kill();
    let survivor = &servers[(index + 1) % 3];
    let new_leader = eventually(Duration::from_secs(10), "a new leader", || {
        let l = leader_of(survivor)?;
        if l != leader {
            Ok(l)
        } else {
            Err(format!("still {l}"))
        }
    });
    assert_ne!(new_leader, leader);
    eventually(Duration::from_secs(10), "writes work again", || {
        kv_put(survivor, "after", "kill")
    });
    assert_eq!(kv_get(survivor, "before").unwrap(), "kill");
}

#[test]
fn all_servers_restart_from_their_data_dirs() {
    let (_dir, mut servers) = three_servers("restart-all", 13);
    for i in 0..20 {
        eventually(Duration::from_secs(10), "write", || {
            kv_put(&servers[i % 3], &format!("k{i}"), &format!("v{i}"))
        });
    }
    for server in servers.iter_mut() {
        server.kill();
    }
    std::thread::sleep(Duration::from_secs(1));
    for server in servers.iter_mut() {
        server.restart();
    }
    eventually(
        Duration::from_secs(20),
        "a leader after the restart",
        || leader_of(&servers[1]),
    );
    for i in 0..20 {
        let value = eventually(Duration::from_secs(10), "data intact", || {
            kv_get(&servers[(i + 1) % 3], &format!("k{i}"))
        });
        assert_eq!(value, format!("v{i}"));
    }
    eventually(Duration::from_secs(10), "writes after the restart", || {
        kv_put(&servers[2], "after", "restart")
    });
}

#[test]
fn ctrl_c_leaves_gracefully_and_others_see_left() {
    let (_dir, mut servers) = three_servers("ctrl-c", 14);
    eventually(Duration::from_secs(10), "all alive", || {
        let rows = members(&servers[0])?;
        if rows.iter().filter(|r| r.2 == "alive").count() == 3 {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    });
    let code = servers[2].interrupt();
    assert_eq!(
        code,
        Some(0),
        "Ctrl+C exits 0 after leaving; log:\n{}",
        servers[2].log_text()
    );
    assert!(
        servers[2].log_text().contains("Graceful leave complete"),
        "{}",
        servers[2].log_text()
    );
    eventually(Duration::from_secs(10), "s3 is left on the others", || {
        let rows = members(&servers[0])?;
        let s3 = rows.iter().find(|r| r.0 == "s3").ok_or("s3 not listed")?;
        if s3.2 == "left" {
            Ok(())
        } else {
            Err(format!("{s3:?}"))
        }
    });
    let voters = eventually(Duration::from_secs(10), "two voters remain", || {
        let rows = peers(&servers[0])?;
        if rows.len() == 2 {
            Ok(rows)
        } else {
            Err(format!("{rows:?}"))
        }
    });
    assert!(voters.iter().all(|r| r[0] != "s3"));
    eventually(
        Duration::from_secs(10),
        "writes go on with two voters",
        || kv_put(&servers[1], "after", "leave"),
    );
}
