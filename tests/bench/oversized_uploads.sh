#!/usr/bin/env bash
# Lookups under a flood of oversized uploads (issue #16 item 5): wrk on one
# op=get lookup for DURATION, first alone, then while waves of 50 concurrent
# 30 MB POST /pks/add (tests/adversarial/bodies.py) run back to back.
#   tests/bench/oversized_uploads.sh BUILD_DIR [DURATION_SECONDS] [KEYDIRD]
# KEYDIRD: another keydird binary to measure (e.g. an older build).
set -euo pipefail
B=$(cd "${1:?usage: oversized_uploads.sh BUILD_DIR [SECONDS] [KEYDIRD]}" && pwd)
SECS=${2:-10}
KEYDIRD=${3:-$B/keydird}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=$HERE/../data
command -v wrk >/dev/null || { echo "oversized_uploads: wrk is missing" >&2; exit 1; }
T=$(mktemp -d)
ulimit -n 4096 2>/dev/null || true
"$KEYDIRD" serve --listen 127.0.0.1:0 --data "$T/d" --add-rate 0 --access-log off >"$T/log" 2>&1 &
PID=$!
FLOOD=""
trap 'kill $FLOOD 2>/dev/null || true; kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 100); do grep -q serving "$T/log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/log")
U=http://127.0.0.1:$PORT
curl -s -o /dev/null --data-urlencode "keytext@$DATA/gpg-ed25519.asc" "$U/pks/add"
P="/pks/lookup?op=get&options=mr&search=0x67CF1313E65F6635FA4F0978D77690A8A4055BFC"
rate() { wrk -t2 -c32 -d"${SECS}s" "$U$P" | awk '/Requests\/sec/ {print $2}'; }

alone=$(rate)
# Waves of 50 uploads for as long as wrk runs (bounded: SECS*20 waves at most).
(
  end=$((SECONDS + SECS + 2))
  for _ in $(seq $((SECS * 20))); do
    [ "$SECONDS" -lt "$end" ] || break
    kill -0 "$PID" 2>/dev/null || break
    python3 "$HERE/../adversarial/bodies.py" "$PORT" flood 50 30000000 "$P" >>"$T/waves" || true
  done
) &
FLOOD=$!
sleep 1
under=$(rate)
wait "$FLOOD" 2>/dev/null || true
FLOOD=""
waves=$(grep -c '^statuses' "$T/waves" || true)
slowest=$(awk '/^slowest/ {if ($2 > m) m = $2} END {print m + 0}' "$T/waves")
statuses=$(awk '/^statuses/ {for (i = 2; i <= NF; i++) {split($i, a, ":"); n[a[1]] += a[2]}} END {for (k in n) printf "%s:%d ", k, n[k]}' "$T/waves")
echo "keydird: $KEYDIRD"
echo "lookups alone:                    $alone req/s (wrk -t2 -c32 -d${SECS}s)"
echo "lookups during 30 MB upload waves: $under req/s ($waves waves of 50 uploads; statuses $statuses; slowest answer $slowest s)"
