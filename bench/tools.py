#!/usr/bin/env python3
"""Helpers of bench/compare-etcd.sh that need sub-millisecond clocks, threads or JSON.

Subcommands (each prints one JSON object on stdout, so the shell only stores lines):
  preload KIND URL FORMAT COUNT     write COUNT keys (FORMAT % i) of 100-byte random values
                                    in transactions of 64, 16 connections in parallel
  failover KIND PID URL...          kill -9 PID, then time until a write on any URL succeeds
  devstart BIN IP TRIALS            time from `BIN agent -dev` start to the first answered write
  etcd-leader ENDPOINTS             the client URL of the etcd leader (from etcdctl's JSON)
  table RESULTS HEADER              the Markdown report of the collected results
KIND is `concord` or `etcd`. Stdlib only: the bench must run on a fresh Debian machine.
"""
import base64
import concurrent.futures
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

TXN_OPS_MAX = 64  # Concord's TXN_OPS_MAX; etcd allows 128 by default
PRELOAD_CONNECTIONS = 16
VALUE_BYTES = 100
VALUE_POOL_SIZE = 4096  # distinct random values, so snapshots do not compress unrealistically


def die(msg):
    print(f"tools.py: {msg}", file=sys.stderr)
    sys.exit(1)


def request(url, method, path, body=None, timeout_s=5.0):
    """One request on a fresh connection; returns (status, body) or (None, error text)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def write_request(kind, key_suffix):
    """(method, path, body) of one 100-byte write, the same as the wrk loads."""
    if kind == "concord":
        return "PUT", f"/v1/kv/bench/failover/{key_suffix}", b"x" * VALUE_BYTES
    key = base64.b64encode(f"failover/{key_suffix}".encode()).decode()
    value = base64.b64encode(b"x" * VALUE_BYTES).decode()
    return "POST", "/v3/kv/put", json.dumps({"key": key, "value": value}).encode()


def write_ok(kind, status, body):
    if kind == "concord":
        return status == 200 and body.strip() == b"true"
    return status == 200 and b'"header"' in body


# ---------------------------------------------------------------- preload


def txn_body(kind, keys, values):
    if kind == "concord":
        ops = [{"KV": {"Verb": "set", "Key": k, "Value": v}} for k, v in zip(keys, values)]
        return "PUT", "/v1/txn", json.dumps(ops).encode()
    puts = [{"request_put": {"key": k, "value": v}} for k, v in zip(keys, values)]
    return "POST", "/v3/kv/txn", json.dumps({"success": puts}).encode()


def preload_worker(kind, url, fmt, batches, pool, failures):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    for first, last in batches:
        keys = [fmt % i for i in range(first, last)]
        values = [pool[i % len(pool)] for i in range(first, last)]
        method, path, body = txn_body(kind, keys, values)
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            failures.append(f"{resp.status} {data[:200]!r}")
            return
    conn.close()


def cmd_preload(kind, url, fmt, count):
    count = int(count)
    assert count > 0, "preload needs at least one key"
    pool = [base64.b64encode(os.urandom(VALUE_BYTES)).decode() for _ in range(VALUE_POOL_SIZE)]
    batches = [(i, min(i + TXN_OPS_MAX, count)) for i in range(0, count, TXN_OPS_MAX)]
    shards = [batches[j::PRELOAD_CONNECTIONS] for j in range(PRELOAD_CONNECTIONS)]
    failures = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(PRELOAD_CONNECTIONS) as ex:
        futs = [ex.submit(preload_worker, kind, url, fmt, s, pool, failures) for s in shards]
        for f in futs:
            f.result()  # re-raises a connection error with its traceback
    elapsed = time.monotonic() - t0
    if failures:
        die(f"preload of {kind} at {url} failed: {failures[0]}")
    print(json.dumps({"keys": count, "seconds": round(elapsed, 2),
                      "keys_per_s": round(count / elapsed)}))


# ---------------------------------------------------------------- failover

FAILOVER_TIMEOUT_S = 60
ATTEMPT_TIMEOUT_S = 0.5  # short, so a write stuck on the dead leader is retried soon
ATTEMPT_GAP_S = 0.005


def poll_writes(kind, url, t0, done, result, lock):
    n = 0
    while not done.is_set() and time.monotonic() - t0 < FAILOVER_TIMEOUT_S:
        n += 1
        method, path, body = write_request(kind, f"{os.getpid()}-{n}")
        status, data = request(url, method, path, body, ATTEMPT_TIMEOUT_S)
        if write_ok(kind, status, data):
            with lock:
                if not done.is_set():
                    result.append((time.monotonic() - t0, url))
                    done.set()
            return
        time.sleep(ATTEMPT_GAP_S)


def cmd_failover(kind, pid, *urls):
    """Kill -9 the leader and time until the first acknowledged write on any survivor.

    One poller per survivor, in parallel, so a request hanging on one server does not delay
    noticing that the other already answers."""
    assert urls, "failover needs at least one survivor URL"
    done, lock, result = threading.Event(), threading.Lock(), []
    os.kill(int(pid), signal.SIGKILL)
    t0 = time.monotonic()
    threads = [threading.Thread(target=poll_writes, args=(kind, u, t0, done, result, lock))
               for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not result:
        die(f"{kind}: no write acknowledged within {FAILOVER_TIMEOUT_S} s of killing pid {pid}")
    print(json.dumps({"ms": round(result[0][0] * 1000, 1), "answered_by": result[0][1]}))


# ---------------------------------------------------------------- dev start

DEV_START_TIMEOUT_S = 30


def one_dev_start(binary, ip, logf):
    url = f"http://{ip}:8500"
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "agent", "-dev", f"-bind={ip}", f"-client={ip}",
                             "-log-level=warn"], stdout=logf, stderr=logf)
    try:
        while time.monotonic() - t0 < DEV_START_TIMEOUT_S:
            if proc.poll() is not None:
                die(f"`{binary} agent -dev` exited with {proc.returncode} (log: {logf.name})")
            method, path, body = write_request("concord", "dev")
            status, data = request(url, method, path, body, 0.5)
            if write_ok("concord", status, data):
                return (time.monotonic() - t0) * 1000
            time.sleep(0.002)
        die(f"`agent -dev` answered no write within {DEV_START_TIMEOUT_S} s (log: {logf.name})")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cmd_devstart(binary, ip, trials, log_path):
    with open(log_path, "a") as logf:
        ms = [round(one_dev_start(binary, ip, logf), 1) for _ in range(int(trials))]
    print(json.dumps({"median_ms": round(statistics.median(ms), 1), "trials_ms": ms}))


# ---------------------------------------------------------------- etcd leader


def cmd_etcd_leader(endpoints):
    out = subprocess.run(["etcdctl", f"--endpoints={endpoints}", "--command-timeout=2s",
                          "endpoint", "status", "-w", "json"],
                         capture_output=True, text=True, check=False)
    try:
        rows = json.loads(out.stdout)
    except json.JSONDecodeError:
        rows = []
    for r in rows:
        st = r.get("Status", {})
        if st.get("leader") and st.get("header", {}).get("member_id") == st.get("leader"):
            print(r["Endpoint"])
            return
    sys.exit(1)  # no leader yet: the shell's wait loop retries


if __name__ == "__main__":
    if len(sys.argv) < 2:
        die(__doc__)
    sub, args = sys.argv[1], sys.argv[2:]
    if sub == "table":
        import report  # the Markdown rendering lives in bench/report.py

        report.main(*args)
    else:
        commands = {"preload": cmd_preload, "failover": cmd_failover,
                    "devstart": cmd_devstart, "etcd-leader": cmd_etcd_leader}
        if sub not in commands:
            die(f"unknown subcommand {sub!r}\n{__doc__}")
        commands[sub](*args)
