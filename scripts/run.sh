#!/usr/bin/env bash
# Runs a development fnboxd in the foreground (called by `make run` after building).
#
#   FNBOX_LISTEN  address to listen on        (default 127.0.0.1:8080)
#   FNBOX_DATA    data directory              (default ./var/fnbox, relative to the repo)
#   FNBOX_BIN     daemon executable           (default build/fnboxd)
#   extra arguments are passed on to fnboxd, e.g. scripts/run.sh --max-workers 4
#
# Starts fnboxd, waits until /healthz answers, prints the commands that deploy and invoke
# samples/hello.js, then stays in the foreground until Ctrl-C (or SIGTERM), which stops
# fnboxd. Works as root (workers run as --worker-uid) and as an ordinary user.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
LISTEN=${FNBOX_LISTEN:-127.0.0.1:8080}
DATA=${FNBOX_DATA:-./var/fnbox}
BIN=${FNBOX_BIN:-build/fnboxd}

die() { echo "run: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN is missing: build it with \`make\` (or use \`make run\`)"

# The address clients use: a wildcard listen address is reached through loopback.
host=${LISTEN%:*}
port=${LISTEN##*:}
case "$host" in
  0.0.0.0 | "") host=127.0.0.1 ;;
  "[::]") host="[::1]" ;;
esac
URL="http://$host:$port"

# Absolute data path for the printed commands (the directory may not exist yet).
case "$DATA" in
  /*) DATA_ABS=$DATA ;;
  *) DATA_ABS="$REPO/${DATA#./}" ;;
esac
mkdir -p "$(dirname "$DATA_ABS")"

http_ok() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null
  else
    /usr/bin/python3 -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null
  fi
}

if http_ok "$URL/healthz"; then
  die "something already answers on $URL; stop it or set FNBOX_LISTEN=127.0.0.1:PORT"
fi

echo "run: starting $BIN --listen $LISTEN --data $DATA $*" >&2
"$BIN" --listen "$LISTEN" --data "$DATA" "$@" &
pid=$!

# A non-interactive shell starts background jobs with SIGINT ignored, so forward Ctrl-C
# and SIGTERM to fnboxd ourselves; then wait for it to exit.
stopping=0
# shellcheck disable=SC2317  # invoked by the trap below
stop() {
  if [ "$stopping" -eq 0 ]; then
    stopping=1
    echo >&2
    echo "run: stopping fnboxd (pid $pid); Ctrl-C again to kill it" >&2
    kill -TERM "$pid" 2>/dev/null || true
  else
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
trap stop INT TERM

ready=0
for _ in $(seq 1 150); do  # up to 15 s
  if ! kill -0 "$pid" 2>/dev/null; then
    set +e; wait "$pid"; rc=$?; set -e
    die "fnboxd exited with status $rc before it was ready (see its messages above)"
  fi
  if http_ok "$URL/healthz"; then ready=1; break; fi
  sleep 0.1
done
if [ "$ready" -ne 1 ]; then
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  die "fnboxd did not answer $URL/healthz within 15 s"
fi

TOKEN_FILE="$DATA_ABS/admin.token"
[ -r "$TOKEN_FILE" ] || echo "run: warning: $TOKEN_FILE is not readable" >&2

cat <<EOF

fnboxd is serving on $URL (data in $DATA_ABS, pid $pid). Ctrl-C stops it.

In another terminal, from $REPO:

  # the admin token written at first start
  TOKEN=\$(cat $TOKEN_FILE)

  # deploy samples/hello.js as the function "hello"
  /usr/bin/python3 -c 'import json,sys; print(json.dumps({"code": open(sys.argv[1]).read()}))' samples/hello.js \\
    | curl -sS -X PUT -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
        --data-binary @- $URL/v1/functions/hello

  # invoke it
  curl -sS -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"name":"Ada"}' $URL/v1/functions/hello/invoke

  # or the same with the CLI
  export FNBOX_URL=$URL FNBOX_TOKEN_FILE=$TOKEN_FILE
  build/fnbox deploy samples/hello.js --name hello
  build/fnbox invoke hello '{"name":"Ada"}'

See README.md for developer tokens and docs/ for the API.

EOF

# Stay in the foreground until fnboxd exits. A trapped signal interrupts `wait` (status
# above 128) without reaping fnboxd, so wait again for its own exit status.
set +e
wait "$pid"
rc=$?
while [ "$stopping" -eq 1 ] && [ "$rc" -gt 128 ]; do
  wait "$pid"  # bash keeps the status of a reaped child, so this cannot hang
  rc2=$?
  [ "$rc2" -eq "$rc" ] && break
  rc=$rc2
done
set -e
echo "run: fnboxd exited with status $rc" >&2
exit "$rc"
