//! The failure detector between real processes, at Consul's LAN timings: UDP probes on the
//! gossip port. A stopped process (SIGSTOP) is suspected and, resumed before its suspicion
//! runs out, refutes it: nobody declares it failed. A killed one is failed, then
//! `force-leave` makes it `left` and `force-leave -prune` forgets it.

mod support;

use std::time::Duration;
use support::*;

/// Each test its own loopback addresses (no other test file uses 127.0.101.x).
const FIRST_IP_PAUSE: u8 = 1;
const FIRST_IP_PRUNE: u8 = 4;
const FORM_TIMEOUT: Duration = Duration::from_secs(30);
/// The probe that goes unanswered comes within one probe interval (1 s) and the suspicion at
/// its end; generous for a loaded machine.
const SUSPECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Suspicion's timeout with three members is its minimum, 4 s (no confirmations needed):
/// probe (1 s) + interval + 4 s, and slack.
const FAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// A server and two clients joined to it, everyone listing everyone alive.
fn cluster(test: &str, first: u8) -> Vec<Agent> {
    let dir = scratch(test);
    let ips: Vec<String> = (0..3).map(|i| format!("127.0.101.{}", first + i)).collect();
    let mut agents = Vec::new();
    for (i, name) in ["s1", "c1", "c2"].into_iter().enumerate() {
        let data = dir.join(name).display().to_string();
        let mut args = agent_args(name, &ips[i], &data);
        if i == 0 {
            args.extend(["-server", "-bootstrap-expect", "1"]);
        } else {
            args.extend(["-retry-join", &ips[0], "-retry-interval", "1s"]);
        }
        agents.push(Agent::start(&dir, name, &ips[i], &args));
    }
    eventually(FORM_TIMEOUT, "everyone lists three alive members", || {
        all_alive(&agents, &["s1", "c1", "c2"])
    });
    agents
}

/// Every agent in `agents` lists each of `names` as alive.
fn all_alive(agents: &[Agent], names: &[&str]) -> Result<(), String> {
    for agent in agents {
        let listed = members(agent)?;
        for name in names {
            let alive = listed.iter().any(|(n, _, s, _)| n == name && s == "alive");
            if !alive {
                return Err(format!(
                    "{} does not list {name} alive: {listed:?}",
                    agent.name
                ));
            }
        }
    }
    Ok(())
}

fn signal(agent: &Agent, signal: i32) {
    let pid = agent.child.as_ref().expect("running").id() as i32;
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal {signal}");
}

#[test]
fn a_stopped_process_is_suspected_and_refutes_once_resumed() {
    let agents = cluster("gossip-pause", FIRST_IP_PAUSE);
    let (s1, c1) = (&agents[0], &agents[1]);
    signal(c1, libc::SIGSTOP);
    eventually(SUSPECT_TIMEOUT, "s1 or c2 suspects c1", || {
        let logs = [s1.log_text(), agents[2].log_text()];
        logs.iter()
            .any(|l| l.contains("memberlist: Suspect c1 has failed"))
            .then_some(())
            .ok_or("no suspicion yet".to_string())
    });
    signal(c1, libc::SIGCONT);
    eventually(FORM_TIMEOUT, "c1 is alive everywhere again", || {
        all_alive(&agents, &["c1"])
    });
    for agent in [s1, &agents[2]] {
        let log = agent.log_text();
        assert!(
            !log.contains("EventMemberFailed: c1"),
            "{} declared c1 failed although it resumed within the suspicion timeout:\n{log}",
            agent.name
        );
    }
}

#[test]
fn a_killed_client_is_failed_then_force_left_then_pruned() {
    let mut agents = cluster("gossip-prune", FIRST_IP_PRUNE);
    agents[1].kill();
    let (s1, c2) = (&agents[0], &agents[2]);
    eventually(FAIL_TIMEOUT, "s1 and c2 list c1 failed", || {
        status_everywhere(&[s1, c2], "c1", "failed")
    });
    let out = c2.cli(&["force-leave", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(FORM_TIMEOUT, "c1 is left everywhere", || {
        status_everywhere(&[s1, c2], "c1", "left")
    });
    let out = s1.cli(&["force-leave", "-prune", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(FORM_TIMEOUT, "c1 is forgotten everywhere", || {
        for agent in [s1, c2] {
            let listed = members(agent)?;
            if listed.iter().any(|(n, ..)| n == "c1") {
                return Err(format!("{} still lists c1: {listed:?}", agent.name));
            }
        }
        Ok(())
    });
    let out = s1.cli(&["force-leave", "nobody"]);
    assert!(!out.status.success(), "an unknown node is an error");
    assert!(
        stderr(&out).contains("No node found with name"),
        "{}",
        stderr(&out)
    );
}

fn status_everywhere(agents: &[&Agent], name: &str, status: &str) -> Result<(), String> {
    for agent in agents {
        let listed = members(agent)?;
        let found = listed.iter().any(|(n, _, s, _)| n == name && s == status);
        if !found {
            return Err(format!(
                "{} does not list {name} {status}: {listed:?}",
                agent.name
            ));
        }
    }
    Ok(())
}
