#!/usr/bin/env bash
# Issue #16 item 5, oversized and slow bodies: an anonymous client makes the
# server read, buffer and parse more than any upload can be, or holds a
# request open by sending its body slowly. keydird refuses a body announced
# larger than the limit before reading it (413, connection closed), cuts a
# chunked body at the limit, answers a request not complete within
# --request-timeout with 408, answers 50 concurrent 30 MB uploads at once
# while lookups go on, and exits promptly on SIGTERM in the middle of them.
# (tests/bench/oversized_uploads.sh measures the lookup rate meanwhile.)
#   oversized_slow_bodies.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY="python3 $HERE/bodies.py"
ulimit -n 4096 2>/dev/null || true
MB30=$((30 * 1000 * 1000))
# yes/no: is $1 (seconds, or "none") below $2?
under() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "none" && a + 0 < b + 0) ? "yes" : "no" }'; }

start_keydird srv --request-timeout 3 --add-rate 0
FPR=67CF1313E65F6635FA4F0978D77690A8A4055BFC
check "a key to look up is stored" 200 \
  "$(http_status "$U/pks/add" --data-urlencode "keytext@$DATA/gpg-ed25519.asc")"
LOOKUP="/pks/lookup?op=get&options=mr&search=0x$FPR"

attack "POST /pks/add with Content-Length: 30 MB, body streamed"
read -r st at closed sent <<<"$($PY "$PORT" one "$MB30" cl)"
answered "30 MB (Content-Length)" "$st after $at s, connection $closed, $sent octets sent"
check "30 MB with Content-Length: 413" 413 "$st"
check "30 MB with Content-Length: answered within 1 s ($at s)" yes "$(under "$at" 1)"
check "30 MB with Content-Length: connection closed" closed "$closed"
check "30 MB with Content-Length: most of the body never read" yes \
  "$([ "$sent" -lt $((MB30 / 2)) ] && echo yes || echo no)"
# The access log is flushed every second: wait for the line.
wait_for grep -q 'POST /pks/add 413' "$T/srv.log" || true
answered "access log" "$(grep -m1 'POST /pks/add 413' "$T/srv.log" | cut -c27-)"

attack "POST /pks/add with a chunked body of 30 MB"
read -r st at closed sent <<<"$($PY "$PORT" one "$MB30" chunked)"
answered "30 MB (chunked)" "$st after $at s, connection $closed, $sent octets sent"
check "30 MB chunked: cut at the limit with 413" 413 "$st"
check "30 MB chunked: answered within 1 s ($at s)" yes "$(under "$at" 1)"
check "30 MB chunked: connection closed" closed "$closed"

attack "POST /pks/add with 6 MiB of 1-octet chunks (36 MiB on the wire)"
# Only the chunk data used to count: Pistache's buffer overflowed first, it
# answered its own 413 on an open connection and parsed the rest of the body
# as new requests (smuggling). The wire octets count now, framing included.
read -r st at closed sent answers <<<"$($PY "$PORT" framing $((6 << 20)))"
answered "1-octet chunks" "$st after $at s, connection $closed, $sent octets sent, $answers answer(s)"
check "1-octet chunks: cut at the limit with 413" 413 "$st"
check "1-octet chunks: one answer only (nothing parsed as a new request)" 1 "$answers"
check "1-octet chunks: connection closed" closed "$closed"
check "1-octet chunks: answered within 2 s ($at s)" yes "$(under "$at" 2)"

attack "a chunk size past the limit (ffffffff) before any data"
st=$(python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"POST /pks/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n")
print(s.recv(200).split(b"\r\n")[0].decode())
EOF
)
answered "chunk of 4 GiB announced" "$st"
check "a 4 GiB chunk is refused before any data: 413" yes \
  "$(echo "$st" | grep -q ' 413 ' && echo yes || echo no)"

attack "a body dribbled at one octet a second (--request-timeout 3)"
read -r st secs <<<"$($PY "$PORT" slow 15)"
answered "slow body" "$st after $secs s"
check "slow body: 408" 408 "$st"
check "slow body: answered at the deadline, 3-6 s ($secs s)" yes \
  "$(awk -v s="$secs" 'BEGIN { print (s >= 2.5 && s < 6.5) ? "yes" : "no" }')"

attack "50 concurrent 30 MB uploads while a lookup loop runs"
$PY "$PORT" flood 50 "$MB30" "$LOOKUP" >"$T/flood.out"
answered "50 uploads" "$(tr '\n' ' ' <"$T/flood.out")"
check "50 uploads: every one 413" "statuses 413:50" "$(grep '^statuses' "$T/flood.out")"
slowest=$(awk '/^slowest/ {print $2}' "$T/flood.out")
check "50 uploads: each answered within 1 s (slowest $slowest s)" yes "$(under "$slowest" 1)"
check "lookups kept succeeding during the uploads" yes \
  "$(awk '/^lookups_during/ {print ($2 > 0) ? "yes" : "no"}' "$T/flood.out")"
check "no lookup failed" "lookups_failed 0" "$(grep '^lookups_failed' "$T/flood.out")"
check "the server still answers" 200 "$(http_status "$U$LOOKUP")"

attack "SIGTERM in the middle of 50 concurrent 30 MB uploads"
$PY "$PORT" flood 50 "$MB30" "$LOOKUP" "$SERVER_PID" >"$T/term.out"
exit_after=$(awk '/^exit_after/ {print $2}' "$T/term.out")
answered "SIGTERM" "exited after $exit_after s"
check "SIGTERM during the uploads: exit within 3 s ($exit_after s)" yes "$(under "$exit_after" 3)"
stop_pid "$SERVER_PID"  # SIGTERM was sent by bodies.py: this only waits (SIGKILL after 10 s)
check "keydird stopped cleanly" yes "$(grep -q 'keydird: stopped' "$T/srv.log" && echo yes || echo no)"

finish
