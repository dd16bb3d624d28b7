"""py-consul, an existing Consul client, against a real `concord agent -dev`, unchanged."""

import os
import subprocess
import sys
import threading
import time
import traceback

import base64
import gzip
import io
import tarfile

import consul
from consul.callback import CB
from consul.exceptions import BadRequest, ClientError, NotFound

IP = "127.0.16.1"
BIN = os.environ.get("CONCORD_BIN", "target/debug/concord")


def start_agent():
    log = open("target/py-consul-agent.log", "w")
    proc = subprocess.Popen([BIN, "agent", "-dev", "-bind", IP, "-client", IP], stdout=log, stderr=log)
    client = consul.Consul(host=IP, port=8500)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if client.status.leader():
                return proc, client
        except Exception:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("agent did not come up; see target/py-consul-agent.log")


def test_put_get_delete(c):
    assert c.kv.put("py/a", "1") is True
    index, data = c.kv.get("py/a")
    assert data["Value"] == b"1", data
    assert data["Key"] == "py/a"
    assert int(index) >= data["ModifyIndex"]  # py-consul gives the header as text
    assert c.kv.delete("py/a") is True
    _, data = c.kv.get("py/a")
    assert data is None


def test_recurse_and_keys(c):
    for key in ["tree/x", "tree/y/z", "tree/w"]:
        assert c.kv.put(key, key.upper())
    _, items = c.kv.get("tree/", recurse=True)
    assert [i["Key"] for i in items] == ["tree/w", "tree/x", "tree/y/z"], items
    _, keys = c.kv.get("tree/", keys=True, separator="/")
    assert keys == ["tree/w", "tree/x", "tree/y/"], keys
    assert c.kv.delete("tree/", recurse=True)
    _, items = c.kv.get("tree/", recurse=True)
    assert items is None


def test_cas(c):
    assert c.kv.put("cas/k", "first", cas=0) is True
    assert c.kv.put("cas/k", "second", cas=0) is False
    _, data = c.kv.get("cas/k")
    assert c.kv.put("cas/k", "third", cas=data["ModifyIndex"] + 1000) is False
    assert c.kv.put("cas/k", "third", cas=data["ModifyIndex"]) is True
    _, data = c.kv.get("cas/k")
    assert data["Value"] == b"third"
    assert c.kv.delete("cas/k", cas=data["ModifyIndex"]) is True


def test_flags(c):
    assert c.kv.put("flags/k", "v", flags=42)
    _, data = c.kv.get("flags/k")
    assert data["Flags"] == 42


def test_blocking_get(c):
    c.kv.put("block/k", "before")
    index, _ = c.kv.get("block/k")
    c.kv.put("unrelated", "x")  # must not wake the watcher

    def later():
        time.sleep(1.0)
        c.kv.put("block/k", "after")

    threading.Thread(target=later).start()
    started = time.time()
    new_index, data = c.kv.get("block/k", index=index, wait="10s")
    elapsed = time.time() - started
    assert data["Value"] == b"after", data
    assert int(new_index) > int(index)
    assert 0.8 < elapsed < 9, elapsed


def test_catalog_and_health(c):
    service = {"Service": "pyweb", "ID": "pyweb1", "Tags": ["v1"], "Port": 8080}
    check = {"Name": "alive", "CheckID": "pyweb1-alive", "ServiceID": "pyweb1", "Status": "passing"}
    assert c.catalog.register("pynode", "10.9.0.1", service=service, check=check) is True
    _, services = c.catalog.services()
    assert services["pyweb"] == ["v1"], services
    _, instances = c.catalog.service("pyweb", tag="v1")
    assert [(i["Node"], i["ServiceID"], i["ServicePort"]) for i in instances] == [("pynode", "pyweb1", 8080)], instances
    index, entries = c.health.service("pyweb", passing=True)
    assert [e["Service"]["ID"] for e in entries] == ["pyweb1"], entries
    assert entries[0]["Checks"][0]["Status"] == "passing", entries
    check["Status"] = "critical"
    assert c.catalog.register("pynode", "10.9.0.1", service=service, check=check) is True
    new_index, entries = c.health.service("pyweb", passing=True)
    assert entries == [] and int(new_index) > int(index), (new_index, entries)
    assert c.catalog.deregister("pynode", service_id="pyweb1") is True
    _, instances = c.catalog.service("pyweb")
    assert instances == [], instances
    assert c.catalog.deregister("pynode") is True
    _, node = c.catalog.node("pynode")
    assert node is None, node


