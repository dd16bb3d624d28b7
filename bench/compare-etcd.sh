#!/usr/bin/env bash
# Concord against etcd 3.4 on this machine, in one run (issue 14, item 1). See bench/README.md.
#
#   bench/compare-etcd.sh [--duration S] [--warmup S] [--trials N] [--big-keys N] [--skip-big]
#                         [--quick] [--keep]
#
# Env: CONCORD_BIN (default target/release/concord, built if missing), CONCORD_REV (default
# `git rev-parse --short HEAD`; set it when the binary is not built from HEAD).
# Prints one Markdown report and saves it to bench/results/YYYY-MM-DD-<rev>.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
TOOLS="python3 $HERE/tools.py"
LUA="$HERE/wrk/kv.lua"

DURATION_S=20
WARMUP_S=3
TRIALS=5
BIG_KEYS=1000000
SKIP_BIG=0
QUICK=0
BIG_ASKED=0
KEEP=0
READ_KEYS=10000          # preloaded keys the read loads pick from
IDLE_SETTLE_S=10         # quiet time before the idle figures (start-up work is not "idle")
IDLE_WINDOW_S=30
WAIT_LEADER_S=60
WAIT_STOP_S=20
WAIT_RESTART_S=300       # a restart over 1,000,000 keys replays a large log
WRK_TIMEOUT_S=5          # wrk counts slower answers as timeouts; well above any p99 seen

# Loopback addresses of 127.0.77.0/24: away from 127.0.0.1:8500 and the 127.0.0.x clusters that
# other tests and sessions on a shared machine start (check_ports refuses to share them).
ETCD_IPS=(127.0.77.11 127.0.77.12 127.0.77.13)
CONCORD_IPS=(127.0.77.21 127.0.77.22 127.0.77.23)
DEV_IP=127.0.77.31

declare -A PID=()        # every process this script started, by name, for cleanup

# calc EXPR: a Python arithmetic expression, rounded (bash has integers only).
calc() { python3 -c "print(round($1, 3))"; }

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

parse_args() {
    while (($#)); do
        case $1 in
            --duration) DURATION_S=${2:?--duration needs seconds}; shift ;;
            --warmup) WARMUP_S=${2:?--warmup needs seconds}; shift ;;
            --trials) TRIALS=${2:?--trials needs a count}; shift ;;
            --big-keys) BIG_KEYS=${2:?--big-keys needs a count}; BIG_ASKED=1; shift ;;
            --skip-big) SKIP_BIG=1 ;;
            --keep) KEEP=1 ;;
            # Smoke test: every step runs, briefly (big keys only with an explicit --big-keys).
            --quick) DURATION_S=5; WARMUP_S=1; TRIALS=1; QUICK=1; IDLE_SETTLE_S=3
                     IDLE_WINDOW_S=10 ;;
            -h|--help) usage 0 ;;
            *) log "unknown argument '$1'"; usage 2 ;;
        esac
        shift
    done
    ((QUICK && !BIG_ASKED)) && SKIP_BIG=1
    [[ $DURATION_S =~ ^[0-9]+$ && $DURATION_S -gt 0 ]] || die "--duration: '$DURATION_S' is not a positive number of seconds"
    [[ $TRIALS =~ ^[0-9]+$ && $TRIALS -gt 0 ]] || die "--trials: '$TRIALS' is not a positive count"
    [[ $BIG_KEYS =~ ^[0-9]+$ && $BIG_KEYS -gt 0 ]] || die "--big-keys: '$BIG_KEYS' is not a positive count"
}

# ------------------------------------------------------------------ setup and cleanup

