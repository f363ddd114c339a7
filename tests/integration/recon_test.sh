#!/usr/bin/env bash
# SKS reconciliation between real keydird processes on loopback:
# - three nodes, each given a different third of 300 generated certificates,
#   gossiping every second, converge to the same set (same count, and the
#   same dump byte for byte) within a bounded time;
# - a node that was down catches up after restart with keys uploaded
#   meanwhile;
# - /pks/hashquery answers in the SKS format, and its bad inputs get 4xx;
# - a peer with other parameters (mbar) is refused with a reason;
# - a verified-mode server refuses to peer.
#   recon_test.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
use_temp_dir

for i in 0 1 2; do
  "$B/gen_certs" --count 100 --seed $((i + 1)) --out "$T/in$i.pgp" >/dev/null
  "$B/keydird" import --data "$T/d$i" "$T/in$i.pgp" >/dev/null 2>&1
done
H=("$(free_port)" "$(free_port)" "$(free_port)")
R=("$(free_port)" "$(free_port)" "$(free_port)")

start_node() {  # start_node I
  local i=$1 peers=()
  for j in 0 1 2; do
    [ "$i" = "$j" ] || peers+=(--peer "127.0.0.1:${R[$j]}:${H[$j]}")
  done
  LISTEN=127.0.0.1:${H[$i]} APPEND_LOG=1 start_keydird "serve$i" --data "$T/d$i" \
    --recon-listen "127.0.0.1:${R[$i]}" "${peers[@]}" --gossip-interval 1 --add-rate 0 \
    --access-log "$T/log$i"
  NODE[$i]=$SERVER_PID
}
count() {  # count I: certificates the node holds
  curl -s "http://127.0.0.1:${H[$1]}/metrics" | awk '/^keydir_certificates / {print $2}'
}
all_hold() {  # all_hold N: every node holds N certificates
  local i
  for i in 0 1 2; do [ "$(count "$i")" = "$1" ] || return 1; done
}
wait_all() {  # wait_all N SECONDS: until every node holds N; the seconds it took, or "timeout"
  WAIT_INTERVAL=0.25 wait_until "$2" all_hold "$1" || true
  echo "$WAITED"
}

# Read before the nodes start: once two are up they gossip, so counting
# through /metrics after the third starts races the first round.
offline_count() {  # offline_count I: certificates in the store, read offline
  "$B/keydird" recon status --data "$T/d$1" 2>/dev/null | awk '$1 == "certificates" {print $2}'
}
check "each node starts with its third" "100 100 100" \
  "$(offline_count 0) $(offline_count 1) $(offline_count 2)"
NODE=()
for i in 0 1 2; do start_node "$i"; done
took=$(wait_all 300 60)
check "three nodes converge to 300 certificates within 60 s (took ${took} s)" "yes" \
  "$([ "$took" != timeout ] && echo yes || echo no)"
elements=$(for i in 0 1 2; do curl -s "http://127.0.0.1:${H[$i]}/metrics" |
  awk '/^keydir_recon_elements / {print $2}'; done | tr '\n' ' ')
check "every prefix tree holds 300 hashes" "300 300 300 " "$elements"
check "recon metrics count rounds" "yes" \
  "$(curl -s "http://127.0.0.1:${H[0]}/metrics" | awk '/^keydir_recon_rounds_total / {print ($2 > 0) ? "yes" : "no"}')"

check "op=stats lists the partners, as Hockeypuck does (network crawlers follow them)" \
  "127.0.0.1:${H[1]} 127.0.0.1:${R[1]} 127.0.0.1:${H[2]} 127.0.0.1:${R[2]}" \
  "$(curl -s "http://127.0.0.1:${H[0]}/pks/lookup?op=stats&options=mr" | python3 -c '
import json, sys
print(" ".join(p["httpAddr"] + " " + p["reconAddr"] for p in json.load(sys.stdin)["peers"]))')"
# Node 0 picks a partner at random each second (and a round may fail: a
# partner busy with the third node says so): within 30 s it has had rounds
# with both.
partner_rounds() {
  "$B/keydird" recon status --data "$T/d0" --json | python3 -c '
import json, sys
print(" ".join("yes" if p["rounds"] > 0 and p["last_round"] else "no"
               for p in json.load(sys.stdin)["peers"]))'
}
both_partners() { [ "$(partner_rounds)" = "yes yes" ]; }
WAIT_INTERVAL=0.5 wait_until 30 both_partners || true
check "recon status shows rounds with each partner, and when the last one ended" "yes yes" \
  "$(partner_rounds)"

# hashquery: the SKS answer format, then bad inputs.
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @/dev/null \
  -H 'Content-Type: application/octet-stream' "http://127.0.0.1:${H[0]}/pks/hashquery")
check "hashquery without a count: 400" "400" "$status"
printf '\x00\x00\x00\x01\x00\x00\x00\x05abcde' >"$T/hq-bad"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/hq-bad" \
  -H 'Content-Type: application/octet-stream' "http://127.0.0.1:${H[0]}/pks/hashquery")
check "hashquery with a 5-octet hash: 400" "400" "$status"
printf '\x00\x00\x00\x01\x00\x00\x00\x10AAAAAAAAAAAAAAAA' >"$T/hq-miss"
curl -s -X POST --data-binary @"$T/hq-miss" -H 'Content-Type: application/octet-stream' \
  "http://127.0.0.1:${H[0]}/pks/hashquery" >"$T/hq-miss.out"
check "hashquery for an unknown hash: zero keys, CRLF" "00000000 0d0a" \
  "$(od -An -tx1 "$T/hq-miss.out" | tr -d ' \n' | sed 's/^\(........\)/\1 /')"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${H[0]}/pks/hashquery")
