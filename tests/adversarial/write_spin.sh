#!/usr/bin/env bash
# A client that reads a little of its answers and stops. What the socket does
# not take at once waits in Pistache's write queue; Pistache 0.0.5 writes
# that queue in a loop that, once the socket has taken part of an entry and
# then takes no more, tries again at once, and again, until the client reads.
# A client with a long queue that read a little (so the socket became
# writable) and stopped kept its worker spinning, and every other connection
# of that worker waited. keydird hands Pistache one small piece at a time,
# which the socket takes whole whenever it is writable. Also: a TLS session
# that a bad record killed made Pistache retry its writes for ever.
# The kernel's send buffers grow to 4 MiB on loopback, more than keydird lets
# wait (1 MiB), so the test runs in a network namespace of its own with them
# limited to 64 KiB, as on a slow link (needs root; without it, says so).
#   write_spin.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
if [ -z "${KEYDIR_WRITE_SPIN_NS:-}" ] && unshare --net true 2>/dev/null; then
  exec env KEYDIR_WRITE_SPIN_NS=1 unshare --net bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${KEYDIR_WRITE_SPIN_NS:-}" ]; then
  echo "skip  a client that reads a little and stops: needs root for a private network namespace"
  finish
  exit 0
fi
ip link set lo up
echo "4096 16384 65536" >/proc/sys/net/ipv4/tcp_wmem

# rounds MODE: the attack over plain HTTP or TLS, and its checks.
rounds() {
  local mode=$1 out=$T/spin-$1.out cpu
  attack "60 answers of 8 KB asked with a tiny window, 32 KiB read six times, then nothing ($mode)"
  python3 "$HERE/write_spin.py" "$PORT" "$SERVER_PID" "$GET" 60 "$mode" >"$out" 2>&1 || true
  answered "the attacker" "$(cat "$out")"
  cpu=$(awk '$1 == "cpu" { print $2 }' "$out")
  check "$mode: keydird did not spin while the client read nothing (${cpu:-?} s of CPU in 9 s)" yes \
    "$(awk -v c="${cpu:-99}" 'BEGIN { print (c < 1.5) ? "yes" : "no" }')"
  check "$mode: another client on the same worker was answered meanwhile" "other 200" \
    "$(grep '^other' "$out")"
  check "$mode: every answer arrived whole once the client read" "answers 60 whole" \
    "$(grep -E '^(answers|broken)' "$out")"
}

start_keydird srv --data "$T/srv" --add-rate 0 --threads 1
BIG=$DATA/sq-rsa4k.asc
check "a large key is stored" 200 "$(http_status "$U/pks/add" --data-urlencode "keytext@$BIG")"
FPR=$("$B/keydir" inspect --json "$BIG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])')
GET="/pks/lookup?op=get&options=mr&search=0x$FPR"
rounds plain
check "the server still answers" 200 "$(http_status "$U$GET" --max-time 5)"
# Send buffers of 16 KiB and segments of 88 octets: a writable socket takes
# a few hundred octets of a write, and Pistache would retry the rest at once.
echo "4096 16384 16384" >/proc/sys/net/ipv4/tcp_wmem
rounds mss
echo "4096 16384 65536" >/proc/sys/net/ipv4/tcp_wmem
stop_keydird

make_test_ca "$T" localhost "DNS:localhost,IP:127.0.0.1" tls.pem tls.key
start_keydird tls --data "$T/srv" --add-rate 0 --threads 1 --tls-cert "$T/tls.pem" --tls-key "$T/tls.key"
rounds tls

for when in together later; do
  attack "a request and a TLS record that does not decrypt ($when)"
  python3 "$HERE/write_spin.py" "$PORT" "$SERVER_PID" "$GET" 0 tls "$when" >"$T/garbage.out" 2>&1 || true
  answered "the attacker" "$(cat "$T/garbage.out")"
  cpu=$(awk '$1 == "cpu" { print $2 }' "$T/garbage.out")
  check "$when: keydird did not spin on the dead session (${cpu:-?} s of CPU in 3 s)" yes \
    "$(awk -v c="${cpu:-99}" 'BEGIN { print (c < 0.8) ? "yes" : "no" }')"
  check "$when: another client on the same worker was answered" "other 200" "$(grep '^other' "$T/garbage.out")"
  check "$when: the dead session's connection was closed" closed "$(grep -E '^(closed|open)' "$T/garbage.out")"
done
finish
