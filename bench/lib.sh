# Shared helpers for bench/*: paths, the bench's own beacon + portal (ports and multicast
# group apart from the demo's, so a demo or a test running alongside is not disturbed), process
# bookkeeping with cleanup on exit, waiting for ports, wrk/JSON helpers. Source it; don't run it.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BIN=$ROOT/target/release
LOADGEN=${BENCH_LOADGEN:-$BIN/loadgen}
WSRUST=$BIN/ws-rust-peer
OUT=${BENCH_OUT:-$BENCH_DIR/results}
mkdir -p "$OUT"

# Bench-only addresses (loopback only; BENCH_GROUP, BENCH_MPORT, BENCH_HTTP move them when two
# benchmarks share the machine — multicast on loopback is machine-wide).
B_GROUP=${BENCH_GROUP:-239.255.77.90}
B_MPORT=${BENCH_MPORT:-17790}
B_HTTP=${BENCH_HTTP:-127.0.0.1:18080}
B_HTTP2=127.0.0.1:18090
B_DNS=127.0.0.1:18053
# The show the beacon plays and the portal serves (its directory is the portal's shows directory);
# the benches `go wash` and `go chase`, so another show (BENCH_SHOW) needs those cues.
B_SHOW=${BENCH_SHOW:-$ROOT/shows/examples/intermission.toml}
B_TMP=$(mktemp -d /tmp/crowdlight-bench.XXXXXX)
export CROWDLIGHT_SOCKET=$B_TMP/beacon.sock

PIDS=()
bench_cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  mkdir -p "$OUT/logs/$(basename "$0")" && cp "$B_TMP"/*.log "$OUT/logs/$(basename "$0")/" 2>/dev/null
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $B_TMP" >&2; else rm -rf "$B_TMP"; fi
  exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s %s] %s\n' "$(date -u +%T)" "$(basename "$0")" "$*" >&2; }

# spawn LOGNAME CMD...: start in the background, remember the pid in LAST_PID (not in a subshell).
spawn() {
  local name=$1; shift
  "$@" >"$B_TMP/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# stop PID: TERM, then KILL after 2 s.
stop() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# wait_http URL [seconds]: until it answers 2xx/3xx/4xx.
wait_http() {
  local url=$1 n=$(( ${2:-10} * 10 ))
  for _ in $(seq 1 "$n"); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  log "no answer from $url"; return 1
}

# wait_tcp HOST:PORT [seconds]
wait_tcp() {
  local hp=$1 n=$(( ${2:-10} * 10 ))
  for _ in $(seq 1 "$n"); do
    (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on $hp"; return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now_us() { date +%s%6N; }

# start_beacon: the bench's beacon (dev key, bench group/port, own socket and state file).
start_beacon() {   # [extra beacon run flags]
  spawn beacon "$BIN/beacon" run --dev --group "$B_GROUP" --port "$B_MPORT" \
    --state-file "$B_TMP/beacon-state.json" --show "$B_SHOW" "$@"
  BEACON_PID=$LAST_PID
  for _ in $(seq 1 50); do "$BIN/beacon" status >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "beacon did not come up"; cat "$B_TMP/beacon.log" >&2; return 1
}

# start_portal HTTP_ADDR [extra flags]: a relay on the bench group; waits for /healthz 200.
# The load generators put many clients on each source address, so the per-address cap is
# lifted. BENCH_PORTAL=PATH runs another portal binary (e.g. an older build, for before/after).
PORTAL_BIN=${BENCH_PORTAL:-$BIN/portal}
start_portal() {
  local http=$1; shift
  case " $* " in *" --dns "*) ;; *) set -- --no-dns "$@" ;; esac
  if "$PORTAL_BIN" run --help 2>/dev/null | grep -q -- --max-connections-per-address; then
    set -- --max-connections-per-address 19000 "$@"
  fi
  spawn "portal-${http##*:}" "$PORTAL_BIN" run --dev --http "$http" --group "$B_GROUP" --port "$B_MPORT" \
    --shows "$(dirname "$B_SHOW")" --canonical-url "http://$http/" --max-connections 19000 "$@"
  PORTAL_PID=$LAST_PID
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$http/healthz")" = 200 ] && return 0
    sleep 0.1
  done
  log "portal on $http never became healthy"; cat "$B_TMP/portal-${http##*:}.log" >&2; return 1
}

# go CUE: fire a cue on the bench beacon.
go() { "$BIN/beacon" go "$1" >/dev/null; }

# wrk_run NAME URL [wrk args...]: runs wrk, appends one JSON line {name, rps, p50_ms, p99_ms, ...} to $WRK_OUT.
wrk_run() {
  local name=$1 url=$2; shift 2
  local txt="$B_TMP/wrk-$name.txt"
  wrk --latency "$@" "$url" >"$txt" 2>&1 || { cat "$txt" >&2; return 1; }
  node "$BENCH_DIR/tools/wrk2json.mjs" "$name" "$url" <"$txt" >>"$WRK_OUT"
  log "$(tail -n1 "$WRK_OUT")"
}

machine_line() {
  printf '%s; %s cores (%s); %s GiB RAM; %s' \
    "$(uname -sr)" "$(nproc)" "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" "$(date -u +%Y-%m-%dT%H:%MZ)"
}
