#!/usr/bin/env bash
# SKS reconciliation peering as keydird now does it, attacked from the
# outside: the sks/hashquery media type on the HTTP side (a lenient path
# re-parses a copy of the header block when Pistache cannot parse the
# Content-Type), the --recon-filters / --peer / [[peer]] options, and a
# hostile or misconfigured partner whose Config announces other filters,
# huge filters, or filters with control characters, and that reconnects
# with a new filters string every time. The partner is
# tests/adversarial/fake_filters_peer.py.
#   recon_peer_policy.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PEER="$HERE/fake_filters_peer.py"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
yes_no() { if "$@"; then echo yes; else echo no; fi; }

# raw PORT PART...: the PARTs (bodies of Python bytes literals) written to one
# connection, 0.3 s apart; prints one line per answer: the status code and
# the body, escaped, and "closed" when keydird closes the connection. Waits
# 2 s for answers that do not come.
cat >"$T/raw.py" <<'EOF'
import ast, socket, sys, time
port = int(sys.argv[1])
parts = [ast.literal_eval("b'''" + a + "'''") for a in sys.argv[2:]]
c = socket.create_connection(("127.0.0.1", port))
c.settimeout(2)
for i, p in enumerate(parts):
    if i:
        time.sleep(0.3)
    c.sendall(p)
buf = b""
try:
    while True:
        d = c.recv(65536)
        if not d:
            print("closed", flush=True)
            break
        buf += d
        while b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if len(rest) < n:
                break
            code = head.split(b" ")[1].decode()
            print(code, rest[:n].decode("latin1").encode("unicode_escape").decode(), flush=True)
            buf = rest[n:]
except (socket.timeout, ConnectionError):
    pass
EOF
raw() { python3 "$T/raw.py" "$@" 2>&1 || true; }

# A configured peer at 127.0.0.1 (nothing listens on its ports; gossip off:
# keydird only answers) announced the Hockeypuck 2.3 list, and 100 more
# loopback addresses allowed, to fill the per-address state.
DEAD=$(free_port)
allow=()
for i in $(seq 10 109); do allow+=(--recon-allow "127.0.0.$i"); done
start_keydird srv --recon-listen 127.0.0.1:0 --gossip-interval 0 \
  --peer "127.0.0.1:$DEAD:$DEAD filters=hockeypuck-2.3" "${allow[@]}"
RPORT=$(sed -n 's/^keydird: recon on .*:\([0-9]*\)$/\1/p' "$T/srv.log")
NAME="127.0.0.1:$DEAD"
HP_LIST="drop:UAT,drop:hardRevokedCruft,drop:implausible,drop:invalidSelfSig,drop:structuralMartian,drop:unbound,drop:unparseable,schema:application/pgp-keys,versions:34,yminsky.dedup,yminsky.merge"
status_json() { "$B/keydird" recon status --data "$T/srv" --json; }
# peer_field NAME FIELD: one field of one peer in `recon status --json`.
peer_field() {
  status_json | python3 -c 'import json,sys
for p in json.load(sys.stdin)["peers"]:
    if p["peer"] == sys.argv[1]: print(p.get(sys.argv[2]))' "$1" "$2"
}

# ---------------------------------------------------------------- HTTP side
attack "POST /pks/hashquery with Content-Type: sks/hashquery (what SKS and Hockeypuck send)"
printf '\0\0\0\0' >"$T/empty.hq"
code=$(http_status "$U/pks/hashquery" -X POST -H 'Content-Type: sks/hashquery' --data-binary @"$T/empty.hq")
answered "empty hashquery" "$code"
check "an empty hashquery with Content-Type sks/hashquery is answered 200" 200 "$code"
# One unknown 16-octet hash: count 1, length 16, hash. A body read from the
# wrong place (the lenient parser's cursor off by a few octets) fails to
# decode and gets a 400; read right, the answer is "no keys" (count 0).
a=$(raw "$PORT" 'POST /pks/hashquery HTTP/1.1\r\nHost: k\r\nContent-Type: sks/hashquery\r\nContent-Length: 24\r\n\r\n\x00\x00\x00\x01\x00\x00\x00\x10AAAAAAAAAAAAAAAA')
answered "one unknown hash" "$a"
check "a one-hash hashquery is read from the first octet of its body (200, no keys)" \
  '200 \x00\x00\x00\x00\r\n' "$a"

