#!/usr/bin/env bash
# Crash consistency under uploads: keydird serve takes a stream of uploads and
# is killed with SIGKILL at random moments, 20 times, and restarted. After each
# restart `keydird check` passes and every upload that was acknowledged (a 200
# naming the key) is stored.   crash_upload_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: crash_upload_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
SPID=""
UPID=""
cleanup() {
  [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
  [ -n "$UPID" ] && kill "$UPID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/gen_certs" --count 50000 --seed 77 --v6-every 9 --out "$T/certs.pgp"
start() {
  "$B/keydird" serve --listen "127.0.0.1:$PORT" --data "$T/data" --add-rate 0 \
    --access-log off >>"$T/server.log" 2>&1 &
  SPID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return; sleep 0.05; done
  echo "server did not start"; tail "$T/server.log"; exit 1
}
start
touch "$T/acked"
python3 "$HERE/crash_upload.py" "http://127.0.0.1:$PORT" "$T/certs.pgp" "$T/acked" &
UPID=$!
for round in $(seq 20); do
  sleep "0.$((RANDOM % 5 + 2))"
  kill -9 "$SPID"
  wait "$SPID" 2>/dev/null || true
  SPID=""
  acked=$(grep -c . "$T/acked" || true)
  if ! "$B/keydird" check --data "$T/data" --expect "$T/acked" >"$T/check.out" 2>&1; then
    cat "$T/check.out"
    echo "FAIL  round $round: the store is not consistent or lost an acknowledged upload"
    exit 1
  fi
  echo "ok    kill $round: consistent, all $acked acknowledged uploads present"
  start
done
kill "$UPID" 2>/dev/null || true
wait "$UPID" 2>/dev/null || true
UPID=""
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true
SPID=""
"$B/keydird" check --data "$T/data" --expect "$T/acked" >/dev/null
echo "all crash checks passed ($(grep -c . "$T/acked") acknowledged uploads, 20 kills)"
