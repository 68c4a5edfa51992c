#!/usr/bin/env bash
# fnbox side by side with peers (called by `make bench` after bench/run.sh; BENCH_PEERS=0
# skips it there).
#
# Installs pinned `workerd` and `deno` from npm into bench/.peers/ (ignored by git; one
# prefix per peer, installed again only when the pinned version is missing) and runs the same
# oracle (the body of samples/median-oracle.js: JSON round trip + median) with the same
# request body in:
#   fnbox       build/fnboxd on a temporary data directory, deployed through its HTTP API
#               (a fresh process per invocation)
#   fnbox snapshot  the same fnboxd, right after the fnbox row: the oracle deployed with
#               "isolation": "snapshot" (snapshot-oracle: reused workers, heap reset after
#               each result)
#   workerd     one worker, capnp config (bench/peers/workerd.capnp), HTTP on 127.0.0.1
#   deno-serve  Deno.serve in one process (bench/peers/deno-serve.js)
#   node-vm     Node http, the oracle run in a new `vm` context per request (node-vm.js)
#   deno-run    a fresh `deno run` process per request behind a small Node front-end
#               (spawn-front.js, deno-run.js); measured BENCH_SPAWN_SECONDS per cell
# Each answer is checked once for the right median before measuring; a peer that answers
# wrong, or whose install or start fails, is printed as "not measured: <reason>". fnboxd's
# worker counters are read from its /metrics around each of its runs, so that the report shows
# which kind of worker served them.
# Measured with wrk on 127.0.0.1 (bench/invoke.lua's done() hook gives p50/p99 and counts every
# non-2xx response): 2xx req/s and p50/p99 at each of BENCH_PEER_CONNECTIONS; peak RSS of the
# peer's whole process tree (sampled from /proc every 20 ms) under the largest connection
# count; cold start (process start to first correct answer, median of BENCH_COLD_N starts);
# for fnbox's two rows also deploy-to-first-result (median of D2R_ROW_N). Then fnbox's cost
# growth: function size (1 KB and 100 KB of code, padded with unused functions and constant
# tables; the 100 KB one in snapshot mode too) and concurrent functions (1, 10, 100 deployed,
# invoked round robin). Prints one table with the ratios fnbox/peer and snapshot/peer, the
# growth table, then the issue's targets (bench/peers/tool.py TARGETS) as met or missed.
#
# Knobs (environment):
#   BENCH_SECONDS=5                seconds per wrk cell (default 5 here; bench/run.sh: 10)
#   BENCH_SPAWN_SECONDS=3          seconds per cell for deno-run (at most BENCH_SECONDS)
#   BENCH_PEER_CONNECTIONS="1 4 16 64"   connection counts of the matrix (ascending)
#   BENCH_PEERS_LIST="workerd deno-serve node-vm deno-run"   peers to run (fnbox always runs)
#   BENCH_COLD_N=5                 cold starts per peer
#   BENCH_GROWTH=1                 0: skip fnbox's size / concurrent-functions runs
#   BENCH_GROWTH_CONNECTIONS="1 16"   connection counts of the growth runs
#   BENCH_MAX_WORKERS=N            fnboxd --max-workers (default: the largest connection count)
#   BENCH_KEEP=1                   keep the temporary directory (logs, wrk output)
#   FNBOX_BIN=path                 daemon to measure (default build/fnboxd)
# Exits 1 if fnbox (either row) answered anything but 2xx (peers' errors are printed, not fatal).
# Traffic goes to 127.0.0.1 only; every run is bounded in time; every process it starts is
# stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
BIN=${FNBOX_BIN:-build/fnboxd}
SECS=${BENCH_SECONDS:-5}
SPAWN_SECS=${BENCH_SPAWN_SECONDS:-3}
read -r -a CONNS <<<"${BENCH_PEER_CONNECTIONS:-1 4 16 64}"
read -r -a PEERS <<<"${BENCH_PEERS_LIST:-workerd deno-serve node-vm deno-run}"
COLD_N=${BENCH_COLD_N:-5}
GROWTH=${BENCH_GROWTH:-1}
read -r -a GROWTH_CONNS <<<"${BENCH_GROWTH_CONNECTIONS:-1 16}"
MAXC=${CONNS[${#CONNS[@]} - 1]}
WORKERS=${BENCH_MAX_WORKERS:-$MAXC}
D2R_N=5
D2R_ROW_N=20
SNAPSHOT_FN=snapshot-oracle   # deployed by bench/helper.py setup
PEERS_DIR=bench/.peers
WORKERD_VERSION=1.20261117.1
DENO_VERSION=2.9.6
WORKERD_BIN=$PEERS_DIR/workerd/node_modules/@cloudflare/workerd-linux-64/bin/workerd
DENO_BIN=$PEERS_DIR/deno/node_modules/@deno/linux-x64-glibc/deno
TOOL=bench/peers/tool.py

die() { echo "peers: $*" >&2; exit 1; }
note() { echo "peers: $*" >&2; }
isnum() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; [ "$1" -ge 1 ]; }
[ -x "$BIN" ] || die "$BIN is missing: build it with \`make\` (or use \`make bench\`)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or scripts/deps.sh)"
for v in "$SECS" "$SPAWN_SECS" "$COLD_N" "$WORKERS" "${CONNS[@]}" "${GROWTH_CONNS[@]}"; do
  isnum "$v" || die "BENCH_* counts and seconds must be whole numbers >= 1 (got '$v')"
done
[ "$SPAWN_SECS" -gt "$SECS" ] && SPAWN_SECS=$SECS

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fnbox-peers.XXXXXX")
srv=""      # the running server's pid
rsspid=""   # the RSS sampler's pid

descendants() {  # pid: prints every descendant's pid
  local kids k
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do
    echo "$k"
    descendants "$k"
  done
}
stop_rss() {
  if [ -n "$rsspid" ]; then
    kill -TERM "$rsspid" 2>/dev/null || true
    wait "$rsspid" 2>/dev/null || true
    rsspid=""
  fi
}
stop_server() {
  [ -n "$srv" ] || return 0
  local all p
  all="$srv $(descendants "$srv")"
  # shellcheck disable=SC2086  # a list of pids
  kill -TERM $all 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
  for p in $all; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  wait "$srv" 2>/dev/null || true
  srv=""
}
cleanup() {
  rc=$?
  trap - EXIT INT TERM
  stop_rss
  stop_server
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "peers: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------ installs
declare -A STATUS LABEL
LABEL=([fnbox]="fnbox" [fnbox-snapshot]="fnbox snapshot" [workerd]="workerd"
       [deno-serve]="Deno.serve" [node-vm]="node vm/req" [deno-run]="deno run/req")
for p in "${PEERS[@]}"; do
  case "$p" in
    fnbox | fnbox-snapshot) die "BENCH_PEERS_LIST: $p always runs; list only peers" ;;
  esac
  [ -n "${LABEL[$p]:-}" ] || die "unknown peer '$p' (known: workerd deno-serve node-vm deno-run)"
done

npm_install() {  # name package@version binary: installs into bench/.peers/NAME, checks BINARY
  local name=$1 spec=$2 binary=$3 have=""
  have=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
    "$PEERS_DIR/$name/node_modules/${spec%@*}/package.json" 2>/dev/null || true)
  if [ "$have" != "${spec##*@}" ] || [ ! -x "$binary" ]; then
    command -v npm >/dev/null || { echo "npm is not installed"; return 1; }
    note "npm install --prefix $PEERS_DIR/$name $spec"
    mkdir -p "$PEERS_DIR/$name"
    if ! timeout 300 npm install --prefix "$PEERS_DIR/$name" --no-audit --no-fund --no-save \
      --loglevel=error "$spec" >"$TMP/npm-$name.log" 2>&1; then
      echo "npm install $spec failed: $(grep -m1 -i 'err' "$TMP/npm-$name.log" || tail -n1 "$TMP/npm-$name.log")"
      return 1
    fi
  fi
  [ -x "$binary" ] || { echo "$spec installed no binary at $binary"; return 1; }
  timeout 30 "$binary" --version >"$TMP/version-$name.txt" 2>&1 ||
    { echo "$binary --version failed: $(head -c 200 "$TMP/version-$name.txt")"; return 1; }
}

need_workerd=0 need_deno=0 need_node=0
for p in "${PEERS[@]}"; do
  case "$p" in
    workerd) need_workerd=1 ;;
    deno-serve) need_deno=1 ;;
    node-vm) need_node=1 ;;
    deno-run) need_deno=1 need_node=1 ;;
  esac
