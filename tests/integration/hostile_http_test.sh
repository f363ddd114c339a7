#!/usr/bin/env bash
# keydird against malformed HTTP (tests/integration/hostile_http.py).
#   hostile_http_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: hostile_http_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
ulimit -n 4096 2>/dev/null || true
start_keydird server --data "$T/data"
PID=$SERVER_PID
# A server that ignores SIGTERM (a worker stuck) must not hang the test:
# SIGKILL after 5 s.
CLEANUP+=('stop_pid "$PID" 5')
rc=0
timeout 300 python3 "$HERE/hostile_http.py" "$PORT" "$PID" || rc=$?
kill -0 "$PID" || { echo "FAIL  keydird died"; tail -n 20 "$T/server.log"; exit 1; }
[ "$rc" -eq 0 ] || tail -n 20 "$T/server.log"
exit "$rc"
