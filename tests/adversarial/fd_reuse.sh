#!/usr/bin/env bash
# Answers that went to the wrong client. A client that sends its requests and
# its end together has its connection closed by keydird while its answers
# may still wait in Pistache's write queue, which names connections by
# descriptor number; the next connection accepted in the same round of the
# worker got that number, and the waiting answers: over TLS a whole answer
# of the attacker's choosing, which the next client took for the answer to
# its own lookup. keydird notes the number until the queue has moved past
# those answers and cuts a new connection that gets it meanwhile
# (fd_reuse.py has the choreography). Connections closed with nothing
# queued note nothing: opening and closing connections cuts no one.
#   fd_reuse.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# 2,000 keys: the index of "example" is an answer of about 20 KB. The
# uploads of 400 more keep the worker busy for tens of milliseconds.
mkdir -p "$T/corpus"
"$TOOLS/gen_certs" --count 2000 --seed 7 --out "$T/keys.pgp" --corpus-dir "$T/corpus" >/dev/null
"$TOOLS/gen_certs" --count 400 --seed 99 --out "$T/upload.pgp" >/dev/null
"$B/keydird" import --data "$T/srv" "$T/keys.pgp" >/dev/null 2>&1
victim_fpr=$(sed -n 1p "$T/corpus/fingerprints.txt")
attack_fpr=$(sed -n 2p "$T/corpus/fingerprints.txt")
make_test_ca "$T" localhost "DNS:localhost,IP:127.0.0.1" tls.pem tls.key

# rounds MODE: six rounds of fd_reuse.py against the server on PORT, and
# their checks; CUT: how many new clients keydird cut.
rounds() {
  local out clients answered lost
  out=$(python3 "$HERE/fd_reuse.py" "$1" "$PORT" "$T/upload.pgp" \
    "/pks/lookup?op=index&search=example" "$victim_fpr" "$attack_fpr" 6)
  answered "new clients meanwhile" "$(tail -1 <<<"$out")"
  sed "\$d; s/^/   /" <<<"$out" | head -5
  check "no new client gets octets it did not ask for" 0 "$(sed -n 's/.*unsolicited \([0-9]*\).*/\1/p' <<<"$out")"
  check "each gets the key it asked for" 0 "$(sed -n 's/.*wrong \([0-9]*\).*/\1/p' <<<"$out")"
  read -r clients answered CUT lost <<<"$(sed -n 's/.*clients \([0-9]*\) answered \([0-9]*\) cut \([0-9]*\) lost \([0-9]*\).*/\1 \2 \3 \4/p' <<<"$out")"
  check "each of the 66 is answered, or cut before it asks" "66 66" "$clients $((answered + CUT))"
  check "none loses its connection after asking" 0 "$lost"
  check "most are answered" yes "$([ "$answered" -ge 50 ] && echo yes || echo no)"
}

start_keydird srv --data "$T/srv" --threads 1 --add-rate 0
attack "requests, then the end of the connection at once (plain HTTP, answers larger than the socket takes)"
rounds plain
cut_plain=$CUT
# A number stays noted only until the write behind the stale answers has
# left the queue: new connections one after another (each gets the lowest
# free number) are all answered.
ok=0
for _ in $(seq 50); do [ "$(http_status "$U/healthz")" = 200 ] && ok=$((ok + 1)); done
check "afterwards, 50 new connections one after another are all answered" 50 "$ok"
stop_keydird

start_keydird tls --data "$T/srv" --threads 1 --add-rate 0 --tls-cert "$T/tls.pem" --tls-key "$T/tls.key"
attack "a lookup of the attacker's key, then the end of the connection at once (TLS)"
rounds tls
ok=0
for _ in $(seq 50); do
  [ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/healthz")" = 200 ] && ok=$((ok + 1))
done
check "afterwards, 50 new connections one after another are all answered" 50 "$ok"
# The race is reached (else the rounds prove nothing): in some round keydird
# cut the new client that got the attacker's number.
check "the race was reached: keydird cut a new client that got the attacker's number" yes \
  "$([ $((cut_plain + CUT)) -ge 1 ] && grep -q 'cut a new connection' "$T/srv.log" "$T/tls.log" && echo yes || echo no)"
stop_keydird

start_keydird churn --data "$T/srv" --threads 1
attack "connections opened and closed without a request while fresh clients ask"
out=$(python3 "$HERE/fd_reuse.py" churn "$PORT" 5)
answered "the clients" "$out"
read -r churned asked answered_n <<<"$(sed -n 's/churned \([0-9]*\) asked \([0-9]*\) answered \([0-9]*\)/\1 \2 \3/p' <<<"$out")"
check "every client is answered ($answered_n of $asked, $churned opened and closed meanwhile)" "$asked" "$answered_n"
stop_keydird  # its log is complete
check "keydird cut no new connection" 0 "$(grep -c 'cut a new connection' "$T/churn.log" || true)"

finish