attack "an unknown Content-Type of 300 octets"
long="sks/$(head -c 300 /dev/zero | tr '\0' x)"
a=$(raw "$PORT" "POST /pks/hashquery HTTP/1.1\r\nHost: k\r\nContent-Type: $long\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00")
answered "300-octet Content-Type" "$a"
check "a field value is only a value: the hashquery is answered" '200 \x00\x00\x00\x00\r\n' "$(echo "$a" | sed -n 1p)"
check "keydird still serves" 200 "$(http_status "$U/healthz")"

attack "a repeated Content-Type"
a=$(raw "$PORT" "POST /pks/hashquery HTTP/1.1\r\nHost: k\r\nContent-Type: sks/hashquery\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00")
answered "two Content-Type fields" "$a"
check "it is refused with 400 and a one-line reason" \
  "400 repeated header field (Content-Type)\n" "$(echo "$a" | sed -n 1p)"
check "and the connection is closed" closed "$(echo "$a" | sed -n 2p)"

attack "an sks/hashquery Content-Type, then a second request pipelined in the same write"
a=$(raw "$PORT" 'POST /pks/hashquery HTTP/1.1\r\nHost: k\r\nContent-Type: sks/hashquery\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00GET /pks/lookup?op=stats HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n')
answered "hashquery + stats in one write" "$a"
check "the hashquery is answered" '200 \x00\x00\x00\x00\r\n' "$(echo "$a" | sed -n 1p)"
check "then the pipelined stats request, in order (RFC 9112 9.3.2)" 200 \
  "$(echo "$a" | sed -n 2p | cut -d' ' -f1)"
check "then the connection closes, as that request asked" closed "$(echo "$a" | sed -n 3p)"

attack "the header block in two TCP writes, the sks/hashquery field complete in the first"
a=$(raw "$PORT" 'POST /pks/hashquery HTTP/1.1\r\nHost: k\r\nContent-Type: sks/hashquery\r\n' 'Content-Length: 4\r\n\r\n\x00\x00\x00\x00')
answered "split header block" "$a"
check "a header block split after the Content-Type field is answered 200" 200 "$(echo "$a" | cut -d' ' -f1)"

attack "an unparseable Content-Type on a key upload (/pks/add)"
for ct in 'sks/hashquery' ';;;' 'text/plain; charset="'; do
  a=$(raw "$PORT" "POST /pks/add HTTP/1.1\r\nHost: k\r\nContent-Type: $ct\r\nContent-Length: 10\r\n\r\nkeytext=ab")
  answered "Content-Type: $ct" "$a"
  check "Content-Type [$ct] on /pks/add: 415 with a reason" "415 yes" \
    "$(echo "$a" | cut -d' ' -f1) $(yes_no grep -q 'keytext' <<<"$a")"
done
check "keydird still serves" 200 "$(http_status "$U/healthz")"

# ----------------------------------------------------------------- options
attack "options naming filters keydird does not apply, or contradicting its policy"
# serve_fails NAME ARGS...: keydird serve with ARGS on a fresh folder (3 s at
# most); its exit code in rc, what it said in $T/opt-NAME.out.
serve_fails() {
  local name=$1
  shift
  rc=0
  timeout 3 "$B/keydird" serve --listen 127.0.0.1:0 --data "$T/opt-$name" "$@" >"$T/opt-$name.out" 2>&1 || rc=$?
  answered "$(printf "%s " "$@" | cat -v)" "exit $rc: $(head -n 3 "$T/opt-$name.out" | cat -v)"
}
serve_fails everything --recon-listen 127.0.0.1:0 --recon-filters drop:everything
check "--recon-filters drop:everything: exit 2 naming the term" "2 yes" \
  "$rc $(yes_no grep -q '"drop:everything"' "$T/opt-everything.out")"
serve_fails profile --recon-listen 127.0.0.1:0 --recon-filters hockeypuck-9
check "--recon-filters hockeypuck-9: exit 2, unknown filter profile" "2 yes" \
  "$rc $(yes_no grep -q 'unknown filter profile "hockeypuck-9"' "$T/opt-profile.out")"
printf '[[peer]]\nhost = "127.0.0.1"\nrecon-port = 11370\nhkp-port = 11371\nfilterz = "sks"\n' >"$T/peer.toml"
serve_fails toml --config "$T/peer.toml" --recon-listen 127.0.0.1:0
check "a [[peer]] with an unknown key: exit 2 naming it" "2 yes" \
  "$rc $(yes_no grep -q "'filterz'" "$T/opt-toml.out")"