done
workerd_err="" deno_err="" node_err=""
if [ "$need_workerd" = 1 ]; then
  workerd_err=$(npm_install workerd "workerd@$WORKERD_VERSION" "$WORKERD_BIN") || true
  [ -z "$workerd_err" ] && [ ! -x "$WORKERD_BIN" ] && workerd_err="no binary"
fi
if [ "$need_deno" = 1 ]; then
  deno_err=$(npm_install deno "deno@$DENO_VERSION" "$DENO_BIN") || true
  [ -z "$deno_err" ] && [ ! -x "$DENO_BIN" ] && deno_err="no binary"
fi
if [ "$need_node" = 1 ]; then
  command -v node >/dev/null || node_err="node is not installed"
fi
for p in "${PEERS[@]}"; do
  case "$p" in
    workerd) [ -n "$workerd_err" ] && STATUS[$p]="not measured: $workerd_err" ;;
    deno-serve) [ -n "$deno_err" ] && STATUS[$p]="not measured: $deno_err" ;;
    node-vm) [ -n "$node_err" ] && STATUS[$p]="not measured: $node_err" ;;
    deno-run) [ -n "$deno_err$node_err" ] && STATUS[$p]="not measured: $deno_err$node_err" ;;
  esac
  if [ -n "${STATUS[$p]:-}" ]; then note "${LABEL[$p]}: ${STATUS[$p]}"; fi
