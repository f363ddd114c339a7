#!/usr/bin/env bash
# The transparency log against a directory that crashes, forks, rolls back
# and substitutes keys. Real keydird, keydir and (when Go and
# golang.org/x/mod are installed) keydir-log-oracle.
# 1. Crashes: thousands of uploads with keydird killed (SIGKILL) at random
#    moments in between; after every kill the store and the log agree
#    (keydird log verify, keydird check: every certificate's latest entry
#    is the one of its last change, every hash recomputes), and at the end
#    the log holds exactly one entry per certificate (and its header).
# 2. A fork: two stores from one backup take different uploads; a client
#    and a monitor that saw one refuse the other (exit 8), so does the oracle.
# 3. A rollback: the store restored from an older backup (exit 8).
# 4. A substitution: the operator publishes another key for alice@ (an upload
#    of a second key with her address, open mode): `keydir monitor` reports
#    it at its next run (exit 9), and is quiet when nothing changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
export XDG_STATE_HOME=$T/state

# -- 1. crashes
attack "SIGKILL during uploads: the log and the store must agree after every restart"
"$TOOLS/gen_certs" --count 3000 --seed 23 --out-dir "$T/batches" --per-file 25 >/dev/null
batches=("$T"/batches/keys-*.pgp)
up() {  # upload every batch, in order, retrying while keydird is down
  local f
  for f in "${batches[@]}"; do
    for _ in $(seq 100); do
      if curl -sf --max-time 10 --data-binary @"$f" -H 'Content-Type: application/pgp-keys' \
        "http://127.0.0.1:$1/pks/v2/certs" -o /dev/null 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
  done
}
P=$(free_port)
start_keydird crash --listen 127.0.0.1:$P --add-rate 0
up "$P" >"$T/up.log" 2>&1 &
UP=$!
kills=0
problems=0
for k in $(seq 8); do
  sleep "0.$((RANDOM % 7 + 2))"
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  kills=$((kills + 1))
  stored=$("$B/keydird" stats --data "$T/crash" 2>/dev/null | awk '$1 == "certificates" {print $2}')
  echo "   kill $k: $stored certificates stored"
  if ! "$B/keydird" log verify --data "$T/crash" >"$T/verify.out" 2>&1 ||
    ! "$B/keydird" check --data "$T/crash" >"$T/check.out" 2>&1; then
    problems=$((problems + 1))
    cat "$T/verify.out" "$T/check.out" | head -5
  fi
  APPEND_LOG=1 start_keydird crash --listen 127.0.0.1:$P --add-rate 0
done
wait "$UP" || true
stop_keydird
check "the log and the store agreed after each of $kills kills" 0 "$problems"
"$B/keydird" log verify --data "$T/crash" >"$T/verify.out" 2>&1 && v=0 || v=$?
answered "keydird log verify" "$(cat "$T/verify.out")"
check "keydird log verify after the last kill" 0 "$v"
certs=$("$B/keydird" stats --data "$T/crash" 2>/dev/null | awk '$1 == "certificates" {print $2}')
entries=$(sed -n 's/^\([0-9]*\) log entries.*/\1/p' "$T/verify.out")
check "every certificate stored is in the log once, plus its header" "$((certs + 1))" "$entries"
check "all 3000 certificates were stored across the crashes" 3000 "$certs"

# The oracle, when it can be built: the whole log against Go's tlog.
ORACLE=""
rc=0
bash "$HERE/../transparency/build_oracle.sh" "$T/bin" >"$T/oracle-build.log" 2>&1 || rc=$?
[ "$rc" = 0 ] && ORACLE=$T/bin/keydir-log-oracle
[ -n "$ORACLE" ] || echo "   (keydir-log-oracle not built: $(tail -1 "$T/oracle-build.log"))"

# -- 2. a fork
attack "a fork: two stores from one backup, each with its own uploads"
start_keydird origin --listen 127.0.0.1:$(free_port) --add-rate 0
ORIGIN_PID=$SERVER_PID
ONE=$(ls "$DATA"/gpg-*.asc | head -1)
curl -sf --data-urlencode keytext@"$ONE" "$U/pks/add" >/dev/null
"$B/keydird" backup --data "$T/origin" --out "$T/fork-a" >/dev/null
stop_pid "$ORIGIN_PID"
cp -a "$T/fork-a" "$T/fork-b"
cp -a "$T/fork-a" "$T/old"
start_keydird fork-a --data "$T/fork-a" --listen 127.0.0.1:$P --add-rate 0
A_PID=$SERVER_PID
for f in $(ls "$DATA"/gpg-*.asc | sed -n 2,4p); do
  curl -sf --data-urlencode keytext@"$f" "$U/pks/add" >/dev/null