install_deps() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v python3 >/dev/null || missing+=(python3)
    command -v curl >/dev/null || missing+=(curl)
    ((${#missing[@]} == 0)) && return
    log "installing ${missing[*]} from Debian"
    [[ $(id -u) == 0 ]] || die "${missing[*]} missing and not root: apt-get install -y ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

resolve_bin() {
    if [[ -n ${CONCORD_BIN:-} ]]; then
        [[ -x $CONCORD_BIN ]] || die "CONCORD_BIN=$CONCORD_BIN is not an executable file"
        BIN=$(realpath "$CONCORD_BIN")
        return
    fi
    BIN=$REPO/target/release/concord
    if [[ ! -x $BIN ]]; then
        log "building $BIN (cargo build --release -p concord)"
        (cd "$REPO" && cargo build --release -p concord) >&2
    fi
}

# Another process listening on our addresses would answer our leader probes and loads.
check_ports() {
    local taken
    taken=$(ss -Hltnp 2>/dev/null | grep -F '127.0.77.' || true)
    [[ -z $taken ]] || die "something already listens on 127.0.77.x (an earlier run? kill it):
$taken"
}

# A member that died right after start (port taken, bad flag) must stop the run, not skew it.
check_alive() {
    local sys=$1 i
    for i in 1 2 3; do
        kill -0 "${PID[$sys$i]}" 2>/dev/null || die "$sys node $i exited (log: $WORK/$sys$i.log)"
    done
}

cleanup() {
    local name status=$?
    if ((status != 0)) && [[ -s ${RESULTS:-} ]]; then
        mkdir -p "$HERE/results"
        echo "# PARTIAL: the run stopped with status $status (see the log above)" >"$WORK/header.md"
        $TOOLS table "$RESULTS" "$WORK/header.md" >"$HERE/results/partial-$(date -u +%FT%H%M).md" || true
        log "partial results in $HERE/results/partial-$(date -u +%FT%H%M).md"
    fi
    for name in "${!PID[@]}"; do
        kill -9 "${PID[$name]}" 2>/dev/null || true
    done
    if [[ -n ${WORK:-} && -d $WORK ]]; then
        if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
}

# A results line: SYSTEM, METRIC, one JSON object (bench/report.py renders them).
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }
note() { record "$1" "note:$(date +%s%N)" "$(python3 -c 'import json,sys; print(json.dumps({"text": sys.argv[1]}))' "$2")"; }

# Compilers, simulators, etcd and Concord processes of others running now: they share the
# cores, so a figure measured beside them is marked.
busy() {
    local ours=" ${PID[*]} "
    ps -eo pid=,comm= | awk -v ours="$ours" \
        '$2 ~ /^(rustc|cargo|cc1|cc1plus|ld|rust-lld|clippy-driver|concord.*|etcd)$/ \
         && index(ours, " " $1 " ") == 0 {print $2}' \
        | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}' || true
}

# ------------------------------------------------------------------ generic waits

# poll_until TIMEOUT_S CMD...: retry CMD every 50 ms; fail after TIMEOUT_S.
poll_until() {
    local timeout_s=$1 deadline
    shift
    deadline=$(($(date +%s) + timeout_s))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.05
    done
}

# wait_until TIMEOUT_S WHAT CMD...: poll_until, or die naming WHAT.
wait_until() {
    local timeout_s=$1 what=$2
    shift 2
    poll_until "$timeout_s" "$@" || die "timed out after ${timeout_s}s waiting for $what"
}

stop_process() {
    local name=$1 pid=${PID[$1]}
    kill -TERM "$pid" 2>/dev/null || { unset "PID[$name]"; return 0; }
    local deadline=$(($(date +%s) + WAIT_STOP_S))
    while kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s) >= deadline)); then
            log "$name (pid $pid) ignored SIGTERM for ${WAIT_STOP_S}s: kill -9"
            kill -9 "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