done
versions="fnboxd $("$BIN" --version 2>&1 | head -n1)"
[ -s "$TMP/version-workerd.txt" ] && versions+=", workerd $(head -n1 "$TMP/version-workerd.txt")"
[ -s "$TMP/version-deno.txt" ] && versions+=", $(head -n1 "$TMP/version-deno.txt")"
command -v node >/dev/null && versions+=", node $(node --version)"

# ------------------------------------------------------------------------------ the code
"$PY" $TOOL body "$TMP/body.json"
mkdir -p "$TMP/workerd" "$TMP/deno" "$TMP/deno-dir"
cat samples/median-oracle.js bench/peers/workerd-handler.js >"$TMP/workerd/oracle-worker.js"
cp bench/peers/workerd.capnp "$TMP/workerd/workerd.capnp"
cat samples/median-oracle.js bench/peers/deno-serve.js >"$TMP/deno/oracle-serve.js"
cat samples/median-oracle.js bench/peers/deno-run.js >"$TMP/deno/oracle-run.js"
export DENO_DIR="$TMP/deno-dir" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

peer_cmd() {  # port name: sets CMD (the server's command line) and PATH_ (the URL path)
  local port=$1
  PATH_=/
  case "$2" in
    fnbox)
      CMD=("$BIN" --listen "127.0.0.1:$port" --data "$TMP/data" --max-workers "$WORKERS"
           --queue 1024 --per-ip-connections 1024)
      PATH_=/v1/functions/median-oracle/invoke ;;
    workerd)
      CMD=("$WORKERD_BIN" serve "$TMP/workerd/workerd.capnp" --socket-addr
           "http=127.0.0.1:$port") ;;
    deno-serve)
      CMD=("$DENO_BIN" run --quiet --no-prompt --no-config --allow-net=127.0.0.1
           "$TMP/deno/oracle-serve.js" "$port") ;;
    node-vm)
      CMD=(node bench/peers/node-vm.js "$port" samples/median-oracle.js) ;;
    deno-run)
      CMD=(node bench/peers/spawn-front.js "$port" "$DENO_BIN" "$TMP/deno/oracle-run.js") ;;
  esac
}

run_wrk() {  # run-name url seconds conns [paths-file]: one wrk cell into wrk-NAME-cN.txt
  local name=$1 url=$2 secs=$3 c=$4 paths=${5:-} threads=2
  [ "$c" -lt 2 ] && threads=1
  note "$name: $c connection(s), $secs s"
  BENCH_TOKEN="$TOKEN" BENCH_BODY_FILE="$TMP/body.json" BENCH_PATHS_FILE="$paths" \
    timeout $((secs + 30)) wrk -t"$threads" -c"$c" -d"${secs}s" --timeout 10s \
    -s bench/invoke.lua "$url" >"$TMP/wrk-$name-c$c.txt" 2>&1 ||
    note "wrk failed for $name at $c connection(s)"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMP/status.tsv"
: >"$TMP/growth.tsv"
TOKEN=""
FNBOX_URL=""   # the running fnboxd's, for its /metrics

counters() {  # name before|after: fnboxd's worker counters into workers-NAME-WHEN.json
  [ -n "$TOKEN" ] || return 0   # not fnboxd
  "$PY" bench/helper.py metrics "$FNBOX_URL" "$TMP/workers-$1-$2.json"
}

matrix() {  # row url secs: check the answer, then the wrk matrix (RSS under the largest count)
  local row=$1 url=$2 secs=$3 ok=0 rc c
  for _ in $(seq 1 300); do
    rc=0
    "$PY" $TOOL check "$url" "$TMP/body.json" "$TOKEN" 2>"$TMP/check-$row.txt" || rc=$?
    [ "$rc" = 0 ] && ok=1
    [ "$rc" = 0 ] || [ "$rc" = 3 ] && break
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ok" != 1 ]; then
    STATUS[$row]="not measured: $(tail -n1 "$TMP/check-$row.txt" | sed "s/^peers: //")"
    note "${LABEL[$row]}: ${STATUS[$row]}"
    return 1
  fi
  counters "$row" before
  for c in "${CONNS[@]}"; do
    if [ "$c" = "$MAXC" ]; then
      "$PY" bench/helper.py rss "$srv" "$TMP/rss-$row.json" &
      rsspid=$!
    fi
    run_wrk "$row" "$url" "$secs" "$c"
    stop_rss
    kill -0 "$srv" 2>/dev/null || { STATUS[$row]="not measured: it died under load"; return 1; }
  done
  counters "$row" after
}

cold_fnbox() {  # row [isolation]: BENCH_COLD_N cold starts of fnboxd; sets STATUS[row]
  local row=$1
  note "${LABEL[$row]}: $COLD_N cold starts"
  if "$PY" $TOOL coldstart-fnbox "$TMP/cold-$row.json" "$COLD_N" "$BIN" \
    samples/median-oracle.js ${2:+"$2"} 2>"$TMP/cold-$row.err"; then
    STATUS[$row]=measured
  else
    STATUS[$row]="measured; cold start not measured: $(tail -n1 "$TMP/cold-$row.err" |
      sed "s/^peers: //")"
    note "${LABEL[$row]}: ${STATUS[$row]}"
  fi
}

