#!/usr/bin/env bash
# keydir upload end to end: 20 keys in one request to the real keydird, the
# waits a rate limit asks for (--verify, one key per VKS request), a server
# asking for a day's wait, the per-key report of a hostile answer, and the
# operator token of managed mode (flag, environment, config file; refused
# when readable by all or bound for plain http to another host).
#   client_upload_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: client_upload_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
K="$B/keydir"
unset KEYDIR_SERVER KEYDIR_TOKEN_FILE
export XDG_CONFIG_HOME=$T/config # no user configuration
on_failure() { for f in "$T"/*.err; do echo "--- $f"; tail -n 20 "$f"; done; }

# 20 keys, one file each, with addresses at keydir.test.
G=$T/gnupg-keys
mkdir -m 700 "$G" "$T/k"
for i in $(seq -w 1 20); do
  GNUPGHOME=$G gpg --batch --passphrase '' --pinentry-mode loopback \
    --quick-gen-key "User $i <user$i@keydir.test>" ed25519 default never 2>/dev/null
  fpr=$(GNUPGHOME=$G gpg --with-colons --list-keys "user$i@keydir.test" | awk -F: '/^fpr/{print $10; exit}')
  GNUPGHOME=$G gpg --armor --export "$fpr" >"$T/k/k$i.asc"
  echo "$fpr" >"$T/k/k$i.fpr"
done
FPR01=$(cat "$T/k/k01.fpr")
FPR02=$(cat "$T/k/k02.fpr")
FPR03=$(cat "$T/k/k03.fpr")
posts() { grep -c "POST $1 " "$2" || true; }

# --- a default server: 20 keys, one request, all stored ---------------------
start_keydird default --wkd-domain keydir.test
S=$U
rc=0
(cd "$T/k" && "$K" upload --server "$S" k*.asc) >"$T/default.out" 2>"$T/default.err" || rc=$?
check "default server: 20 keys uploaded, exit 0" 0 "$rc"
check "default server: one report line per key, naming its file" 20 \
  "$(grep -cE '^k[0-9]{2}\.asc: new [0-9A-F]{40}$' "$T/default.out")"
check "default server: k01.asc reported with its fingerprint" 1 "$(grep -c "^k01.asc: new $FPR01\$" "$T/default.out")"
check "default server: no wait" 0 "$(grep -c 'asks to wait' "$T/default.err" || true)"
check "default server: every key stored" 0 "$("$K" fetch --server "$S" --no-wkd user20@keydir.test >/dev/null 2>&1; echo $?)"
rc=0
"$K" upload --server "$S" "$T/k/k01.asc" >"$T/again.out" 2>&1 || rc=$?
check "upload again: unchanged" "0 1" "$rc $(grep -c "k01.asc: unchanged $FPR01" "$T/again.out")"
stop_keydird
check "default server: the 20 keys went in one /pks/add request (and k01.asc once more)" 2 "$(posts /pks/add "$T/default.log")"

# --- a burst of 1: per-key requests fail from the second, one batch passes ----
start_keydird burst1 --add-rate 1 --add-burst 1
ok=0
for f in "$T"/k/k*.asc; do
  [ "$(http_status "$U/pks/add" --data-urlencode "keytext@$f")" = 200 ] && ok=$((ok + 1))
done
check "burst 1: 20 requests of one key each, only the first stored" 1 "$ok"
stop_keydird
start_keydird burst1b --add-rate 1 --add-burst 1
rc=0
"$K" upload --server "$U" "$T"/k/k*.asc >"$T/burst.out" 2>"$T/burst.err" || rc=$?
check "burst 1: keydir upload of the 20 keys, exit 0, 20 stored" "0 20" "$rc $(grep -c ': new ' "$T/burst.out")"
stop_keydird
check "burst 1: one request, no wait" "1 0" "$(posts /pks/add "$T/burst1b.log") $(grep -c 'asks to wait' "$T/burst.err" || true)"

# --- --verify against --add-rate 6 --add-burst 1: visible waits, then done ----
start_smtp_sink
start_keydird paced --mode verified --wkd-domain keydir.test --add-rate 6 --add-burst 1 \
  --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from keys@keydir.test
rc=0
start=$(date +%s)
"$K" upload --server "$U" --verify "$T/k/k01.asc" "$T/k/k02.asc" >"$T/paced.out" 2>"$T/paced.err" || rc=$?
check "paced: exit 0" 0 "$rc"
check "paced: each key uploaded and its link mailed" "1 1 2" \
  "$(grep -c "k01.asc: uploaded $FPR01" "$T/paced.out") $(grep -c "k02.asc: uploaded $FPR02" "$T/paced.out") $(grep -c 'pending (a confirmation link was mailed to it)' "$T/paced.out")"
check "paced: the waits are on stderr" 1 \
  "$([ "$(grep -cE '^keydir upload: the server asks to wait [0-9]+ s \(rate limit; key [12] of 2, .*\); waiting…$' "$T/paced.err")" -ge 2 ] && echo 1 || echo 0)"
check "paced: it took the waits (at least 15 s)" 1 "$([ $(($(date +%s) - start)) -ge 15 ] && echo 1 || echo 0)"
has_mails() { [ "$(ls "$T/mail/new" | wc -l)" -ge 2 ]; }
wait_for has_mails || true
check "paced: two confirmation mails" 2 "$(ls "$T/mail/new" | wc -l)"
rc=0
"$K" upload --server "$U" --verify --no-wait "$T/k/k03.asc" "$T/k/k04.asc" >/dev/null 2>"$T/nowait.err" || rc=$?
check "--no-wait: stops at once, exit 5" 5 "$rc"
check "--no-wait: the file, key, and when to retry" 1 \
  "$(grep -cE "^keydir upload: .*k03\.asc: key $FPR03: not sent: the server asks to wait [0-9]+ s \(rate limit\), and --no-wait was given; retry after 20[0-9-]+T[0-9:]+Z$" "$T/nowait.err")"
check "--no-wait: the next key not sent" 1 "$(grep -c 'k04.asc: key .*: not sent (keydir stopped after the error above)' "$T/nowait.err")"
stop_keydird

# --- odd servers ----------------------------------------------------------------
fake() { # fake MODE [FILE]: the fake server on a free port; sets FU
  local p
  p=$(free_port)
  python3 "$HERE/fake_keyserver.py" "$p" "$@" >/dev/null &
  PIDS+=($!)
  wait_port 127.0.0.1 "$p" || true
  FU=http://127.0.0.1:$p
}
fake "retry:429:100000"
rc=0
start=$(date +%s)
"$K" upload --server "$FU" "$T/k/k01.asc" "$T/k/k02.asc" >"$T/day.out" 2>"$T/day.err" || rc=$?
check "Retry-After 100000: stops at once with exit 5, nothing on stdout" "5 0 1" \
  "$rc $(wc -c <"$T/day.out") $([ $(($(date +%s) - start)) -le 5 ] && echo 1 || echo 0)"
check "Retry-After 100000: each file named, the wait and when to retry" 2 \
  "$(grep -cE 'k0[12]\.asc: key [0-9A-F]{40}: not sent: the server asks to wait 27 h 46 min \(rate limit\), longer than keydir waits \(10 min, --max-wait\); retry after 20[0-9-]+T[0-9:]+Z$' "$T/day.err")"
fake "retry:503:Sun, 06 Nov 1994 08:49:37 GMT"
rc=0
"$K" upload --server "$FU" "$T/k/k01.asc" >/dev/null 2>"$T/busy.err" || rc=$?
check "503, Retry-After a date in the past: waits 1 s, at most 5 times, then stops" "5 5 1" \
  "$rc $(grep -c 'the server asks to wait 1 s (server busy; .*k01.asc); waiting…' "$T/busy.err" || true) $(grep -c 'k01.asc: key .*: not sent: .*after 5 waits already' "$T/busy.err")"

# A hostile answer: escapes in reasons, a refusal, a key not mentioned, one
# not sent, other lines.
{
  printf 'new %s\n  published user01@keydir.test\n' "$FPR01"
  printf '  withheld x@example.org: not in \033[2Jthis directory\n'
  printf 'refused %s: weak \033]0;owned\007key\n' "$FPR02"
  printf 'unchanged %s\n' "$(printf 'F%.0s' $(seq 40))"
  printf '<b>\033[31mhello</b>\n'
} >"$T/answer.txt"
fake "body:200:text/plain" "$T/answer.txt"
rc=0
"$K" upload --server "$FU" "$T/k/k01.asc" "$T/k/k02.asc" "$T/k/k03.asc" >"$T/odd.out" 2>"$T/odd.err" || rc=$?
check "odd answer: exit 5 (a key refused)" 5 "$rc"
check "odd answer: the stored key's report" "1 1 1" \
  "$(grep -c "k01.asc: new $FPR01\$" "$T/odd.out") $(grep -c '^  published user01@keydir.test$' "$T/odd.out") $(grep -cF '  withheld x@example.org: not in \x1B[2Jthis directory' "$T/odd.out")"
check "odd answer: the refusal names file and key" 1 \
  "$(grep -cF "k02.asc: key $FPR02: refused: weak \\x1B]0;owned\\x07key" "$T/odd.err")"
check "odd answer: the key not mentioned is named" 1 \
  "$(grep -c "k03.asc: key $FPR03: the server's answer does not mention this key" "$T/odd.err")"
check "odd answer: a key not sent is ignored, said so" 1 "$(grep -c 'FFFFFFFFFF.*which was not sent' "$T/odd.err")"
check "odd answer: no raw control character printed" 0 "$(cat "$T/odd.out" "$T/odd.err" | tr -d '\n' | grep -c $'[\x01-\x1f\x7f]' || true)"
fake slow
rc=0
"$K" upload --server "$FU" --timeout 2 "$T/k/k01.asc" >/dev/null 2>"$T/slow.err" || rc=$?
check "no answer in time: exit 3, the file said sent but unknown" "3 1" \
  "$rc $(grep -c 'k01.asc: key .*: sent, but no answer came' "$T/slow.err")"
rc=0
"$K" upload --server "http://127.0.0.1:1" "$T/k/k01.asc" "$T/k/k02.asc" >/dev/null 2>"$T/down.err" || rc=$?
check "server down: exit 3, each file not sent" "3 2" "$rc $(grep -c 'asc: key .*: not sent (' "$T/down.err")"

# --- managed mode: the operator token -------------------------------------------
openssl rand -hex 16 >"$T/token"
chmod 600 "$T/token"
TOKEN=$(cat "$T/token")
start_keydird managed --mode managed --wkd-domain keydir.test --operator-token-file "$T/token" \
  --smtp-url smtp://127.0.0.1:9 --smtp-from x@keydir.test
M=$U
rc=0
"$K" upload --server "$M" --token-file "$T/token" "$T/k/k01.asc" >"$T/m1.out" 2>"$T/m1.err" || rc=$?
check "managed: --token-file: stored" "0 1" "$rc $(grep -c "k01.asc: new $FPR01" "$T/m1.out")"
check "managed: --token-file: published (HKP, WKD)" "0 0" \
  "$("$K" fetch --server "$M" --no-wkd user01@keydir.test >/dev/null 2>&1; echo $?) $("$K" fetch --wkd-host "$M" user01@keydir.test >/dev/null 2>&1; echo $?)"
rc=0
KEYDIR_TOKEN_FILE=$T/token "$K" upload --server "$M" "$T/k/k02.asc" >"$T/m2.out" 2>"$T/m2.err" || rc=$?
check "managed: KEYDIR_TOKEN_FILE: stored and published" "0 1 0" \
  "$rc $(grep -c "k02.asc: new $FPR02" "$T/m2.out") $("$K" fetch --server "$M" --no-wkd user02@keydir.test >/dev/null 2>&1; echo $?)"
mkdir -p "$T/config/keydir"
printf 'server = "%s"\ntoken-file = "%s"\n' "$M" "$T/token" >"$T/config/keydir/config.toml"
rc=0
"$K" upload "$T/k/k03.asc" >"$T/m3.out" 2>"$T/m3.err" || rc=$?
check "managed: token-file in the config file: stored" "0 1" "$rc $(grep -c "k03.asc: new $FPR03" "$T/m3.out")"
rm "$T/config/keydir/config.toml"
rc=0
"$K" upload --server "$M" "$T/k/k04.asc" "$T/k/k05.asc" >"$T/m4.out" 2>"$T/m4.err" || rc=$?
check "managed: no token: exit 5, nothing stored" "5 0" "$rc $(wc -c <"$T/m4.out")"
check "managed: no token: each file named with the 401" 2 "$(grep -c 'k0[45].asc: key .*: not stored: HTTP 401' "$T/m4.err")"
check "managed: no token: what to do" 1 \
  "$(grep -c '^keydir upload: the directory takes uploads from its operators only: give --token-file FILE' "$T/m4.err")"
check "managed: no token: no word of a refused token" 0 "$(grep -c 'refused the token' "$T/m4.err" || true)"
openssl rand -hex 16 >"$T/wrong"
chmod 600 "$T/wrong"
rc=0
"$K" upload --server "$M" --token-file "$T/wrong" "$T/k/k04.asc" >/dev/null 2>"$T/m5.err" || rc=$?
check "managed: a wrong token: exit 5, the server refused the token" "5 1" \
  "$rc $(grep -c "the server refused the token from $T/wrong" "$T/m5.err")"
chmod 644 "$T/wrong"
sleep 1.2 # the access log is flushed every second
before=$(posts /pks/add "$T/managed.log")
rc=0
"$K" upload --server "$M" --token-file "$T/wrong" "$T/k/k04.asc" >/dev/null 2>"$T/m6.err" || rc=$?
check "a token file every user may read: refused, exit 2" "2 1" \
  "$rc $(grep -c "the operator token file $T/wrong is open to every user (mode 0644).*chmod 600" "$T/m6.err")"
rc=0
KEYDIR_TOKEN_FILE=$T/wrong "$K" upload --server "$M" "$T/k/k04.asc" >/dev/null 2>"$T/m7.err" || rc=$?
check "KEYDIR_TOKEN_FILE readable by all: refused, named by the variable" "2 1" \
  "$rc $(grep -c 'open to every user.*(named by KEYDIR_TOKEN_FILE)' "$T/m7.err")"
rc=0
timeout 20 "$K" upload --server http://192.0.2.1:11371 --timeout 2 --token-file "$T/token" "$T/k/k04.asc" \
  >/dev/null 2>"$T/m8.err" || rc=$?
check "plain http to another host: refused before connecting, exit 2" "2 1" \
  "$rc $(grep -c 'refusing to send the operator token: .*plain text over http://192.0.2.1.*use https:// or hkps://' "$T/m8.err")"
rc=0
"$K" upload --server hkp://keys.example.org --token-file "$T/token" "$T/k/k04.asc" >/dev/null 2>"$T/m9.err" || rc=$?
check "hkp:// to another host: refused, exit 2" "2 1" "$rc $(grep -c 'refusing to send the operator token' "$T/m9.err")"
sleep 1.2
check "the refused tokens never reached the server" "$before" "$(posts /pks/add "$T/managed.log")"
check "keydir verify --token-file: the key in, no address waits" "0 1" \
  "$("$K" verify --server "$M" --token-file "$T/token" "$T/k/k06.asc" >"$T/m10.out" 2>&1; echo $?) $(grep -c 'no address awaits confirmation' "$T/m10.out")"
check "the token is never printed" 0 "$(cat "$T"/m*.out "$T"/m*.err | grep -c "$TOKEN" || true)"
stop_keydird

finish "all client upload checks passed"
