#!/usr/bin/env bash
# Crash consistency under uploads: keydird serve takes a stream of uploads and
# is killed with SIGKILL at random moments, 20 times, and restarted. After each
# restart `keydird check` passes and every upload that was acknowledged (a 200
# naming the key) is stored.   crash_upload_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: crash_upload_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
SPID=""
# The uploader keeps one URL: every restart listens on the same port.
LISTEN=127.0.0.1:$(free_port)
"$B/gen_certs" --count 50000 --seed 77 --v6-every 9 --out "$T/certs.pgp"
start() {
  APPEND_LOG=1 start_keydird server --data "$T/data" --add-rate 0 --access-log off
  SPID=$SERVER_PID
}
start
touch "$T/acked"
python3 "$HERE/crash_upload.py" "$U" "$T/certs.pgp" "$T/acked" &
UPID=$!
PIDS+=("$UPID")
for round in $(seq 20); do
  # SIGKILL at a random moment (0.2 s to 0.6 s into the uploads) is the
  # point of the test: no condition to wait for, so this sleep stays.
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
stop_pid "$UPID"
stop_pid "$SPID"
"$B/keydird" check --data "$T/data" --expect "$T/acked" >/dev/null
echo "all crash checks passed ($(grep -c . "$T/acked") acknowledged uploads, 20 kills)"