serve_fails uat --recon-listen 127.0.0.1:0 --keep-user-attributes --recon-filters hockeypuck-2.3
check "--keep-user-attributes with hockeypuck-2.3 (drop:UAT): exit 2 naming drop:UAT" "2 yes" \
  "$rc $(yes_no grep -q 'drop:UAT' "$T/opt-uat.out")"
check "the message names the option as it is spelt (--keep-user-attributes)" yes \
  "$(yes_no grep -q -- '--keep-user-attributes' "$T/opt-uat.out")"
serve_fails peeruat --recon-listen 127.0.0.1:0 --keep-user-attributes --peer "127.0.0.1:1:2 filters=drop:UAT"
check "--keep-user-attributes with a peer's filters=drop:UAT: exit 2" 2 "$rc"
serve_fails bogus --peer "127.0.0.1:1:2 filters=bogus"
check "--peer \"127.0.0.1:1:2 filters=bogus\": exit 2 naming it" "2 yes" \
  "$rc $(yes_no grep -q '"bogus"' "$T/opt-bogus.out")"
serve_fails ansi --recon-listen 127.0.0.1:0 --recon-filters $'yminsky.merge,\e[31m'
check "--recon-filters with an escape sequence: exit 2" 2 "$rc"
# With --keep-third-party keydird keeps third-party certifications its owner
# did not attest, unchecked (openpgp/verify.cpp): the "stricter than
# drop:implausible" that recon/filters.hpp relies on no longer holds.
serve_fails third --recon-listen 127.0.0.1:0 --keep-third-party --recon-filters hockeypuck-2.3
check "--keep-third-party with hockeypuck-2.3 (drop:implausible): exit 2" 2 "$rc"

# ------------------------------------------------------- the hostile peer
before=$(rss_kb "$SERVER_PID")

attack "a peer whose Config announces yminsky.merge (keydird announces the Hockeypuck list to it)"
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" text 'yminsky.merge')
answered "fake peer" "$a"
check "keydird announces its per-peer filters and answers failed / mismatched filters" \
  "keydird announces [$HP_LIST], answers [failed] [mismatched filters]" "$a"
logline=$(grep -m1 "recon with $NAME: cannot peer: mismatched filters" "$T/srv.log" || true)
answered "keydird log" "$logline"
check "the refusal is logged with both strings" yes \
  "$(yes_no grep -qF "announces \"yminsky.merge\", we announce \"$HP_LIST\"" <<<"$logline")"
err=$(peer_field "$NAME" last_error)
answered "recon status last_error" "$err"
check "recon status: last_outcome failed for $NAME" failed "$(peer_field "$NAME" last_outcome)"
check "recon status: last_error names mismatched filters and both strings" "yes yes yes" \
  "$(yes_no grep -q 'mismatched filters' <<<"$err") $(yes_no grep -qF '"yminsky.merge"' <<<"$err") $(yes_no grep -qF "\"$HP_LIST\"" <<<"$err")"

attack "the same from another allowed address (not a configured peer): keydird's own --recon-filters"
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" many 1 spread)
answered "fake peer from 127.0.0.10" "$a"
check "keydird announces the sks list to it and refuses" \
  "keydird announces [yminsky.dedup,yminsky.merge], answers [failed] [mismatched filters]" "$a"
check "recon status keeps it by address" failed "$(peer_field 127.0.0.10 last_outcome)"

attack "a peer announcing exactly keydird's list for it (the check refuses only a mismatch)"
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" text "$HP_LIST")
answered "fake peer" "$a"
check "keydird answers passed" "keydird announces [$HP_LIST], answers [passed] []" "$a"

attack "a Config whose filters are 1 MB"
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" size 1048576)
answered "fake peer" "$a"
# Hockeypuck's list is 190 octets: past 4096 keydird closes without answering.
check "refused before keydird answers (filters over 4096 octets)" "no answer" "$(echo "$a" | cut -c1-9)"
check "the reason is logged" yes \
  "$(yes_no grep -q "the peer's filters are longer than 4096 octets" "$T/srv.log")"
check "recon status --json stays small (< 8 kB)" yes "$(yes_no test "$(status_json | wc -c)" -lt 8192)"
check "the log line stays small (< 2 kB)" yes \
  "$(yes_no test "$(grep 'xxxxxxxx' "$T/srv.log" | tail -n 1 | wc -c)" -lt 2048)"

