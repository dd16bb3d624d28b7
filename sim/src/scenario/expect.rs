//! `expect ...` lines: each checks the cluster, retrying until `within D` if given.

use super::parse::parse_duration;
use super::run::consistency;
use crate::world::{Margin, World};
use concord_core::agent::{Request, Response};
use concord_core::kv::KvCommand;
use std::time::Duration;

const POLL_MS: u64 = 200;

/// Runs one expectation; `words` follow `expect`.
pub async fn run(world: &mut World, words: &[&str]) -> Result<(), String> {
    let (words, within) = match words {
        [head @ .., "within", d] => (head, parse_duration(d)?),
        _ => (words, Duration::ZERO),
    };
    let (start_ms, bound_ms) = (world.now_ms(), world.deadline(within).as_millis() as u64);
    let deadline_ms = start_ms + bound_ms;
    loop {
        let outcome = check_once(world, words).await;
        if outcome.is_ok() && bound_ms > 0 {
            let took_ms = world.now_ms() - start_ms;
            let line = world.line;
            world.margins.push(Margin {
                line,
                took_ms,
                bound_ms,
            });
        }
        if outcome.is_ok() || world.now_ms() >= deadline_ms {
            return outcome;
        }
        madsim::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

async fn check_once(world: &mut World, words: &[&str]) -> Result<(), String> {
    match words {
        ["leader"] => current_leader(world).await.map(|_| ()),
        ["no-leader"] => no_leader(world).await,
        ["leader-is", name] => equal("leader", &current_leader(world).await?, name),
        ["leader-not", name] => {
            let leader = current_leader(world).await?;
            if leader == *name {
                Err(format!("{name} is still the leader"))
            } else {
                Ok(())
            }
        }
        ["error", name, "put", key, value, message @ ..] => {
            expect_put_error(world, name, key, value, message.first()).await
        }
        ["value", name, key, value, mode @ ..] => {
            expect_value(world, name, key, value, mode.first()).await
        }
        ["write"] => expect_write(world).await,
        ["members", "all", wanted @ ..] => expect_members_everywhere(world, wanted).await,
        ["suspected", name] => expect_suspected(world, name),
        ["never-failed", name] => expect_never_failed(world, name),
        ["members", name, wanted @ ..] => expect_members(world, name, wanted).await,
        ["peers", name, wanted @ ..] => expect_peers(world, name, wanted).await,
        _ => Err(format!("unknown expectation: {}", words.join(" "))),
    }
}

fn equal(what: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} is {got:?}, expected {want:?}"))
    }
}

/// The leader every running server agrees on, by node name.
pub async fn current_leader(world: &mut World) -> Result<String, String> {
    let mut seen = Vec::new();
    for server in world.servers_up() {
        match world.request(&server, Request::StatusLeader).await {
            Ok(Response::Leader { addr: Some(addr) }) => seen.push((server, addr)),
            Ok(_) => return Err(format!("{server} knows no leader")),
            Err(e) => return Err(format!("{server}: {e}")),
        }
    }
    let Some((_, first)) = seen.first().cloned() else {
        return Err("no server is running".into());
    };
    if let Some((server, other)) = seen.iter().find(|(_, a)| *a != first) {
        return Err(format!(
            "servers disagree on the leader: {other} on {server}, {first} elsewhere"
        ));
    }
    let ip = first
        .rsplit_once(':')
        .map_or(first.as_str(), |(ip, _)| ip)
        .to_string();
    if ip
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        // A real `-dev` agent leads on its own loopback address (a simulated machine has no
        // loopback of its own: the world gives it the machine's address).
        let (server, _) = seen.first().cloned().expect("checked above");
        return Ok(server);
    }
    world
        .nodes
        .values()
        .find(|n| n.ip.to_string() == ip)
        .map(|n| n.name.clone())
        .ok_or(format!("leader {first} is no known node"))
}

async fn no_leader(world: &mut World) -> Result<(), String> {
    for server in world.servers_up() {
        if let Ok(Response::Leader { addr: Some(addr) }) =
            world.request(&server, Request::StatusLeader).await
        {
            return Err(format!("{server} knows a leader: {addr}"));
        }
    }
    Ok(())
}

async fn expect_put_error(
    world: &mut World,
    name: &str,
    key: &str,
    value: &str,
    message: Option<&&str>,
) -> Result<(), String> {
    let command = KvCommand::Set {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        flags: 0,
    };
    match world.request(name, Request::KvWrite { command }).await {
        Ok(r) => Err(format!("put succeeded ({r:?}); expected an error")),
        Err(e) if message.is_none_or(|m| e.to_string().contains(m)) => Ok(()),
        Err(e) => Err(format!(
            "put failed with {e:?}, expected {:?}",
            message.unwrap()
        )),
    }
}