def wait_for(what, probe, timeout=15):
    """Polls `probe` until it returns a truthy value (anti-entropy is asynchronous)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not so within {timeout}s")


def test_agent_checks_and_maintenance(c):
    assert c.agent.service.register("pymaint", port=9002) is True
    assert c.agent.check.register("disk", check=consul.Check.ttl("30s"), check_id="pydisk", service_id="pymaint") is True
    assert c.agent.checks()["pydisk"]["ServiceID"] == "pymaint"
    assert c.agent.check.ttl_warn("pydisk", "90% full") is True
    assert c.agent.checks()["pydisk"]["Status"] == "warning"
    assert c.agent.service.maintenance("pymaint", "true", "upgrade") is True
    maint = c.agent.checks()["_service_maintenance:pymaint"]
    assert (maint["Name"], maint["Notes"], maint["Status"]) == ("Service Maintenance Mode", "upgrade", "critical"), maint
    assert c.agent.service.maintenance("pymaint", "false") is True
    assert "_service_maintenance:pymaint" not in c.agent.checks()
    assert c.agent.maintenance("true", "patching") is True
    assert c.agent.checks()["_node_maintenance"]["Name"] == "Node Maintenance Mode"
    assert c.agent.maintenance("false") is True
    assert c.agent.check.deregister("pydisk") is True
    assert c.agent.service.deregister("pymaint") is True
    assert c.agent.checks() == {}, c.agent.checks()


def test_agent_service_with_ttl_check(c):
    check = consul.Check.ttl("10s")
    assert c.agent.service.register("pyapi", service_id="pyapi1", port=9001, tags=["t"], check=check) is True
    services = c.agent.services()
    assert services["pyapi1"]["Service"] == "pyapi" and services["pyapi1"]["Tags"] == ["t"], services
    checks = c.agent.checks()
    assert checks["service:pyapi1"]["Status"] == "critical", checks
    wait_for("the instance reaches the catalog", lambda: c.health.service("pyapi")[1])
    index, entries = c.health.service("pyapi", passing=True)
    assert entries == [], entries
    result = {}

    def watch():
        started = time.time()
        result["answer"] = c.health.service("pyapi", index=index, wait="10s", passing=True)
        result["elapsed"] = time.time() - started

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(1.0)
    assert c.agent.check.ttl_pass("service:pyapi1", "fine") is True
    watcher.join(15)
    new_index, entries = result["answer"]
    assert [e["Service"]["ID"] for e in entries] == ["pyapi1"], entries
    assert int(new_index) > int(index) and result["elapsed"] < 9, (new_index, result)
    assert c.agent.check.ttl_fail("service:pyapi1", "broken") is True
    wait_for("the failed instance leaves ?passing", lambda: c.health.service("pyapi", passing=True)[1] == [])
    assert c.agent.service.deregister("pyapi1") is True
    wait_for("the instance leaves the catalog", lambda: c.health.service("pyapi")[1] == [])


def test_serf_health_and_consul_service(c):
    """The leader registers its own node: serfHealth passing, and the server as `consul`."""
    node = c.agent.self()["Config"]["NodeName"]
    wait_for("the consul service is registered", lambda: "consul" in c.catalog.services()[1])
    _, checks = c.health.node(node)
    serf = [ch for ch in checks if ch["CheckID"] == "serfHealth"]
    assert [(ch["Name"], ch["Status"], ch["ServiceID"]) for ch in serf] == [("Serf Health Status", "passing", "")], checks
    _, instances = c.catalog.service("consul")
    assert [(i["Node"], i["ServiceID"], i["ServicePort"]) for i in instances] == [(node, "consul", 8300)], instances
    _, healthy = c.health.service("consul", passing=True)
    assert len(healthy) == 1, healthy


def test_status(c):
    leader = c.status.leader()
    assert leader == f"{IP}:8300", leader
    assert c.status.peers() == [f"{IP}:8300"]


def test_agent(c):
    members = c.agent.members()
    assert len(members) == 1 and members[0]["Status"] == 1, members
    assert members[0]["Addr"] == IP
    me = c.agent.self()
    assert me["Config"]["Datacenter"] == "dc1"
    assert me["Config"]["Server"] is True


def new_session(c, **kwargs):
    """A session, once the leader has registered its node and serfHealth (the default check)."""
    deadline = time.time() + 20
    while True:
        try:
            return c.session.create(**kwargs)
        except BadRequest:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_session_create_info_list_node_destroy(c):
    node = c.agent.self()["Config"]["NodeName"]
    sid = new_session(c, name="py-web", ttl=30, lock_delay=3)
    index, info = c.session.info(sid)
    assert int(index) >= info["CreateIndex"], (index, info)
    assert (info["ID"], info["Name"], info["Node"], info["TTL"]) == (sid, "py-web", node, "30s"), info
    assert (info["LockDelay"], info["Behavior"], info["NodeChecks"]) == (3_000_000_000, "release", ["serfHealth"]), info
    _, listed = c.session.list()
    assert sid in [s["ID"] for s in listed], listed
    _, on_node = c.session.node(node)
    assert sid in [s["ID"] for s in on_node], on_node
    assert c.session.node("nobody")[1] == []
    assert c.session.destroy(sid) is True
    assert c.session.info(sid)[1] is None
    assert sid not in [s["ID"] for s in c.session.list()[1]]


def test_session_renew_and_404(c):
    sid = new_session(c, ttl=10)
    renewed = c.session.renew(sid)
    assert renewed["ID"] == sid and renewed["TTL"] == "10s", renewed
    assert c.session.destroy(sid) is True
    try:
        c.session.renew(sid)
    except NotFound as e:
        assert f"Session id '{sid}' not found" in str(e), e
    else:
        raise AssertionError("renewing a destroyed session did not raise NotFound")


def test_session_ttl_bounds(c):
    """py-consul checks 10..86400 s itself, so the bodies go through its HTTP client as sent."""
    for ttl in ["9s", "86401s", "soon"]:
        try:
            c.http.put(CB.json(), "/v1/session/create", data=f'{{"ttl": "{ttl}"}}')
        except BadRequest as e:
            assert "TTL" in str(e), e
        else:
            raise AssertionError(f"TTL {ttl} was accepted")
    sid = new_session(c, ttl=86400)
    assert c.session.info(sid)[1]["TTL"] == "86400s"
    c.session.destroy(sid)


def test_acquire_release(c):
    s1 = new_session(c, lock_delay=0)
    s2 = new_session(c, lock_delay=0)
    assert c.kv.put("py/lock", "mine", acquire=s1) is True
    _, data = c.kv.get("py/lock")
    assert (data["LockIndex"], data["Session"], data["Value"]) == (1, s1, b"mine"), data
    assert c.kv.put("py/lock", "theirs", acquire=s2) is False
    assert c.kv.put("py/lock", "x", release=s2) is False
    assert c.kv.put("py/lock", "done", release=s1) is True
    _, data = c.kv.get("py/lock")
    assert "Session" not in data and data["LockIndex"] == 1 and data["Value"] == b"done", data
    assert c.kv.put("py/lock", "theirs", acquire=s2) is True
    _, data = c.kv.get("py/lock")
    assert (data["LockIndex"], data["Session"]) == (2, s2), data
    assert c.kv.put("py/lock", "again", acquire=s1) is False
    for sid in (s1, s2):
        c.session.destroy(sid)


def test_lock_delay(c):
    holder = new_session(c, lock_delay=2)
    waiter = new_session(c, lock_delay=2)
    assert c.kv.put("py/delayed", "h", acquire=holder) is True
    assert c.session.destroy(holder) is True
    released = time.time()
    assert c.kv.put("py/delayed", "w", acquire=waiter) is False
    assert time.time() - released < 1.5, "too slow to see the lock-delay"
    time.sleep(2.2 - (time.time() - released))
    assert c.kv.put("py/delayed", "w", acquire=waiter) is True
    c.session.destroy(waiter)


def test_behavior_delete(c):
    sid = new_session(c, behavior="delete", lock_delay=0)
    assert c.kv.put("py/ephemeral", "here", acquire=sid) is True
    assert c.kv.get("py/ephemeral")[1]["Session"] == sid
    assert c.session.destroy(sid) is True
    assert c.kv.get("py/ephemeral")[1] is None


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_txn_commit_and_409(c):
    answer = c.txn.put([
        {"KV": {"Verb": "set", "Key": "py/t/a", "Value": b64("1")}},
        {"KV": {"Verb": "set", "Key": "py/t/b", "Value": b64("2")}},
    ])
    assert answer["Errors"] is None and len(answer["Results"]) == 2, answer
    index = answer["Results"][0]["KV"]["ModifyIndex"]
    try:
        c.txn.put([
            {"KV": {"Verb": "set", "Key": "py/t/a", "Value": b64("changed")}},
            {"KV": {"Verb": "cas", "Key": "py/t/b", "Value": b64("changed"), "Index": index + 1000}},
        ])
    except ClientError as e:
        assert str(e).startswith("409"), e
        assert "index is stale" in str(e), e
    else:
        raise AssertionError("a failing txn did not answer 409")
    assert c.kv.get("py/t/a")[1]["Value"] == b"1", "a failed txn wrote nothing"


def test_txn_read_only(c):
    c.kv.put("py/r/x", "X")
    c.kv.put("py/r/y", "Y")
    answer = c.txn.put([
        {"KV": {"Verb": "get", "Key": "py/r/x"}},
        {"KV": {"Verb": "get-tree", "Key": "py/r/"}},
        {"KV": {"Verb": "check-not-exists", "Key": "py/r/z"}},
    ])
    values = [base64.b64decode(r["KV"]["Value"]) for r in answer["Results"]]
    assert values == [b"X", b"X", b"Y"], answer


def test_snapshot_save_restore(c):
    c.kv.put("py/snap", "before")
    archive = c.snapshot.save()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.getnames() == ["meta.json", "state.bin", "SHA256SUMS"], tar.getnames()
    assert gzip.decompress(archive)  # a plain gzip stream, as Consul's
    c.kv.put("py/snap", "after")
    c.kv.put("py/snap-new", "x")
    assert c.snapshot.restore(archive) is True
    assert c.kv.get("py/snap")[1]["Value"] == b"before"
    assert c.kv.get("py/snap-new")[1] is None
    try:
        c.snapshot.restore(archive[: len(archive) // 2])
    except BadRequest:
        pass
    else:
        raise AssertionError("a truncated archive was restored")


def main():
    proc, client = start_agent()
    passed = failed = 0
    try:
        for name, test in sorted(globals().items()):
            if name.startswith("test_") and callable(test):
                try:
                    test(client)
                    passed += 1
                    print(f"ok   {name}")
                except Exception:
                    failed += 1
                    print(f"FAIL {name}")
                    traceback.print_exc()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"py-consul: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
