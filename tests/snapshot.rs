//! `concord snapshot save` on one cluster, then `snapshot restore` on a fresh one, gives back
//! every key (binary values and flags too, and the lock a session holds), the service and the
//! session; `snapshot inspect` reads the file; a damaged file is refused by the servers.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

/// Cluster A's and cluster B's servers (no other test file uses 127.0.113.x).
const IP_A: &str = "127.0.113.1";
const IP_B: &str = "127.0.113.2";
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// A one-server cluster with a leader that has applied its own term's first entry.
fn one_server(dir: &std::path::Path, name: &str, ip: &str) -> Agent {
    let data = dir.join(name).display().to_string();
    let mut args = agent_args(name, ip, &data);
    args.extend(["-server", "-bootstrap-expect", "1"]);
    let agent = Agent::start(dir, name, ip, &args);
    eventually(FORM_TIMEOUT, "the server writes", || {
        let answer = http(&agent.http_addr(), "PUT", "/v1/kv/ready", b"1")?;
        (answer.status == 200)
            .then_some(())
            .ok_or(format!("{} {}", answer.status, answer.body))
    });
    agent
}

fn request(agent: &Agent, method: &str, path: &str, body: &[u8]) -> String {
    let answer = http(&agent.http_addr(), method, path, body).unwrap();
    assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
    answer.body
}

/// A JSON answer without its `CreateIndex`/`ModifyIndex` numbers: a restore into a cluster
/// with a shorter log may lower them to the restore's index (README), the rest must match.
fn without_indexes(json: &str) -> String {
    let mut out = String::new();
    let mut rest = json;
    while let Some(at) = rest.find("Index\":") {
        let (head, tail) = rest.split_at(at + "Index\":".len());
        out.push_str(head);
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Keys, a binary value with flags, a service on an external node, a session holding a lock.
fn fill(a: &Agent) -> String {
    request(a, "PUT", "/v1/kv/app/config?flags=42", b"{\"port\":8080}");
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    request(a, "PUT", "/v1/kv/app/blob?flags=7", &binary);
    let node = r#"{"Node":"ext1","Address":"10.1.2.3","Service":{"Service":"web","Tags":["v1"],"Port":80}}"#;
    request(a, "PUT", "/v1/catalog/register", node.as_bytes());
    let body = r#"{"Name":"keeper","Node":"ext1","Checks":[],"LockDelay":"5s"}"#;
    let created = request(a, "PUT", "/v1/session/create", body.as_bytes());
    let id = created
        .split('"')
        .nth(3)
        .expect("{\"ID\":\"...\"}")
        .to_string();
    let acquired = request(
        a,
        "PUT",
        &format!("/v1/kv/locks/leader?acquire={id}"),
        b"me",
    );
    assert_eq!(acquired.trim(), "true");
    id
}

fn save(a: &Agent, file: &str) -> String {
    let out = cli_with_addr_first(&a.http_addr(), &["snapshot", "save"], &[file]);
    assert!(out.status.success(), "save: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_snapshot_restored_on_a_fresh_cluster_gives_back_keys_services_and_sessions() {
    let dir = scratch("snapshot");
    let a = one_server(&dir, "s1", IP_A);
    let session = fill(&a);
    let file = dir.join("backup.snap").display().to_string();
    let saved = save(&a, &file);
    assert!(
        saved.starts_with("Saved and verified snapshot to index "),
        "{saved}"
    );
    assert!(!std::path::Path::new(&format!("{file}.unverified")).exists());
    let inspect = Command::new(concord_bin())
        .args(["snapshot", "inspect", &file])
        .output()
        .unwrap();
    let text = stdout(&inspect);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    // Consul's table: the one session counted.
    assert!(text.contains(" Session      1 "), "{text}");

    let b = one_server(&dir, "s1b", IP_B);
    let reads = [
        "/v1/kv/?recurse".to_string(),
        "/v1/catalog/service/web".to_string(),
        format!("/v1/session/info/{session}"),
    ];
    let before: Vec<String> = reads.iter().map(|p| request(&a, "GET", p, b"")).collect();
    assert!(
        before[0].contains(&format!(r#""Session":"{session}""#)),
        "{}",
        before[0]
    );
    assert!(!request(&b, "GET", "/v1/session/list", b"").contains("keeper"));
    let out = cli_with_addr_first(&b.http_addr(), &["snapshot", "restore"], &[&file]);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Restored snapshot");
    for (path, before) in reads.iter().zip(&before) {
        let after = eventually(
            Duration::from_secs(10),
            "B serves the restored state",
            || {
                let after = request(&b, "GET", path, b"");
                (without_indexes(&after) == without_indexes(before))
                    .then_some(after.clone())
                    .ok_or(after)
            },
        );
        assert!(after.len() > 2, "{path}: {after}");
    }
    // The binary value round-trips byte for byte (base64 in the JSON compared above; and raw).
    let raw = Command::new(concord_bin())
        .args([
            "kv",
            "get",
            "-base64",
            &format!("-http-addr={IP_B}:8500"),
            "app/blob",
        ])
        .output()
        .unwrap();
    let raw_a = a.cli(&["kv", "get", "-base64", "app/blob"]);
    assert_eq!(stdout(&raw), stdout(&raw_a));
    // The restored session still holds its lock: another session cannot take it.
    let other = request(
        &b,
        "PUT",
        "/v1/session/create",
        br#"{"Node":"ext1","Checks":[]}"#,
    );
    let other = other.split('"').nth(3).unwrap().to_string();
    let taken = request(
        &b,
        "PUT",
        &format!("/v1/kv/locks/leader?acquire={other}"),
        b"",
    );
    assert_eq!(taken.trim(), "false");
}

#[test]
fn a_damaged_snapshot_is_refused_and_changes_nothing() {
    let dir = scratch("snapshot-damaged");
    let a = one_server(&dir, "s1", "127.0.113.11");
    request(&a, "PUT", "/v1/kv/keep", b"v");
    let file = dir.join("backup.snap").display().to_string();
    save(&a, &file);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 2);
    let cut = dir.join("cut.snap").display().to_string();
    std::fs::write(&cut, &bytes).unwrap();
    let inspect = Command::new(concord_bin())
        .args(["snapshot", "inspect", &cut])
        .output()
        .unwrap();
    assert!(!inspect.status.success());
    assert!(
        stderr(&inspect).starts_with("Error verifying snapshot: "),
        "{}",
        stderr(&inspect)
    );
    request(&a, "PUT", "/v1/kv/keep", b"changed");
    let out = cli_with_addr_first(&a.http_addr(), &["snapshot", "restore"], &[&cut]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with("Error restoring snapshot: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(kv_get(&a, "keep").unwrap(), "changed");
}