async fn expect_value(
    world: &mut World,
    name: &str,
    key: &str,
    value: &str,
    mode: Option<&&str>,
) -> Result<(), String> {
    let request = Request::KvGet {
        key: key.into(),
        consistency: consistency(mode)?,
    };
    match world.request(name, request).await {
        Ok(Response::Kv { entries, .. }) => match entries.first() {
            Some(e) => equal(
                &format!("{key} on {name}"),
                &String::from_utf8_lossy(&e.value),
                value,
            ),
            None => Err(format!("{key} not found on {name}")),
        },
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(format!("get {key} on {name}: {e}")),
    }
}

/// Some running server takes a write (the liveness check).
async fn expect_write(world: &mut World) -> Result<(), String> {
    let mut last_error = "no server is running".to_string();
    for server in world.servers_up() {
        let command = KvCommand::Set {
            key: "liveness".into(),
            value: b"ok".to_vec(),
            flags: 0,
        };
        match world.request(&server, Request::KvWrite { command }).await {
            Ok(_) => return Ok(()),
            Err(e) => last_error = format!("{server}: {e}"),
        }
    }
    Err(format!("no write committed: {last_error}"))
}

/// `members all NODE=STATUS/TYPE ...`: every node that answers (running, not paused) lists
/// each named node so, apart from the named node itself (a dead node's own view is moot).
async fn expect_members_everywhere(world: &mut World, wanted: &[&str]) -> Result<(), String> {
    let observers = world.nodes_answering();
    assert!(
        !wanted.is_empty(),
        "members all: name at least one NODE=STATUS/TYPE"
    );
    for observer in observers {
        let others: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| w.split_once('=').is_none_or(|(node, _)| node != observer))
            .collect();
        expect_members(world, &observer, &others).await?;
    }
    Ok(())
}

/// `suspected NODE`: some node that answers holds NODE suspect now (it stopped answering
/// probes, and has not been declared failed yet).
fn expect_suspected(world: &World, name: &str) -> Result<(), String> {
    let answering = world.nodes_answering();
    let state = world.checker.state.lock().expect("checker lock");
    let suspecting = state.member_views.suspecting(name, &answering);
    match suspecting.is_empty() {
        true => Err(format!("no node suspects {name}")),
        false => Ok(()),
    }
}

/// `never-failed NODE`: no node has declared NODE failed since the run began.
fn expect_never_failed(world: &World, name: &str) -> Result<(), String> {
    let state = world.checker.state.lock().expect("checker lock");
    let (declarations, count) = state.member_views.failures(name);
    match declarations.first() {
        None => Ok(()),
        Some((observer, at_ms)) => Err(format!(
            "{name} was declared failed {count} time(s), first by {observer} at {at_ms} ms"
        )),
    }
}

/// `NODE=STATUS/TYPE` for each node that must be listed so; `NODE=absent`: not listed at all.
async fn expect_members(world: &mut World, name: &str, wanted: &[&str]) -> Result<(), String> {
    let Response::Members { members } = world
        .request(name, Request::Members)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("unexpected answer to members".into());
    };
    for want in wanted {
        let (node, state) = want
            .split_once('=')
            .ok_or(format!("bad member spec {want}"))?;
        let listed = members.iter().find(|m| m.member.name == node);
        if state == "absent" {
            match listed {
                None => continue,
                Some(m) => {
                    return Err(format!("{node} is listed on {name} as {}", m.status.name()))
                }
            }
        }
        let found = listed.ok_or(format!("{node} is not listed on {name}"))?;
        let got = format!("{}/{}", found.status.name(), found.member.role.name());
        equal(&format!("{node} on {name}"), &got, state)?;
    }
    Ok(())
}

/// `voters=N`, `nonvoters=N`, `leader=NAME`, `followers=N` as `operator raft list-peers`
/// would show.
async fn expect_peers(world: &mut World, name: &str, wanted: &[&str]) -> Result<(), String> {
    let result = world
        .request(name, Request::RaftConfiguration)
        .await
        .map_err(|e| e.to_string())?;
    let Response::RaftConfiguration { servers, .. } = result else {
        return Err("unexpected answer".into());
    };
    for want in wanted {
        let (key, value) = want
            .split_once('=')
            .ok_or(format!("bad peers spec {want}"))?;
        let got = match key {
            "voters" => servers.iter().filter(|s| s.voter).count().to_string(),
            "nonvoters" => servers.iter().filter(|s| !s.voter).count().to_string(),
            "followers" => servers.iter().filter(|s| !s.leader).count().to_string(),
            "leader" => servers
                .iter()
                .find(|s| s.leader)
                .map(|s| s.node.clone())
                .unwrap_or_default(),
            _ => return Err(format!("unknown peers key {key}")),
        };
        equal(&format!("peers {key} on {name}"), &got, value)?;
    }
    Ok(())
}