check "hashquery by GET: 405" "405" "$status"

# A node down while keys arrive elsewhere catches up after its restart.
stop_pid "${NODE[2]}"
"$B/gen_certs" --count 20 --seed 99 --out "$T/late.pgp" >/dev/null
"$B/keydird" import --data "$T/late-check" "$T/late.pgp" >/dev/null 2>&1
python3 - "$T/late.pgp" "http://127.0.0.1:${H[0]}/pks/v2/certs" <<'PY'
import sys, urllib.request
data = open(sys.argv[1], 'rb').read()
req = urllib.request.Request(sys.argv[2], data=data, headers={'Content-Type': 'application/pgp-keys'})
urllib.request.urlopen(req).read()
PY
check "an upload reaches the prefix tree in the same write" "320" \
  "$(curl -s "http://127.0.0.1:${H[0]}/metrics" | awk '/^keydir_recon_elements / {print $2}')"
start_node 2
took=$(wait_all 320 60)
check "the restarted node catches up to 320 (took ${took} s)" "yes" \
  "$([ "$took" != timeout ] && echo yes || echo no)"

# Same set, byte for byte: stop everything and dump each store.
for i in 0 1 2; do stop_pid "${NODE[$i]}"; done
for i in 0 1 2; do
  "$B/keydird" dump --data "$T/d$i" --out "$T/dump$i" >/dev/null 2>&1
done
sums=$(for i in 0 1 2; do cat "$T/dump$i"/*.pgp | sha256sum | cut -c1-16; done | sort -u | wc -l)
check "the three dumps are identical" "1" "$sums"
digests=$(for i in 0 1 2; do "$B/keydird" recon status --data "$T/d$i" | awk '/root digest/ {print $3}'; done | sort -u | wc -l)
check "keydird recon status: one root digest for the three stores" "1" "$digests"
check "keydird recon status counts the elements" "320" \
  "$("$B/keydird" recon status --data "$T/d0" | awk '/^elements/ {print $2}')"
# The stored trees are exactly what the hash indexes imply, and a rebuild
# recomputes the same tree.
for i in 0 1 2; do
  "$B/keydird" check --data "$T/d$i" >"$T/check$i.out" 2>&1
  check "keydird check of node $i: the tree agrees with the index (exit 0)" "0" "$?"
done
before=$("$B/keydird" recon status --data "$T/d1" | awk '/root digest/ {print $3}')
check "keydird recon rebuild" "rebuilt the prefix tree of 320 elements" \
  "$("$B/keydird" recon rebuild --data "$T/d1" | sed 's/ in .*//')"
check "the rebuilt tree has the same root digest" "$before" \
  "$("$B/keydird" recon status --data "$T/d1" | awk '/root digest/ {print $3}')"

# A peer with another mbar is refused with a reason; it is logged.
LISTEN=127.0.0.1:${H[0]} APPEND_LOG=1 start_keydird serve0 --data "$T/d0" \
  --recon-listen "127.0.0.1:${R[0]}" --gossip-interval 0 --access-log "$T/log0"
wait_port 127.0.0.1 "${R[0]}" || true
answer=$(python3 - "${R[0]}" <<'PY'
import socket, struct, sys
def s(x): return struct.pack('>I', len(x)) + x
def i4(n): return struct.pack('>I', n)
body = bytes([10]) + i4(5) + s(b'version') + s(b'1.1.6') + s(b'http port') + i4(4) + i4(11371) \
     + s(b'bitquantum') + i4(4) + i4(2) + s(b'mbar') + i4(4) + i4(6) + s(b'filters') + s(b'')
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
c.sendall(i4(len(body)) + body)
data = b''
while True:
    chunk = c.recv(65536)
    if not chunk:
        break
    data += chunk
# Their config, then "failed" and the reason.
n = struct.unpack('>I', data[:4])[0]
rest = data[4 + n:]
def take(b):
    k = struct.unpack('>I', b[:4])[0]
    return b[4:4 + k].decode(), b[4 + k:]
status, rest = take(rest)
reason, rest = take(rest)
print(status, reason)
PY
)
check "a peer with mbar 6 is refused" "failed mismatched mbar" "$answer"

# Peers from the config file ([[peer]] tables).
cat >"$T/peers.toml" <<CONF
recon-listen = "127.0.0.1:$(free_port)"
gossip-interval = 0
[[peer]]
host = "127.0.0.1"
recon-port = ${R[1]}
hkp-port = ${H[1]}
[[peer]]
host = "localhost"
recon-port = ${R[2]}
CONF
# (keydird prints "recon on" before "serving"; its log lines reach
# --access-log by the time it has stopped)
start_keydird cfg.out --data "$T/cfg" --config "$T/peers.toml" --access-log "$T/cfg.log"
stop_keydird
check "[[peer]] tables in the config file" "1" "$(grep -c 'recon: 2 peers, gossip every 0 s' "$T/cfg.log")"

# Verified mode does not peer.
out=$("$B/keydird" serve --listen 127.0.0.1:0 --data "$T/v" --mode verified \
  --smtp-url smtp://127.0.0.1:1 --smtp-from keys@example.org --peer 127.0.0.1:1:2 2>&1 || true)
check "verified mode refuses --peer" "yes" "$(echo "$out" | grep -q 'needs --mode open' && echo yes || echo no)"
check "bad --peer is a usage error" "2" \
  "$("$B/keydird" serve --listen 127.0.0.1:0 --data "$T/p" --peer nohostport >/dev/null 2>&1; echo $?)"

on_failure() { tail -n 20 "$T"/serve*.log; }
finish "all recon checks passed"
