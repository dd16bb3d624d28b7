"""`/v1/agent/metrics?format=prometheus` of a real `concord agent -dev`, parsed by Prometheus'
own Python parser (prometheus_client.parser): the families worth a dashboard exist with sane
values, every histogram's buckets are cumulative and end at its count, and the HTTP and KV
figures move after requests."""

import math
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

IP = "127.0.17.1"
BASE = f"http://{IP}:8500"
BIN = os.environ.get("CONCORD_BIN", "target/debug/concord")

# The families the README lists for a dashboard (the parser drops a counter's `_total`).
DASHBOARD = {
    "consul_raft_apply": "counter",
    "consul_raft_state_leader": "counter",
    "consul_raft_state_candidate": "counter",
    "consul_raft_leader_changes": "counter",
    "consul_raft_term": "gauge",
    "consul_raft_commit_index": "gauge",
    "consul_raft_applied_index": "gauge",
    "consul_raft_last_index": "gauge",
    "consul_raft_last_contact": "gauge",
    "consul_server_isLeader": "gauge",
    "consul_raft_commitTime": "histogram",
    "consul_raft_storage_append": "histogram",
    "consul_raft_storage_fsync": "histogram",
    "consul_raft_snapshot_persist": "histogram",
    "consul_raft_snapshot_taken": "counter",
    "consul_kvs_apply": "histogram",
    "consul_txn_apply": "histogram",
    "consul_catalog_register": "histogram",
    "consul_catalog_deregister": "histogram",
    "consul_api_http": "histogram",
    "consul_api_blocking_queries": "gauge",
    "consul_serf_members": "gauge",
    "consul_agent_checks": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_cpu_seconds": "counter",
    "process_threads": "gauge",
    "process_start_time_seconds": "gauge",
}


def call(method, path, body=None):
    request = urllib.request.Request(BASE + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def start_agent():
    log = open("target/py-metrics-agent.log", "w")
    proc = subprocess.Popen([BIN, "agent", "-dev", "-bind", IP, "-client", IP], stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if call("GET", "/v1/status/leader")[2].strip(b'"'):
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("agent did not come up; see target/py-metrics-agent.log")


def scrape():
    status, headers, body = call("GET", "/v1/agent/metrics?format=prometheus")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def sample(families, family, name, **labels):
    for s in families[family].samples:
        if s.name == name and s.labels == labels:
            return s.value
    raise AssertionError(f"no {name}{labels} in {families[family].samples}")


def test_dashboard_families_exist_with_sane_values():
    families = scrape()
    for name, kind in DASHBOARD.items():
        assert name in families, f"missing family {name}"
        assert families[name].type == kind, (name, families[name].type, kind)
    one = lambda name: families[name].samples[0].value
    assert one("consul_server_isLeader") == 1
    assert one("consul_raft_term") >= 1
    assert one("consul_raft_commit_index") >= one("consul_raft_applied_index") >= 1
    assert one("consul_raft_last_index") >= one("consul_raft_commit_index")
    assert sample(families, "consul_raft_state_leader", "consul_raft_state_leader_total") == 1
    assert 1e6 < one("process_resident_memory_bytes") < 1e10
    assert one("process_open_fds") >= 3
    assert one("process_threads") >= 2
    # CPU time is counted in clock ticks: an idle agent may not have used one yet.
    assert 0 <= one("process_cpu_seconds") < 3600
    assert abs(one("process_start_time_seconds") - time.time()) < 600
    assert sample(families, "consul_serf_members", "consul_serf_members", status="alive") == 1


def test_histogram_buckets_are_cumulative():
    call("PUT", "/v1/kv/hist", b"x")
    families = scrape()
    histograms = [f for f in families.values() if f.type == "histogram"]
    assert len(histograms) >= 8, [f.name for f in histograms]
    for family in histograms:
        series = {}
        for s in family.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": []})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            else:
                series[key][s.name[len(family.name) + 1:]] = s.value
        for key, parts in series.items():
            buckets = parts["buckets"]
            bounds = [b for b, _ in buckets]
            counts = [c for _, c in buckets]
            assert bounds == sorted(bounds) and bounds[-1] == math.inf, (family.name, bounds)
            assert counts == sorted(counts), (family.name, key, counts)
            assert counts[-1] == parts["count"], (family.name, key, counts, parts)
            assert parts["sum"] >= 0, (family.name, key, parts)


def test_http_and_kv_figures_move_after_requests():
    before = scrape()
    for i in range(5):
        assert call("PUT", f"/v1/kv/py-metrics/{i}", b"v")[0] == 200
    assert call("GET", "/v1/kv/py-metrics/missing")[0] == 404
    after = scrape()

    def moved(family, name, **labels):
        was = 0.0
        try:
            was = sample(before, family, name, **labels)
        except AssertionError:
            pass
        return sample(after, family, name, **labels) - was

    put = dict(method="PUT", path="/v1/kv/{*key}", code="200")
    assert moved("consul_api_http", "consul_api_http_count", **put) == 5
    miss = dict(method="GET", path="/v1/kv/{*key}", code="404")
    assert moved("consul_api_http", "consul_api_http_count", **miss) == 1
    assert moved("consul_kvs_apply", "consul_kvs_apply_count", op="set") == 5
    assert moved("consul_raft_apply", "consul_raft_apply_total") >= 5
    assert moved("consul_raft_commitTime", "consul_raft_commitTime_count") >= 5
    # Raw paths never become labels: only route templates.
    paths = {s.labels.get("path") for s in after["consul_api_http"].samples}
    assert not any(p and "py-metrics" in p for p in paths), paths


def main():
    proc = start_agent()
    passed = failed = 0
    try:
        for name, test in sorted(globals().items()):
            if name.startswith("test_") and callable(test):
                try:
                    test()
                    passed += 1
                    print(f"ok   {name}")
                except Exception:
                    failed += 1
                    print(f"FAIL {name}")
                    traceback.print_exc()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"metrics: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
