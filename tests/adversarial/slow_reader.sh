#!/usr/bin/env bash
# A client that asks and does not read. keydird writes an answer on the
# socket at once when the socket takes it whole, and queues what it does not
# take; every later answer on that connection goes behind the queue. The
# attacker keeps one connection open with a tiny receive window, sends one
# request after another (not pipelined: each after a pause) without reading,
# until its answers fill the server's socket buffer, then reads them all.
# Every answer must arrive whole and in the order asked (a direct write that
# overtook the queue would interleave them), and meanwhile other clients are
# served as usual. Also checked: an answer to HEAD carries the length of the
# body GET would have (RFC 9110 §9.3.2), and no body, even when keydird
# refuses the request itself; a keep-alive connection left idle gets nothing
# unasked before --idle-timeout.
#   slow_reader.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_keydird srv --add-rate 0
BIG=$DATA/sq-rsa4k.asc
check "a large key is stored" 200 "$(http_status "$U/pks/add" --data-urlencode "keytext@$BIG")"
FPR=$("$B/keydir" inspect --json "$BIG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])')
GET="/pks/lookup?op=get&options=mr&search=0x$FPR"
MISS="/pks/lookup?op=get&options=mr&search=0x0123456789ABCDEF0123456789ABCDEF01234567"
curl -s -o "$T/get.body" "$U$GET"
GET_LEN=$(stat -c %s "$T/get.body")
check "the key's answer is larger than the attacker's window (${GET_LEN} octets)" yes \
  "$([ "$GET_LEN" -gt 4096 ] && echo yes || echo no)"

attack "one connection, a tiny receive window, requests asked one at a time, nothing read"
# It asks until a quarter of a MiB of its answers waits in keydird's queue
# (what the kernel does not hold: ss shows the rest), 3,000 requests at most.
python3 "$HERE/slow_reader.py" "$PORT" "$GET" "$MISS" 3000 "$T/go" >"$T/reader.out" 2>&1 &
READER=$!
wait_until 120 grep -q '^sent' "$T/reader.out"
answered "the attacker" "$(head -1 "$T/reader.out")"
read -r _ asked _ queued <<<"$(head -1 "$T/reader.out")"
check "some of its answers waited in keydird's queue" yes \
  "$([ "${queued:-0}" -gt 262144 ] && echo yes || echo no)"
# Its answers wait: others are served meanwhile.
check "another client's lookup while the answers wait" 200 "$(http_status "$U$GET" --max-time 5)"
check "another client's miss while the answers wait" 404 "$(http_status "$U$MISS" --max-time 5)"
touch "$T/go"
wait "$READER" || true
answered "the attacker reads" "$(tail -1 "$T/reader.out")"
read -r verdict n _ <<<"$(tail -1 "$T/reader.out")"
check "every answer arrived whole and in the order asked" "answers ${asked:-?}" "$verdict $n"

attack "the same, asking on and on: what waits for it stays bounded"
python3 "$HERE/slow_reader.py" "$PORT" "$GET" "$MISS" flood "$T/go" >"$T/flood.out" 2>&1 || true
answered "the flood" "$(cat "$T/flood.out")"
check "a connection that asks on without reading is cut" cut "$(cut -d' ' -f1 "$T/flood.out")"
wait_for grep -q "does not read its answers" "$T/srv.log" || true
check "the cut is logged" yes "$(grep -q 'does not read its answers' "$T/srv.log" && echo yes || echo no)"
check "the server still answers" 200 "$(http_status "$U$GET" --max-time 5)"

attack "HEAD: the length GET would have, no body"
python3 "$HERE/slow_reader.py" "$PORT" "$GET" "$MISS" head "$T/go" >"$T/head.out"
answered "HEAD" "$(head -c 300 "$T/head.out")"
check "HEAD: Content-Length is that of the GET answer" "$GET_LEN" \
  "$(tr -d '\r' <"$T/head.out" | sed -n 's/^Content-Length: //p')"
check "HEAD: no body" yes "$(tr -d '\r' <"$T/head.out" | awk 'f {exit 1} /^$/ {f=1}' && echo yes || echo no)"

attack "HEAD of a request keydird refuses itself, then a GET on the same connection"
python3 "$HERE/slow_reader.py" "$PORT" "$GET" "$MISS" head-refused "" >"$T/head2.out"
answered "HEAD, malformed query" "$(cat "$T/head2.out")"
check "the refusal has no body: the next answer follows it" "HTTP/1.1 400 Bad Request | HTTP/1.1 404" \
  "$(cat "$T/head2.out")"

attack "a keep-alive connection left idle for 12 s (under --idle-timeout)"
# Pistache's own check would answer a connection it believes busy with an
# unasked 408 after 10 s and close it.
python3 "$HERE/slow_reader.py" "$PORT" "$GET" "$MISS" idle 12 >"$T/idle.out" 2>&1 || true
answered "the idle connection" "$(cat "$T/idle.out")"
check "nothing unasked, and it still answers" "quiet 200 404" "$(cat "$T/idle.out")"

finish