kill9_process() {
    local name=$1 pid=${PID[$1]}
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

# ------------------------------------------------------------------ etcd cluster

etcd_url() { echo "http://${ETCD_IPS[$1 - 1]}:2379"; }
etcd_endpoints() { local IFS=,; echo "${ETCD_IPS[*]/%/:2379}"; }

etcd_start() {
    local i=$1 ip=${ETCD_IPS[$1 - 1]} cluster="" j
    for j in 1 2 3; do cluster+="${cluster:+,}e$j=http://${ETCD_IPS[$j - 1]}:2380"; done
    # Defaults otherwise: fsync on, snapshot-count 100,000, 2 GiB quota.
    etcd --name "e$i" --data-dir "$WORK/etcd$i" \
        --listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
        --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
        --initial-cluster "$cluster" --initial-cluster-token concord-bench \
        --initial-cluster-state new --logger zap --log-outputs stderr --log-level warn \
        >>"$WORK/etcd$i.log" 2>&1 &
    PID[etcd$i]=$!
}

# The leader's node number (1-3), or failure while there is none.
etcd_leader_index() {
    local url i
    url=$($TOOLS etcd-leader "$(etcd_endpoints)") || return 1
    for i in 1 2 3; do [[ $url == "${ETCD_IPS[$i - 1]}:2379" ]] && { echo "$i"; return 0; }; done
    return 1
}

etcd_all_healthy() { etcdctl --endpoints="$(etcd_endpoints)" --command-timeout=2s endpoint health; }

etcd_put() { curl -sf -m 2 -X POST -d "{\"key\":\"$2\",\"value\":\"eA==\"}" "$1/v3/kv/put"; }

# A serializable read answered from NODE's own state: proves it has applied KEY.
etcd_has_key_locally() {
    curl -sf -m 2 -X POST -d "{\"key\":\"$2\",\"serializable\":true}" "$1/v3/kv/range" \
        | grep -q '"kvs"'
}

etcd_read_known_key() {
    local i
    for i in 1 2 3; do
        curl -sf -m 1 -X POST -d '{"key":"Ymln00000000"}' "$(etcd_url "$i")/v3/kv/range" \
            | grep -q '"kvs"' && return 0
    done
    return 1
}

# ------------------------------------------------------------------ Concord cluster

concord_url() { echo "http://${CONCORD_IPS[$1 - 1]}:8500"; }

concord_start() {
    local i=$1 ip=${CONCORD_IPS[$1 - 1]} joins=() j
    for j in 1 2 3; do ((j == i)) || joins+=("-retry-join=${CONCORD_IPS[$j - 1]}"); done
    # http_max_conns_per_client = 0: wrk's 256 connections all come from 127.0.0.1, and the
    # default (200, Consul's) would answer 429 to the rest; etcd has no such limit.
    "$BIN" agent -server -bootstrap-expect=3 -data-dir="$WORK/concord$i" -node="concord$i" \
        -bind="$ip" -client="$ip" "${joins[@]}" -retry-interval=1s -log-level=warn \
        -hcl 'limits { http_max_conns_per_client = 0 }' >>"$WORK/concord$i.log" 2>&1 &
    PID[concord$i]=$!
}

# The leader's node number (1-3) as every server that answers sees it, or failure.
concord_leader_index() {
    local i answer
    for i in 1 2 3; do
        answer=$(curl -sf -m 1 "$(concord_url "$i")/v1/status/leader" 2>/dev/null) || continue
        answer=${answer//\"/}
        for j in 1 2 3; do
            [[ $answer == "${CONCORD_IPS[$j - 1]}:8300" ]] && { echo "$j"; return 0; }
        done
    done
    return 1
}

concord_all_peers() {
    local i
    for i in 1 2 3; do
        [[ $(curl -sf -m 1 "$(concord_url "$i")/v1/status/peers" | grep -o 8300 | wc -l) == 3 ]] \
            || return 1
        curl -sf -m 1 "$(concord_url "$i")/v1/status/leader" | grep -q 8300 || return 1
    done
}

concord_put() { curl -sf -m 2 -X PUT -d x "$1/v1/kv/$2" | grep -q true; }
concord_has_key_locally() { curl -sf -m 2 -o /dev/null "$1/v1/kv/$2?stale"; }

concord_read_known_key() {
    local i
    for i in 1 2 3; do
        curl -sf -m 1 -o /dev/null "$(concord_url "$i")/v1/kv/big/00000000?consistent" && return 0
    done
    return 1
}

# ------------------------------------------------------------------ per-system dispatch
# SYS is etcd or concord; these pick the functions above so the phases below are shared.

url_of() { "${1}_url" "$2"; }
start_node() { "${1}_start" "$2"; }

start_cluster() {
    local sys=$1 i
    for i in 1 2 3; do start_node "$sys" "$i"; done
    wait_until "$WAIT_LEADER_S" "a $sys leader (logs: $WORK/${sys}*.log)" "${sys}_leader_index"
    check_alive "$sys"
    if [[ $sys == etcd ]]; then
        wait_until "$WAIT_LEADER_S" "all 3 etcd members healthy" etcd_all_healthy
    else
        wait_until "$WAIT_LEADER_S" "all 3 Concord servers to list 3 Raft peers" concord_all_peers
    fi
}

leader_url() { url_of "$1" "$("${1}_leader_index")"; }

stop_cluster() {
    local sys=$1 i
    for i in 1 2 3; do [[ -n ${PID[$sys$i]:-} ]] && stop_process "$sys$i"; done
    log "$sys stopped"
}

# ------------------------------------------------------------------ measurements

cpu_ticks() { # utime+stime of the given pids, all threads
    local p sum=0
    for p in "$@"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$sum"
}

measure_idle() {
    local sys=$1 pids=() i t0 t1 leader rss_kib
    for i in 1 2 3; do pids+=("${PID[$sys$i]}"); done
    log "$sys: idle ${IDLE_SETTLE_S}s, then idle CPU over ${IDLE_WINDOW_S}s"
    sleep "$IDLE_SETTLE_S"
    check_alive "$sys"
    t0=$(cpu_ticks "${pids[@]}")
    sleep "$IDLE_WINDOW_S"
    t1=$(cpu_ticks "${pids[@]}")
    record "$sys" idle_cpu "{\"pct\": $(calc "($t1 - $t0) / $(getconf CLK_TCK) / $IDLE_WINDOW_S * 100"), \"window_s\": $IDLE_WINDOW_S}"
    leader=$("${sys}_leader_index")
    rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/${PID[$sys$leader]}/status")
    record "$sys" idle_rss "{\"mib\": $(calc "$rss_kib / 1024"), \"node\": $leader}"
}

# run_load SYS NAME CONNECTIONS MODE: a warm-up, then the measured wrk run at the leader.
run_load() {
    local sys=$1 name=$2 conns=$3 mode=$4 url threads out json before after beside
    url=$(leader_url "$sys")
    threads=$((conns < 2 ? conns : 2))
    wrk -t"$threads" -c"$conns" -d"${WARMUP_S}s" --timeout "${WRK_TIMEOUT_S}s" -s "$LUA" \
        "$url" -- "$mode" "$READ_KEYS" >/dev/null
    out=$WORK/wrk-$sys-$name.txt
    before=$(busy)
    wrk -t"$threads" -c"$conns" -d"${DURATION_S}s" --timeout "${WRK_TIMEOUT_S}s" --latency \
        -s "$LUA" "$url" -- "$mode" "$READ_KEYS" >"$out"
    after=$(busy)
    json=$(grep '^WRKJSON ' "$out" | cut -d' ' -f2-) || die "wrk printed no result (see $out)"
    beside=$(printf '%s\n%s\n' "$before" "$after" | grep -v '^$' | sort -u | paste -sd';' || true)
    record "$sys" "load:$name" "{\"beside\": \"$beside\", \"url\": \"$url\", ${json#\{}"
    log "$sys $name at $url: $(grep -E '^Requests/sec|Non-2xx|Socket errors' "$out" | paste -sd' ')"
}

run_loads() {
    local sys=$1 put get_lin get_stale c
    if [[ $sys == etcd ]]; then put=etcd-put get_lin=etcd-range get_stale=etcd-range-serializable
    else put=concord-put get_lin=concord-get-consistent get_stale=concord-get-stale; fi
    for c in 1 16 64 256; do run_load "$sys" "put-$c" "$c" "$put"; done
    run_load "$sys" get-linearizable-64 64 "$get_lin"
    run_load "$sys" get-stale-64 64 "$get_stale"
}

preload_reads() {
    local sys=$1 fmt
    if [[ $sys == etcd ]]; then fmt='cmQv%08d'; else fmt='bench/r/%08d'; fi
    log "$sys: preloading $READ_KEYS keys for the read loads"
    $TOOLS preload "$sys" "$(leader_url "$sys")" "$fmt" "$READ_KEYS" >/dev/null
}

# One failover trial: kill -9 the leader, time to the first acknowledged write on a survivor,
# restart the killed member and wait until it has applied a write made after its return.
# Runs in this shell (not in $(...)) so the restarted member's pid lands in PID; the result
# goes to FAILOVER_OUT.
failover_trial() {
    local sys=$1 trial=$2 leader urls=() i out mark
    leader=$("${sys}_leader_index") || die "$sys: no leader before failover trial $trial"
    for i in 1 2 3; do ((i == leader)) || urls+=("$(url_of "$sys" "$i")"); done
    out=$($TOOLS failover "$sys" "${PID[$sys$leader]}" "${urls[@]}")
    wait "${PID[$sys$leader]}" 2>/dev/null || true
    start_node "$sys" "$leader"
    wait_until "$WAIT_LEADER_S" "$sys: a leader after failover trial $trial" "${sys}_leader_index"
    if [[ $sys == etcd ]]; then mark=$(printf 'bWFyaw%02d' "$trial"); else mark="bench/mark$trial"; fi
    wait_until "$WAIT_LEADER_S" "$sys: a write after trial $trial" "${sys}_put" "$(leader_url "$sys")" "$mark"
    wait_until "$WAIT_LEADER_S" "$sys: node $leader to rejoin and apply the write after trial $trial" \
        "${sys}_has_key_locally" "$(url_of "$sys" "$leader")" "$mark"
    FAILOVER_OUT=$out
}

measure_failover() {
    local sys=$1 t ms=()
    for ((t = 1; t <= TRIALS; t++)); do
        failover_trial "$sys" "$t"
        log "$sys failover trial $t: $FAILOVER_OUT"
        ms+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ms"])' "$FAILOVER_OUT")")
    done
    record "$sys" failover "$(python3 -c 'import json,statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(json.dumps({"median_ms": statistics.median(v), "trials_ms": v}))' "${ms[@]}")"
}

measure_big() {
    local sys=$1 fmt url out
    if [[ $sys == etcd ]]; then fmt='Ymln%08d'; else fmt='big/%08d'; fi
    url=$(leader_url "$sys")
    log "$sys: loading $BIG_KEYS keys at $url"
    out=$($TOOLS preload "$sys" "$url" "$fmt" "$BIG_KEYS")
    record "$sys" big_load "$out"
    log "$sys big load: $out"
    url=$(leader_url "$sys")   # the leader may have changed under load
    measure_snapshot "$sys" "$url"
    measure_restart "$sys"
}

# A failed save is a finding, not a reason to lose the rest of the run: it becomes a note.
measure_snapshot() {
    local sys=$1 url=$2 snap=$WORK/$1.snapshot t0 t1 ok=1
    log "$sys: snapshot save from $url"
    t0=$(date +%s%N)
    if [[ $sys == etcd ]]; then
        etcdctl --endpoints="${url#http://}" --command-timeout=300s snapshot save "$snap" \
            >"$WORK/snapshot-$sys.log" 2>&1 || ok=0
    else
        "$BIN" snapshot save --http-addr="${url#http://}" "$snap" \
            >"$WORK/snapshot-$sys.log" 2>&1 || ok=0
    fi
    t1=$(date +%s%N)
    if ((ok)); then
        record "$sys" snapshot "{\"mib\": $(calc "$(stat -c %s "$snap") / 1048576"), \"seconds\": $(calc "($t1 - $t0) / 1e9")}"
    else
        note "$sys" "snapshot save FAILED after $(calc "($t1 - $t0) / 1e9") s: $(tail -c 300 "$WORK/snapshot-$sys.log" | tr '\n' ' ')"
    fi
}

# Crash-restart of the whole cluster (kill -9 all 3, start all 3): the worst case a restart can
# meet (no clean shutdown), timed to the first linearizable read of a key loaded before.
measure_restart() {
    local sys=$1 i t0 t1
    for i in 1 2 3; do kill9_process "$sys$i"; done
    t0=$(date +%s%N)
    for i in 1 2 3; do start_node "$sys" "$i"; done
    if ! poll_until "$WAIT_RESTART_S" "${sys}_read_known_key"; then
        note "$sys" "no linearizable read answered within ${WAIT_RESTART_S} s of a full restart"
        return 0
    fi
    t1=$(date +%s%N)
    record "$sys" restart "{\"seconds\": $(calc "($t1 - $t0) / 1e9")}"
    log "$sys restart to serving: $(((t1 - t0) / 1000000)) ms"
}

run_system() {
    local sys=$1 leader
    log "=== $sys: starting 3 members"
    start_cluster "$sys"
    leader=$("${sys}_leader_index")
    log "$sys leader: node $leader ($(url_of "$sys" "$leader"))"
    measure_idle "$sys"
    preload_reads "$sys"
    run_loads "$sys"
    check_alive "$sys"
    measure_failover "$sys"
    if ((SKIP_BIG)); then note "$sys" "big-key figures skipped (--skip-big or --quick)"
    else measure_big "$sys"; fi
    stop_cluster "$sys"
}

measure_dev_start() {
    log "concord: agent -dev start to first answered write, $TRIALS trials"
    record concord dev_start "$($TOOLS devstart "$BIN" "$DEV_IP" "$TRIALS" "$WORK/dev.log")"
}

# ------------------------------------------------------------------ report

write_header() {
    local rev=$1 start_load=$2 end_load=$3 start_busy=$4 end_busy=$5 wall_s=$6
    cat <<EOF
# Concord vs etcd, $(date -u '+%Y-%m-%d %H:%M UTC')

- Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -r), data dirs on $(df --output=source "$WORK" | tail -1) ($WORK)
- etcd $(etcd --version | sed -n 's/^etcd Version: //p') (Debian etcd-server), 3 members on ${ETCD_IPS[*]}
- Concord $rev ($BIN), 3 servers on ${CONCORD_IPS[*]}
- Load: wrk, $DURATION_S s per load after a $WARMUP_S s warm-up, threads min(2, connections), 100-byte values, random keys; reads pick among $READ_KEYS preloaded keys; every load is sent to the LEADER's HTTP address (column "url" in the raw results). One system runs at a time.
- Failover and dev-start figures: $TRIALS trials each. Errors = non-2xx answers + socket errors (connect/read/write/timeout > ${WRK_TIMEOUT_S}s) counted by wrk; a row with errors is flagged ⚠.
- Machine load (uptime): at start $start_load; at end $end_load. Other compilers/simulators at start: ${start_busy:-none}; at end: ${end_busy:-none} (the last column lists those seen at the start or end of each load). Wall time of this run: $wall_s s.
EOF
}

