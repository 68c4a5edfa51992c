#!/usr/bin/env bash
# Benchmarks a local fnboxd (called by `make bench` after building).
#
# Builds two small C helpers (bench/static_server.c, bench/curl_loop.c) into the temporary
# directory, starts the static upstream server (answers {"price":3120.5}) on a free loopback
# port, starts build/fnboxd on another free loopback port with a temporary data directory and
# egress to that upstream opened, deploys samples/hello.js, samples/median-oracle.js,
# snapshot-oracle (median-oracle with "isolation": "snapshot": reused snapshot workers whose
# heap is reset after each result), secret-read (reads one secret), signed-oracle
# (median-oracle with "sign": true: a signed receipt per result) and fetch-price (one fetch()
# to the upstream, returns its price), and measures with wrk:
#   - throughput: BENCH_CONNECTIONS (16) connections, 2 threads, BENCH_SECONDS (10) s, per function
#   - latency p50/p90/p99: 1 connection, BENCH_SECONDS s, per function; the report gives what
#     reading the secret (secret-read vs hello) and signing (signed-oracle vs median-oracle)
#     add per request, and snapshot mode against process mode (snapshot-oracle vs
#     median-oracle, as ratios; with fnboxd's snapshot counters from /metrics)
#   - peak RSS of fnboxd and all its descendants (zygote, workers), sampled from /proc during load
#   - fetch baseline: curl_loop does the same GET as fetch-price with plain libcurl, a fresh
#     easy handle per request like the broker, at 1 and BENCH_CONNECTIONS threads for
#     ceil(BENCH_SECONDS / 2) s each; the report gives fnbox/libcurl as a ratio
#   - deploy-to-first-result: deploy a fresh function then invoke it, median of 20
# then prints a table and stops the daemon and the upstream. Every non-2xx response (and every
# failed libcurl request) is counted and printed; the script exits 1 if there was any.
#
#   BENCH_SECONDS=3 make bench          shorter runs
#   BENCH_CONNECTIONS=32                more concurrent connections
#   BENCH_MAX_WORKERS=N                 fnboxd --max-workers (default: the connection count)
#   BENCH_HTTP_THREADS=N                fnboxd --threads (default: fnboxd's own default)
#   BENCH_KEEP=1                        keep the temporary directory (daemon log, wrk output)
#   FNBOX_BIN=path                      daemon to measure (default build/fnboxd)
#   CC=compiler                         compiler for the C helpers (default cc)
# Traffic goes to 127.0.0.1 only; every run is bounded in time.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
BIN=${FNBOX_BIN:-build/fnboxd}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-16}
WORKERS=${BENCH_MAX_WORKERS:-$CONNS}
HTTP_THREADS=${BENCH_HTTP_THREADS:-}
D2R_N=20
CC=${CC:-cc}

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN is missing: build it with \`make\` (or use \`make bench\`)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or scripts/deps.sh)"
case "$SECS" in '' | *[!0-9]*) die "BENCH_SECONDS must be a whole number of seconds" ;; esac
[ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be at least 1"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fnbox-bench.XXXXXX")
pid=""
rsspid=""
upid=""
cleanup() {
  rc=$?
  trap - EXIT INT TERM
  if [ -n "$rsspid" ] && kill -0 "$rsspid" 2>/dev/null; then
    kill -TERM "$rsspid" 2>/dev/null || true
    wait "$rsspid" 2>/dev/null || true
  fi
  if [ -n "$upid" ] && kill -0 "$upid" 2>/dev/null; then
    kill -TERM "$upid" 2>/dev/null || true
    wait "$upid" 2>/dev/null || true
  fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "bench: fnboxd did not stop within 10 s of SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -s "$TMP/fnboxd.log" ]; then
    echo "bench: last lines of the fnboxd log:" >&2
    tail -n 20 "$TMP/fnboxd.log" >&2
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "bench: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: building bench/static_server.c and bench/curl_loop.c with $CC" >&2
"$CC" -std=c11 -O2 -Wall -pthread bench/static_server.c -o "$TMP/static_server" ||
  die "could not build bench/static_server.c"
# shellcheck disable=SC2046  # pkg-config prints several words on purpose
"$CC" -std=c11 -O2 -Wall -pthread bench/curl_loop.c $(pkg-config --cflags libcurl) \
  -o "$TMP/curl_loop" $(pkg-config --libs libcurl) ||
  die "could not build bench/curl_loop.c (libcurl development files: scripts/deps.sh)"

# The upstream must outlive every run below; it also stops by itself after this bound.
CURL_SECS=$(((SECS + 1) / 2))
UP_THREADS=$(nproc)
[ "$UP_THREADS" -gt 4 ] && UP_THREADS=4
"$TMP/static_server" "$TMP/upstream.port" $((10 * SECS + 120)) "$UP_THREADS" \
  2>"$TMP/upstream.log" &
upid=$!
for _ in $(seq 1 100); do [ -s "$TMP/upstream.port" ] && break; sleep 0.05; done
[ -s "$TMP/upstream.port" ] || die "the upstream server did not start: $(cat "$TMP/upstream.log")"
uport=$(cat "$TMP/upstream.port")
FETCH_URL="http://127.0.0.1:$uport/price"
FETCH_BODY='{"price":3120.5}'

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
port=$("$PY" bench/helper.py freeport)
URL="http://127.0.0.1:$port"
args=(--listen "127.0.0.1:$port" --data "$TMP/data" --max-workers "$WORKERS"
      --queue 1024 --per-ip-connections 1024
      --egress-allow-private 127.0.0.1/32 --egress-allow-http "127.0.0.1:$uport")
[ -n "$HTTP_THREADS" ] && args+=(--threads "$HTTP_THREADS")
echo "bench: starting $BIN ${args[*]}" >&2
"$BIN" "${args[@]}" 2>"$TMP/fnboxd.log" &
pid=$!

"$PY" bench/helper.py wait "$URL" 15
kill -0 "$pid" 2>/dev/null || die "fnboxd exited during start-up"
"$PY" bench/helper.py setup "$URL" "$TMP/data/admin.token" "$TMP" "$FETCH_URL"
TOKEN=$(cat "$TMP/token")

"$PY" bench/helper.py rss "$pid" "$TMP/rss.json" &
rsspid=$!

runs=()
run_wrk() {  # function threads connections
  local fn=$1 threads=$2 conns=$3 out="wrk-$1-c$3.txt"
  echo "bench: $fn: $conns connection(s), $threads thread(s), ${SECS} s" >&2
  BENCH_TOKEN="$TOKEN" BENCH_BODY_FILE="$TMP/body-$fn.json" \
    wrk -t"$threads" -c"$conns" -d"${SECS}s" --timeout 10s -s bench/invoke.lua \
    "$URL/v1/functions/$fn/invoke" >"$TMP/$out" 2>&1 || echo "bench: wrk failed for $fn" >&2
  kill -0 "$pid" 2>/dev/null || die "fnboxd died during the $fn run"
  runs+=("{\"function\":\"$fn\",\"conns\":$conns,\"file\":\"$out\"}")
}
threads=2
[ "$CONNS" -lt 2 ] && threads=1
FNS=(hello median-oracle snapshot-oracle secret-read signed-oracle fetch-price)
for fn in "${FNS[@]}"; do run_wrk "$fn" "$threads" "$CONNS"; done
for fn in "${FNS[@]}"; do run_wrk "$fn" 1 1; done

kill -TERM "$rsspid" 2>/dev/null || true
wait "$rsspid" || true
rsspid=""
"$PY" bench/helper.py metrics "$URL" "$TMP/metrics.json"

curl_runs=()
for c in 1 "$CONNS"; do
  echo "bench: plain libcurl: $c thread(s), ${CURL_SECS} s" >&2
  "$TMP/curl_loop" "$FETCH_URL" "$c" "$CURL_SECS" 0 "$FETCH_BODY" \
    >"$TMP/curl-c$c.txt" 2>&1 || echo "bench: curl_loop reported errors at $c thread(s)" >&2
  curl_runs+=("{\"conns\":$c,\"file\":\"curl-c$c.txt\"}")
  if [ "$CONNS" -eq 1 ]; then break; fi
done
kill -0 "$upid" 2>/dev/null || die "the upstream server died during the runs"

echo "bench: deploy-to-first-result, $D2R_N times" >&2
"$PY" bench/helper.py d2r "$URL" "$TOKEN" "$D2R_N" "$TMP/d2r.json"

runs_json=$(IFS=,; echo "${runs[*]}")
curl_json=$(IFS=,; echo "${curl_runs[*]}")
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR == 1 {print $2}')
cat >"$TMP/meta.json" <<EOF
{"cores": $(nproc), "seconds": $SECS, "max_workers": $WORKERS,
 "load_before": "$load_before", "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "threads": "${HTTP_THREADS:-default}", "wrk": "${wrk_version:-?}", "runs": [$runs_json],
 "fetch": {"function": "fetch-price", "url": "$FETCH_URL", "curl_seconds": $CURL_SECS,
           "upstream_threads": $UP_THREADS, "curl_runs": [$curl_json]}}
EOF
kill -TERM "$upid" 2>/dev/null || true
wait "$upid" 2>/dev/null || true
upid=""
"$PY" bench/helper.py report "$TMP" | tee "$TMP/report.txt"
if grep -q '^bench: .* non-2xx' "$TMP/report.txt"; then
  exit 1
fi
