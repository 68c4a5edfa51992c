#!/usr/bin/env bash
# What confinement and function zygotes cost: the oracle (samples/median-oracle.js) at
# BENCH_AB_CONNECTIONS connections against fnboxd in three configurations,
#   default            namespaces on, function zygotes on (what `fnboxd` runs)
#   no-namespaces      --namespaces 0 (as on a kernel that refuses them)
#   no-fn-zygotes      --function-zygotes 0 (every worker compiles)
# each in its own daemon, the three interleaved BENCH_AB_ROUNDS times so that the machine's
# drift hits them alike; prints each configuration's median inv/s (and the spread) and its
# ratio to the default. Called by `make bench` after bench/run.sh (BENCH_AB=0 skips it).
#
#   BENCH_SECONDS=5 BENCH_AB_ROUNDS=3 BENCH_AB_CONNECTIONS=16   the defaults
#   FNBOX_BIN=path                                               daemon to measure
# Exits 1 on any non-2xx answer. Traffic goes to 127.0.0.1 only; every daemon is stopped.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
BIN=${FNBOX_BIN:-build/fnboxd}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_AB_ROUNDS:-3}
CONNS=${BENCH_AB_CONNECTIONS:-16}
die() { echo "bench/ab: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN is missing: build it with \`make\`"
command -v wrk >/dev/null || die "wrk is not installed"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fnbox-ab.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

declare -A FLAGS=([default]="" [no-namespaces]="--namespaces 0" [no-fn-zygotes]="--function-zygotes 0")
CONFIGS=(default no-namespaces no-fn-zygotes)

run_one() {  # config round -> prints rps
  local cfg=$1 n=$2 dir="$TMP/$1-$2" port
  mkdir -p "$dir"
  port=$("$PY" bench/helper.py freeport)
  # shellcheck disable=SC2086  # FLAGS holds separate words on purpose
  "$BIN" --listen "127.0.0.1:$port" --data "$dir/data" --max-workers "$CONNS" --queue 1024 \
    --per-ip-connections 1024 ${FLAGS[$cfg]} 2>"$dir/log" &
  pid=$!
  "$PY" bench/helper.py wait "http://127.0.0.1:$port" 15 >/dev/null
  "$PY" bench/helper.py setup "http://127.0.0.1:$port" "$dir/data/admin.token" "$dir" >/dev/null
  # warm up: the function zygote (when on) is made after the first invocations
  BENCH_TOKEN=$(cat "$dir/token") BENCH_BODY_FILE="$dir/body-median-oracle.json" \
    wrk -t2 -c"$CONNS" -d1s -s bench/invoke.lua "http://127.0.0.1:$port/v1/functions/median-oracle/invoke" >/dev/null 2>&1 || true
  BENCH_TOKEN=$(cat "$dir/token") BENCH_BODY_FILE="$dir/body-median-oracle.json" \
    wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s -s bench/invoke.lua \
    "http://127.0.0.1:$port/v1/functions/median-oracle/invoke" >"$dir/wrk.txt" 2>&1 \
    || die "wrk failed ($cfg)"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  local line
  line=$(grep '^BENCH ' "$dir/wrk.txt") || die "no summary from wrk ($cfg): $(tail -3 "$dir/wrk.txt")"
  case "$line" in *" non2xx=0 "*) ;; *) die "non-2xx answers ($cfg): $line" ;; esac
  sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line"
}

for r in $(seq 1 "$ROUNDS"); do
  for cfg in "${CONFIGS[@]}"; do
    echo "bench/ab: round $r: $cfg" >&2
    echo "$cfg $(run_one "$cfg" "$r")" >>"$TMP/results"
  done
done

echo
echo "oracle at $CONNS connections, ${SECS} s per run, $ROUNDS interleaved rounds (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PY" - "$TMP/results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    cfg, rps = line.split()
    runs.setdefault(cfg, []).append(float(rps))
base = statistics.median(runs["default"])
print(f"{'configuration':<16} {'median inv/s':>12} {'min':>8} {'max':>8} {'/default':>9}")
for cfg in ("default", "no-namespaces", "no-fn-zygotes"):
    v = runs[cfg]
    m = statistics.median(v)
    print(f"{cfg:<16} {m:>12,.0f} {min(v):>8,.0f} {max(v):>8,.0f} {m / base:>9.3f}")
EOF
