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
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do grep -q serving "$T/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/server.log")
rc=0
timeout 300 python3 "$HERE/hostile_http.py" "$PORT" || rc=$?
kill -0 "$PID" || { echo "FAIL  keydird died"; tail -n 20 "$T/server.log"; exit 1; }
[ "$rc" -eq 0 ] || tail -n 20 "$T/server.log"
exit "$rc"
