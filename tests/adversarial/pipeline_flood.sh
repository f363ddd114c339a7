#!/usr/bin/env bash
# Clients that pipeline without pause. Pistache reads a connection until its
# socket is empty before it serves another connection of the same worker,
# and keydird answers every pipelined request in order: four clients that
# send HEAD misses in batches as fast as they can, and read their answers so
# that they are never cut for not reading, kept every worker to themselves
# and a fresh client waited for ever. keydird closes a connection after
# 1,000 requests (its last answer says Connection: Close), as nginx does: a
# flooding client must reconnect, and other clients are served between.
# Its side shut, keydird reads and drops what the client still sends until
# the client has every answer: a reset would drop answers not yet sent.
#   pipeline_flood.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_keydird srv --threads 2

attack "four connections pipelining HEAD misses without pause, reading their answers"
out=$(python3 "$HERE/pipeline_flood.py" "$PORT" 4 6)
answered "flood" "$out"
read -r _ worst victim <<<"$(grep '^victim' <<<"$out")"
check "a fresh client is answered every time meanwhile ($victim)" yes \
  "$(awk -v v="$victim" 'BEGIN { split(v, a, "/"); print (a[1] == a[2] && a[2] > 0) ? "yes" : "no" }')"
check "within 2 s each (worst ${worst} s)" yes "$(awk -v w="$worst" 'BEGIN { print (w < 2) ? "yes" : "no" }')"
check "each of the four flooding connections is closed after 1,000 answers" yes \
  "$(grep '^flood' <<<"$out" | awk '{ ok = NF == 5; for (i = 2; i <= NF; i++) if ($i != 1000) ok = 0; print ok ? "yes" : "no" }')"
check "its last answer says Connection: Close" "last_close yes" "$(grep '^last_close' <<<"$out")"

attack "one connection pipelining 6,000 requests at once, reading only a second later"
out=$(python3 "$HERE/close_after_pipeline.py" "$PORT" late 175000)
answered "1,000 + 5,000 HEAD misses, 4 KiB receive buffer" "$out"
check "the client gets all 1,000 answers of its connection, the last saying Connection: Close" \
  "answers 1000 last_close yes" "$out"
out=$(python3 "$HERE/close_after_pipeline.py" "$PORT" late 3000000)
answered "1,000 HEAD misses and 3 MB more, 4 KiB receive buffer" "$out"
check "past 1 MiB of dropped input too: all 1,000 answers, the last saying Connection: Close" \
  "answers 1000 last_close yes" "$out"

attack "50 such connections that never read their answers"
out=$(python3 "$HERE/close_after_pipeline.py" "$PORT" silent 50 "$SERVER_PID")
answered "keydird's descriptors before, with them open, after; seconds" "$out"
read -r _ before during after secs <<<"$out"
check "they held descriptors (the test sees them)" yes "$([ "$during" -ge $((before + 40)) ] && echo yes || echo no)"
check "keydird lets them go (2 s after their last answers are written; took ${secs} s)" yes \
  "$([ "$after" -le $((before + 2)) ] && echo yes || echo no)"

check "keydird still serves" 200 "$(http_status "$U/healthz")"

finish
