"""Share of fuzz seeds whose generated schedule uses each fault and load kind.

Usage: python3 sim/fault_shares.py N   (seeds 0..N; needs target/sim/sim/concord-sim, built by
`cargo xtask sim build`). Reads only the printed schedules (`concord-sim schedule --seed S`):
safety-phase `network` settings, fault lines, `load-start` settings and `start` flags.
"""
import subprocess, sys, re, collections
n = int(sys.argv[1])
count = collections.Counter()
for seed in range(n):
    s = subprocess.run(["target/sim/sim/concord-sim", "schedule", "--seed", str(seed)], capture_output=True, text=True).stdout
    kinds = set()
    safety = False
    for line in s.splitlines():
        if line.startswith('# safety phase'): safety = True
        if line.startswith('# liveness phase'): safety = False
        w = line.split()
        if not w or w[0].startswith('#'): continue
        if w[0] == 'network' and not safety: continue
        if w[0] == 'network':
            m = re.search(r'latency=\d+\.\.(\d+)', line)
            if m and int(m.group(1)) > 50: kinds.add('network latency spikes (over 50 ms)')
            w = [t for t in w if not t.startswith('latency=')]
        k = w[0]
        if k in ('partition','isolate','cut','clog','kill','restart','pause','leave','transfer-leader','kill-after-ack','pause-leader-reading','join'):
            kinds.add(k)
        if k == 'kill-after-ack': kinds.add('kill-after-ack ' + w[1])
        if k == 'network':
            for t in w[1:]:
                key = t.split('=')[0]
                if not t.endswith('=0') and not t.endswith('=0%'): kinds.add('network ' + key)
        if k == 'load-start':
            for t in w[1:]:
                key, _, v = t.partition('=')
                if key not in ('clients','ops') and v not in ('0',):
                    kinds.add('load ' + key)
        if k == 'start':
            m = re.search(r'-raft-snapshot-threshold (\d+)', line)
            if m and int(m.group(1)) <= 64: kinds.add('snapshot threshold <= 64 entries')
            m = re.search(r'-raft-snapshot-chunk-bytes (\d+)', line)
            if m and int(m.group(1)) <= 1024: kinds.add('snapshot chunk <= 1 KiB')
            if re.match(r'start n\d', line): kinds.add('server added')
            if 'bootstrap-expect 5' in line: kinds.add('5 servers')
    count.update(kinds)
for k, c in sorted(count.items()):
    print(f"{k}\t{c}\t{100*c/n:.1f}%")