measure() {  # peer: check, the wrk matrix (for fnbox, both its rows and the growth runs), then
             # cold starts
  local p=$1 port url secs=$SECS snap_ok=0
  [ "$p" = deno-run ] && secs=$SPAWN_SECS
  port=$("$PY" bench/helper.py freeport)
  peer_cmd "$port" "$p"
  url="http://127.0.0.1:$port"
  "${CMD[@]}" >"$TMP/server-$p.log" 2>&1 &
  srv=$!
  TOKEN=""
  if [ "$p" = fnbox ]; then
    FNBOX_URL=$url
    "$PY" bench/helper.py wait "$url" 15
    "$PY" bench/helper.py setup "$url" "$TMP/data/admin.token" "$TMP"
    TOKEN=$(cat "$TMP/token")
  fi
  if ! matrix "$p" "$url$PATH_" "$secs"; then
    stop_server
    return 0
  fi
  if [ "$p" = fnbox ]; then
    # The snapshot row on the same fnboxd, right after: nothing measured deploys more functions
    # before it (snapshot workers come from a function zygote, of which there are FNZ_MAX; one
    # for a new function is refused while all are recently used).
    matrix fnbox-snapshot "$url/v1/functions/$SNAPSHOT_FN/invoke" "$secs" && snap_ok=1
    if [ "$GROWTH" != 0 ] && kill -0 "$srv" 2>/dev/null; then growth "$url"; fi
    # last: each deploys a fresh function (and so takes a function zygote's slot)
    if kill -0 "$srv" 2>/dev/null; then
      note "fnbox: deploy + first result, $D2R_ROW_N times"
      "$PY" $TOOL d2r "$url" "$TOKEN" samples/median-oracle.js "$D2R_ROW_N" \
        "$TMP/d2r-fnbox.json"
      if [ "$snap_ok" = 1 ]; then
        note "fnbox snapshot: deploy + first result, $D2R_ROW_N times"
        "$PY" $TOOL d2r "$url" "$TOKEN" samples/median-oracle.js "$D2R_ROW_N" \
          "$TMP/d2r-fnbox-snapshot.json" snapshot
      fi
    fi
  fi
  stop_server
  if [ "$p" = fnbox ]; then
    cold_fnbox fnbox
    [ "$snap_ok" = 1 ] && cold_fnbox fnbox-snapshot snapshot
  else
    note "${LABEL[$p]}: $COLD_N cold starts"
    peer_cmd "{port}" "$p"
    "$PY" $TOOL coldstart "$TMP/cold-$p.json" "$COLD_N" "http://127.0.0.1:{port}$PATH_" -- \
      "${CMD[@]}" 2>"$TMP/cold-$p.err" || {
      STATUS[$p]="measured; cold start not measured: $(tail -n1 "$TMP/cold-$p.err" | sed "s/^peers: //"); log: $(tail -c 200 \
        "$TMP/cold-$p.json.log" 2>/dev/null | tr '\n' ' ')"
      note "${LABEL[$p]}: ${STATUS[$p]}"
      return 0
    }
    STATUS[$p]=measured
  fi
}