attack "a Config frame claiming 20 MB (over the 16 MB message bound), never sent"
t0=$(date +%s%N)
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" frame 20000000)
ms=$((($(date +%s%N) - t0) / 1000000))
answered "fake peer" "$a ($ms ms)"
check "keydird closes at once, without answering (< 3 s)" "no answer yes" \
  "$(echo "$a" | cut -c1-9) $(yes_no test "$ms" -lt 3000)"
check "the size is logged" yes "$(yes_no grep -q 'recon message of 20000000 octets (limit' "$T/srv.log")"

attack "filters holding a newline, ANSI escapes, BEL and a C1 CSI"
a=$(HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" text '\x1b[31mRED\x1b[0m\nFORGED-LOG-LINE [info] all good\x07\xc2\x9b2J\xe2\x80\xae')
answered "fake peer" "$a"
check "refused: mismatched filters" "failed] [mismatched filters]" "$(echo "$a" | grep -o 'failed.*')"
"$B/keydird" recon status --data "$T/srv" >"$T/status.txt"
status_json >"$T/status.json"
check "recon status (text) prints no raw C0 control character" 0 \
  "$(grep -caP '[\x00-\x08\x0b-\x1f\x7f]' "$T/status.txt" || true)"
check "recon status --json holds no raw control character" 0 \
  "$(grep -caP '[\x00-\x08\x0b-\x1f\x7f]' "$T/status.json" || true)"
# U+0080..U+009F (UTF-8 C2 80..C2 9F) are C1 controls: xterm acts on CSI
# (U+009B) as on ESC [.
check "recon status (text) prints no C1 control character" 0 \
  "$(LC_ALL=C grep -caP '\xc2[\x80-\x9f]' "$T/status.txt" || true)"
check "the log holds no raw escape from the peer" 0 "$(grep -caP '\x1b\[31m' "$T/srv.log" || true)"
check "the peer cannot forge a log line (no line starts with its text)" 0 \
  "$(grep -c '^FORGED-LOG-LINE' "$T/srv.log" || true)"

attack "100 Configs from 127.0.0.1, each with other filters, then 100 from 127.0.0.10..109"
HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" many 100 >"$T/many.out"
HTTP_PORT=$DEAD python3 "$PEER" 127.0.0.1 "$RPORT" many 100 spread >"$T/spread.out"
answered "fake peer (127.0.0.1)" "$(sort "$T/many.out" | uniq -c | sed 's/drop:probe-[0-9]*/drop:probe-N/')"
answered "fake peer (spread)" "$(sed 's/announces \[[^]]*\]/announces [...]/' "$T/spread.out" | sort | uniq -c)"
# (a connection that arrives while keydird is still closing the previous
# session is told "busy": refused too)
check "every one from 127.0.0.1 is refused (mismatched filters, or busy)" 100 \
  "$(grep -c 'answers \[failed\] \[\(mismatched filters\|sync not available, currently busy\)\]' "$T/many.out" || true)"
check "every one from the spread addresses is refused (mismatched filters, or busy)" 100 \
  "$(grep -c 'answers \[failed\] \[\(mismatched filters\|sync not available, currently busy\)\]' "$T/spread.out" || true)"
n=$(status_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["peers"]))')
answered "peers in recon status" "$n"
check "recon status lists a bounded number of peers (1 configured + at most 64)" yes \
  "$(yes_no test "$n" -le 65)"
# Each session refused for its filters is a failed round of the configured
# peer (one told "busy" never became a round: under load, some are).
refused=$(grep -c 'answers \[failed\] \[mismatched filters\]' "$T/many.out" || true)
check "127.0.0.1's rounds stay under the configured peer" yes \
  "$(yes_no test "$(peer_field "$NAME" failures)" -ge "$refused")"
after=$(rss_kb "$SERVER_PID")
answered "keydird RSS" "$((before / 1024)) MB before the peer attacks, $((after / 1024)) MB after"
limit=20
grep -q __asan_init "$B/keydird" && limit=100
check "RSS grew less than $limit MB" yes "$(yes_no test $((after - before)) -lt $((limit * 1024)))"
check "keydird still serves lookups" 200 "$(http_status "$U/pks/lookup?op=stats")"
check "keydird is still running" yes "$(yes_no kill -0 "$SERVER_PID")"

finish
