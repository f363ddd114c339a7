#!/usr/bin/env bash
# keydird against malformed HTTP (tests/integration/hostile_http.py).
#   hostile_http_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: hostile_http_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
ulimit -n 4096 2>/dev/null || true
"$B/keydird" serve --listen 127.0.0.1:0 --data "$T/data" >"$T/server.log" 2>&1 &
PID=$!
# A server that ignores SIGTERM (a worker stuck) must not hang the test.
stop() {
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$T"
}
trap stop EXIT
for _ in $(seq 50); do grep -q serving "$T/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/server.log")
rc=0
timeout 300 python3 "$HERE/hostile_http.py" "$PORT" "$PID" || rc=$?
kill -0 "$PID" || { echo "FAIL  keydird died"; tail -n 20 "$T/server.log"; exit 1; }
[ "$rc" -eq 0 ] || tail -n 20 "$T/server.log"
exit "$rc"
