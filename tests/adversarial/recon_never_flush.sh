#!/usr/bin/env bash
# Issue #16 item 5, the never-flushing recon peer: a reconciliation partner
# (or anyone who can spoof its address) answers keydird's gossip connection
# with tiny ReconRqstFull messages for the root, never followed by a Flush,
# so that keydird queues every element of its store once per 17-octet
# request (measured before the fix: RSS 48 MB -> 720 MB in 24 s with 60
# keys). keydird must end the session with a logged reason and its memory
# must stay flat. The partner is tests/adversarial/fake_recon_peer.py.
#   recon_never_flush.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

"$TOOLS/gen_certs" --count 60 --seed 16 --out "$T/keys.pgp" >/dev/null
"$B/keydird" import --data "$T/srv" "$T/keys.pgp" >/dev/null 2>&1

python3 "$HERE/fake_recon_peer.py" "$T/peer.port" 2 10 >"$T/peer.out" 2>&1 &
PIDS+=($!)
PEER_PID=$!
wait_for test -s "$T/peer.port" || { cat "$T/peer.out"; echo "the fake peer did not start"; exit 1; }
RPORT=$(cat "$T/peer.port")

start_keydird srv --peer "127.0.0.1:$RPORT:1" --gossip-interval 1
before=$(rss_kb "$SERVER_PID")

attack "ReconRqstFull for the root in a loop, never a Flush (2 sessions, 10 s each at most)"
peak=$before
# peer_done: samples keydird's RSS (the peak), true once the peer has ended.
peer_done() {
  local now
  now=$(rss_kb "$SERVER_PID")
  [ "$now" -gt "$peak" ] && peak=$now
  ! kill -0 "$PEER_PID" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$PEER_PID/stat" 2>/dev/null)" = Z ]
}
wait_until 30 peer_done || true  # a sample every 0.1 s while the peer runs
stop_pid "$PEER_PID"
after=$(rss_kb "$SERVER_PID")
while read -r line; do answered "fake peer" "$line"; done <"$T/peer.out"
reason=$(grep -m1 "recon gossip with 127.0.0.1:$RPORT" "$T/srv.log" | sed 's/^.*\] //' || true)
answered "keydird log" "$reason"
answered "keydird RSS" "$((before / 1024)) MB before, peak $((peak / 1024)) MB, $((after / 1024)) MB after"

check "keydird ended every session itself" "2" "$(grep -c 'closed by keydird' "$T/peer.out" || true)"
check "the reason is logged" yes \
  "$(echo "$reason" | grep -q 'requests without a Flush' && echo yes || echo no)"
# An ASan build keeps freed memory in quarantine and its shadow grows with
# every allocation: a looser bound there, still far below the unbounded queue
# (hundreds of MB).
limit=50
grep -q __asan_init "$B/keydird" && limit=200
check "RSS grew less than $limit MB (peak $((peak / 1024)) MB, started at $((before / 1024)) MB)" yes \
  "$([ $((peak - before)) -lt $((limit * 1024)) ] && echo yes || echo no)"
check "keydird still serves lookups" 200 "$(http_status "$U/healthz")"

finish