growth_case() {  # name label url [paths-file]
  local name=$1 label=$2 url=$3 paths=${4:-} last=${GROWTH_CONNS[${#GROWTH_CONNS[@]} - 1]}
  printf '%s\t%s\n' "$name" "$label" >>"$TMP/growth.tsv"
  counters "$name" before
  for c in "${GROWTH_CONNS[@]}"; do
    if [ "$c" = "$last" ]; then
      "$PY" bench/helper.py rss "$srv" "$TMP/rss-$name.json" &
      rsspid=$!
    fi
    run_wrk "$name" "$url" "$SECS" "$c" "$paths"
    stop_rss
    kill -0 "$srv" 2>/dev/null || die "fnboxd died during the $name run"
  done
  counters "$name" after
}

growth() {  # url of the running fnboxd
  local url=$1 n
  for size in 1 100; do
    "$PY" $TOOL gen $((size * 1024)) "$TMP/size-${size}k.js"
    "$PY" $TOOL deploy "$url" "$TOKEN" "size-${size}k" "$TMP/size-${size}k.js"
    note "size-${size}k: deploy + first result, $D2R_N times"
    "$PY" $TOOL d2r "$url" "$TOKEN" "$TMP/size-${size}k.js" "$D2R_N" "$TMP/d2r-size-${size}k.json"
    growth_case "size-${size}k" "code size ${size} KB" "$url/v1/functions/size-${size}k/invoke"
  done
  # the 100 KB code in snapshot mode, before the 100 functions take every function zygote slot
  "$PY" $TOOL deploy "$url" "$TOKEN" size-100k-snap "$TMP/size-100k.js" snapshot
  note "size-100k-snap: deploy + first result, $D2R_N times"
  "$PY" $TOOL d2r "$url" "$TOKEN" "$TMP/size-100k.js" "$D2R_N" "$TMP/d2r-size-100k-snap.json" \
    snapshot
  growth_case size-100k-snap "code size 100 KB, snapshot" \
    "$url/v1/functions/size-100k-snap/invoke"
  note "deploying 100 copies of the oracle"
  "$PY" $TOOL multi "$url" "$TOKEN" 100 samples/median-oracle.js "$TMP/paths-all.txt"
  for n in 1 10 100; do
    head -n "$n" "$TMP/paths-all.txt" >"$TMP/paths-$n.txt"
    local label="$n function"
    [ "$n" -gt 1 ] && label="$n functions"
    growth_case "rr-$n" "$label, round robin" "$url/v1/functions/rr-0/invoke" "$TMP/paths-$n.txt"
  done
}

measure fnbox
case "${STATUS[fnbox]}" in measured*) ;; *) die "fnbox: ${STATUS[fnbox]}" ;; esac
# a failed snapshot row is fatal too, but after the report (the process row's is still useful)
: "${STATUS[fnbox-snapshot]:=not measured}"
for p in "${PEERS[@]}"; do
  [ -n "${STATUS[$p]:-}" ] || measure "$p"
done

for p in fnbox fnbox-snapshot "${PEERS[@]}"; do
  printf '%s\t%s\t%s\n' "$p" "${LABEL[$p]}" "${STATUS[$p]}" >>"$TMP/status.tsv"
done
conns_json=$(IFS=,; echo "${CONNS[*]}")
gconns_json=$(IFS=,; echo "${GROWTH_CONNS[*]}")
cat >"$TMP/meta.json" <<EOF
{"cores": $(nproc), "seconds": $SECS, "spawn_seconds": $SPAWN_SECS, "conns": [$conns_json],
 "growth_conns": [$gconns_json], "cold_n": $COLD_N, "d2r_n": $D2R_N, "d2r_row_n": $D2R_ROW_N,
 "max_workers": $WORKERS, "load_before": "$load_before",
 "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF
echo
echo "versions: $versions"
"$PY" $TOOL report "$TMP" | tee "$TMP/report.txt"
fnbox_bad=0
for f in "$TMP"/wrk-fnbox-c*.txt "$TMP"/wrk-fnbox-snapshot-c*.txt "$TMP"/wrk-size-*.txt \
  "$TMP"/wrk-rr-*.txt; do
  [ -f "$f" ] || continue
  n=$(sed -n 's/^BENCH .*non2xx=\([0-9]*\).*/\1/p' "$f")
  [ "${n:-1}" = 0 ] || fnbox_bad=1
done
[ "$fnbox_bad" = 0 ] || die "fnbox answered non-2xx (or wrk gave no result) in some run"
case "${STATUS[fnbox-snapshot]}" in
  measured*) ;; *) die "fnbox snapshot: ${STATUS[fnbox-snapshot]}" ;;
esac