main() {
    parse_args "$@"
    install_deps
    resolve_bin
    check_ports
    local rev=${CONCORD_REV:-$(git -C "$REPO" rev-parse --short HEAD)} t_start start_load start_busy
    t_start=$(date +%s)
    start_load=$(uptime | sed 's/.*load average: //')
    start_busy=$(busy)
    # /var/tmp, not /tmp: /tmp may be tmpfs, where fsync costs nothing and the figures would lie.
    WORK=$(mktemp -d /var/tmp/concord-bench.XXXXXX)
    RESULTS=$WORK/results.tsv
    trap cleanup EXIT
    trap 'log "interrupted"; exit 130' INT TERM
    : >"$RESULTS"
    run_system etcd
    run_system concord
    measure_dev_start
    local out=$HERE/results/$(date -u +%F)-$rev.md
    mkdir -p "$HERE/results"
    write_header "$rev" "$start_load" "$(uptime | sed 's/.*load average: //')" "$start_busy" \
        "$(busy)" "$(($(date +%s) - t_start))" >"$WORK/header.md"
    $TOOLS table "$RESULTS" "$WORK/header.md" >"$out"
    cp "$RESULTS" "${out%.md}.tsv"
    cat "$out"
    log "saved $out (raw results: ${out%.md}.tsv)"
}

main "$@"