done
FPR=$("$B/keydir" inspect --json "$ONE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])')
"$B/keydir" fetch --server "$U" --audit "$FPR" >/dev/null 2>"$T/a.err" && s=0 || s=$?
check "a client audits fork A (and keeps its checkpoint)" 0 "$s"
if [ -n "$ORACLE" ]; then
  "$ORACLE" --url "$U" --state "$T/oracle.state" --full >"$T/oracle.out" 2>&1 && s=0 || s=$?
  check "the oracle accepts fork A" 0 "$s"
fi
stop_pid "$A_PID"
# Fork B: the same log key and origin, other uploads after the backup.
start_keydird fork-b --data "$T/fork-b" --listen 127.0.0.1:$P --add-rate 0
B_PID=$SERVER_PID
for f in $(ls "$DATA"/gpg-*.asc | sed -n 5,9p); do
  curl -sf --data-urlencode keytext@"$f" "$U/pks/add" >/dev/null
done
"$B/keydir" fetch --server "$U" --audit "$FPR" >/dev/null 2>"$T/b.err" && s=0 || s=$?
answered "keydir fetch --audit against fork B" "$(cat "$T/b.err")"
check "the client refuses fork B: the log forked (exit 8)" 8 "$s"
"$B/keydir" monitor --server "$U" alice@example.org >/dev/null 2>"$T/m.err" && s=0 || s=$?
answered "keydir monitor against fork B" "$(head -3 "$T/m.err")"
check "a monitor that saw fork A refuses fork B (exit 8)" 8 "$s"
if [ -n "$ORACLE" ]; then
  "$ORACLE" --url "$U" --state "$T/oracle.state" >"$T/oracle.out" 2>&1 && s=0 || s=$?
  check "the oracle refuses fork B (exit 3)" 3 "$s"
fi
stop_pid "$B_PID"

# -- 3. a rollback: the backup of before (fewer entries than A's checkpoint)
attack "a rollback: the store restored from an older backup"
rm -rf "$XDG_STATE_HOME"
start_keydird fork-a --data "$T/fork-a" --listen 127.0.0.1:$P --add-rate 0
"$B/keydir" fetch --server "$U" --audit "$FPR" >/dev/null 2>&1 && s=0 || s=$?
check "a fresh client audits the current store" 0 "$s"
stop_keydird
start_keydird old --data "$T/old" --listen 127.0.0.1:$P --add-rate 0
"$B/keydir" fetch --server "$U" --audit "$FPR" >/dev/null 2>"$T/r.err" && s=0 || s=$?
answered "keydir fetch --audit after the rollback" "$(cat "$T/r.err")"
check "the client refuses the rolled-back log (exit 8)" 8 "$s"
stop_keydird

# -- 4. a key substituted for an address
attack "a substitute key published for alice@"
rm -rf "$XDG_STATE_HOME"
start_keydird subst --listen 127.0.0.1:$P --add-rate 0
G=$(gpg_home subst)
gpg --homedir "$G" --batch --passphrase '' --quick-gen-key 'Alice <alice@example.org>' ed25519 sign never >/dev/null 2>&1
gpg --homedir "$G" --batch --passphrase '' --quick-gen-key 'Mallory as Alice <alice@example.org>' ed25519 sign never >/dev/null 2>&1
REAL=$(gpg --homedir "$G" --with-colons --list-keys 'Alice <alice@example.org>' | awk -F: '/^fpr/ {print $10; exit}')
FAKE=$(gpg --homedir "$G" --with-colons --list-keys 'Mallory as Alice' | awk -F: '/^fpr/ {print $10; exit}')
curl -sf --data-urlencode keytext="$(gpg --homedir "$G" --armor --export "$REAL")" "$U/pks/add" >/dev/null
"$B/keydir" monitor --server "$U" --allow "$REAL" alice@example.org >"$T/m1.out" 2>&1 && s=0 || s=$?
check "the owner's first run: her own key only, no alert" 0 "$s"
"$B/keydir" monitor --server "$U" --allow "$REAL" alice@example.org >"$T/m2.out" 2>&1 && s=0 || s=$?
check "nothing changed: exit 0" 0 "$s"
check "nothing changed: nothing printed" "" "$(cat "$T/m2.out")"
curl -sf --data-urlencode keytext="$(gpg --homedir "$G" --armor --export "$FAKE")" "$U/pks/add" >/dev/null
"$B/keydir" monitor --server "$U" --allow "$REAL" alice@example.org >"$T/m3.out" 2>&1 && s=0 || s=$?
answered "keydir monitor after the substitute" "$(cat "$T/m3.out")"
check "the substitute key is reported at the next run (exit 9)" 9 "$s"
check "the alert names the substitute's fingerprint" 1 \
  "$(grep -ci "ALERT alice@example.org bound to 04$FAKE" "$T/m3.out" || true)"
stop_keydird
finish
