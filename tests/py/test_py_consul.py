"""py-consul, an existing Consul client, against a real `concord agent -dev`, unchanged."""

import os
import subprocess
import sys
import threading
import time
import traceback

import consul

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
