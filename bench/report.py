"""Renders bench/compare-etcd.sh's results (lines `SYSTEM<TAB>METRIC<TAB>JSON`) as Markdown."""
import json
import sys

# (metric, label) in table order; wrk threads = min(2, connections).
LOADS = [
    ("put-1", "put, 1 connection"),
    ("put-16", "put, 16 connections"),
    ("put-64", "put, 64 connections"),
    ("put-256", "put, 256 connections"),
    ("get-linearizable-64", "linearizable get, 64 connections"),
    ("get-stale-64", "stale/serializable get, 64 connections"),
]


def load_results(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            system, metric, blob = line.split("\t", 2)
            res[(system, metric)] = json.loads(blob)
    return res


def errors(w):
    """Every failed request wrk counted: non-2xx/3xx answers plus socket errors."""
    return w["status"] + w["connect"] + w["read"] + w["write"] + w["timeout"]


def rps(w):
    return w["requests"] / (w["duration_us"] / 1e6)


def ms(us):
    return f"{us / 1000:.2f}"


def cell(w):
    if w is None:
        return ["—"] * 4
    err = errors(w)
    flag = f"**{err} ⚠**" if err else "0"
    return [f"{rps(w):,.0f}", ms(w["p50_us"]), ms(w["p99_us"]), flag]


def ratio(a, b, fmt="{:.2f}x"):
    if a is None or b is None or b == 0:
        return "—"
    return fmt.format(a / b)


def merge_beside(texts):
    """`rustc×2, cargo×1;cargo×2` (start;end of each load) -> `cargo×2, rustc×2` (max each)."""
    most = {}
    for text in texts:
        for tok in text.replace(";", ",").split(","):
            if "×" in tok:
                name, n = tok.strip().split("×")
                most[name] = max(most.get(name, 0), int(n))
    return ", ".join(f"{k}×{v}" for k, v in sorted(most.items()))


def load_table(res):
    out = ["| load | etcd req/s | etcd p50 ms | etcd p99 ms | etcd errors "
           "| Concord req/s | Concord p50 ms | Concord p99 ms | Concord errors "
           "| throughput Concord/etcd | p99 Concord/etcd | others running (etcd / Concord run) |",
           "|---" * 12 + "|"]
    for metric, label in LOADS:
        e, c = res.get(("etcd", "load:" + metric)), res.get(("concord", "load:" + metric))
        tput = ratio(c and rps(c), e and rps(e))
        p99 = ratio(c and c["p99_us"], e and e["p99_us"])
        beside = " / ".join(merge_beside([w.get("beside", "")]) or "none" if w else "—"
                            for w in (e, c))
        out.append("| " + " | ".join([label] + cell(e) + cell(c) + [tput, p99, beside])
                   + " |")
    return out


def get(res, system, metric, key, fmt="{}"):
    v = res.get((system, metric))
    if v is None or key not in v:
        return "—"
    return fmt.format(v[key])


def other_rows(res):
    rows = []

    def both(label, metric, key, fmt, unit_ratio=True):
        e, c = get(res, "etcd", metric, key, fmt), get(res, "concord", metric, key, fmt)
        ev, cv = res.get(("etcd", metric), {}).get(key), res.get(("concord", metric), {}).get(key)
        r = ratio(cv, ev) if unit_ratio and ev is not None and cv is not None else "—"
        rows.append(f"| {label} | {e} | {c} | {r} |")

    both("leader failover, kill -9 to first acknowledged write on a survivor (median, ms)",
         "failover",
         "median_ms", "{:.0f}")
    both("  each trial (ms)", "failover", "trials_ms", "{}", unit_ratio=False)
    both("idle RSS of the leader after the idle CPU window (MiB)", "idle_rss", "mib", "{:.1f}")
    window = res.get(("concord", "idle_cpu"), res.get(("etcd", "idle_cpu"), {})).get("window_s")
    both(f"idle CPU of the 3 servers over {window} s, no load (% of one core)", "idle_cpu",
         "pct", "{:.2f}")
    trials = len(res.get(("concord", "dev_start"), {}).get("trials_ms", []))
    both(f"`agent -dev` start to first answered write (median of {trials}, ms)", "dev_start",
         "median_ms", "{:.0f}")
    both("  each trial (ms)", "dev_start", "trials_ms", "{}", unit_ratio=False)
    both("big: keys loaded (txns of 64, 16 connections)", "big_load", "keys", "{:,}",
         unit_ratio=False)
    both("big: load rate (keys/s)", "big_load", "keys_per_s", "{:,}")
    both("big: snapshot size (MiB)", "snapshot", "mib", "{:.1f}")
    both("big: snapshot save time (s)", "snapshot", "seconds", "{:.2f}")
    both("big: kill -9 all 3, start all 3, to first linearizable read of a known key (s)",
         "restart", "seconds", "{:.2f}")
    return ["| figure | etcd | Concord | Concord/etcd |", "|---|---|---|---|"] + rows


def notes(res):
    out = []
    for (system, metric), v in sorted(res.items()):
        if metric.startswith("note"):
            out.append(f"- {system}: {v['text']}")
    return out


def main(results_path, header_path):
    res = load_results(results_path)
    with open(header_path) as f:
        header = f.read().rstrip("\n").split("\n")
    lines = header + [""] + load_table(res) + [""] + other_rows(res)
    extra = notes(res)
    if extra:
        lines += ["", "Notes:"] + extra
    print("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:])
