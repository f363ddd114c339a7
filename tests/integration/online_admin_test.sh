#!/usr/bin/env bash
# Online administration end to end, under load: the real keydird on a free
# loopback port while wrk runs lookups (HKP, HKPv2, VKS, WKD) for the whole
# test and a background loop uploads distinct keys over HKP /pks/add.
#  1. `keydird backup` through the admin socket in the middle of the uploads:
#     the backup passes `check --deep`, holds every upload acknowledged before
#     the backup started, and serves it when started as a store of its own.
#  2. `keydird admin delete` takes effect at once on every protocol (HKP,
#     HKPv2, VKS, WKD, the web pages), past the answer cache; it is in the
#     audit log, the tombstone refuses a re-upload, `admin restore` lifts it.
#  3. wrk saw no socket error and no 5xx; the server is alive and consistent.
#   online_admin_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=${1:?usage: online_admin_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: online_admin_test.sh BUILD_DIR DATA_DIR}
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
use_temp_dir
WKS=$(gpgconf --list-dirs libexecdir)/gpg-wks-client
command -v wrk >/dev/null || { echo "wrk missing (Debian package wrk)"; exit 1; }
[ -x "$WKS" ] || { echo "gpg-wks-client missing (Debian package gpg-wks-client)"; exit 1; }

NKEYS=100
M=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA   # multi@keydir.test, tests/data/gpg-multi.asc
MADDR=multi@keydir.test
MH=$("$WKS" --print-wkd-hash "$MADDR" | cut -d' ' -f1)
fpr_of() { "$B/keydir" inspect --json "$1" | sed -n 's/.*"fingerprint": "\([0-9A-F]\{40\}\)".*/\1/p' | head -1; }
F1=$(fpr_of "$DATA/gpg-ed25519.asc")
F2=$(fpr_of "$DATA/gpg-rsa2048.asc")
F3=$(fpr_of "$DATA/gpg-nistp256.asc")

# NKEYS distinct Ed25519 certificates, one armored file each.
"$B/gen_certs" --count "$NKEYS" --seed 4711 --out "$T/certs.pgp" >/dev/null
mkdir "$T/keys"
python3 - "$T/certs.pgp" "$T/keys" <<'PY'
import base64, sys
buf = open(sys.argv[1], "rb").read()
certs, start, i = [], 0, 0
while i < len(buf):  # cut the keyring at each primary-key packet (tag 6)
    b = buf[i]
    if b & 0x40:
        tag, l1 = b & 0x3F, buf[i + 1]
        if l1 < 192: hl, bl = 2, l1
        elif l1 < 224: hl, bl = 3, ((l1 - 192) << 8) + buf[i + 2] + 192
        else: hl, bl = 6, int.from_bytes(buf[i + 2:i + 6], "big")
    else:
        tag, lt = (b >> 2) & 0x0F, b & 3
        hl = 1 + [1, 2, 4][lt]
        bl = int.from_bytes(buf[i + 1:i + hl], "big")
    if tag == 6 and i > start:
        certs.append(buf[start:i]); start = i
    i += hl + bl
certs.append(buf[start:])
for n, c in enumerate(certs):
    with open(f"{sys.argv[2]}/{n:04d}.asc", "w") as f:
        f.write("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + base64.encodebytes(c).decode()
                + "-----END PGP PUBLIC KEY BLOCK-----\n")
PY
KEYFILES=("$T"/keys/*.asc)
check "key files made" "$NKEYS" "${#KEYFILES[@]}"

"$B/keydird" import --data "$T/data" "$DATA"/gpg-*.asc >/dev/null 2>&1 || true
# start_server DATA_DIR NAME: keydird serve on a free port, its log
# $T/NAME.log; sets SPID and U.
start_server() {
  start_keydird "$2" --data "$1" --wkd-domain keydir.test --add-rate 0 --access-log off
  SPID=$SERVER_PID
}
start_server "$T/data" server
SERVER=$SPID
MAIN=$U
echo "keydird on $MAIN"
code() { curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@"; }
check "admin socket is mode 0600" 600 "$(stat -c %a "$T/data/admin.sock")"

# The lookups of the key that gets deleted, on every protocol: NAME|HOST|PATH.
URLS=(
  "HKP op=get by fingerprint||/pks/lookup?op=get&search=0x$M"
  "HKP op=get by address||/pks/lookup?op=get&search=$MADDR"
  "HKP op=index by address||/pks/lookup?op=index&options=mr&search=$MADDR"
  "HKPv2 by-vfingerprint||/pks/v2/certs/by-vfingerprint/04$M"
  "HKPv2 by-identity||/pks/v2/certs/by-identity/$MADDR"
  "VKS by-fingerprint||/vks/v1/by-fingerprint/$M"
  "VKS by-email||/vks/v1/by-email/$MADDR"
  "WKD advanced|openpgpkey.keydir.test|/.well-known/openpgpkey/keydir.test/hu/$MH?l=multi"
  "WKD direct|keydir.test|/.well-known/openpgpkey/hu/$MH?l=multi"
  "web page by fingerprint||/search?q=0x$M"
  "web page by address||/search?q=$MADDR"
)
fetch() {  # fetch "NAME|HOST|PATH": the status
  local host path
  host=$(echo "$1" | cut -d'|' -f2)
  path=$(echo "$1" | cut -d'|' -f3-)
  if [ -n "$host" ]; then code -H "Host: $host" "$MAIN$path"; else code "$MAIN$path"; fi
}
cache_hits() { curl -s "$MAIN/metrics" | sed -n 's/^keydir_answer_cache_lookups_total{result="hit"} //p'; }

# Calibration on the quiet server (no load, no writes): a lookup asked three
# times is answered from the cache the 2nd and 3rd time, so the same warm-up
# under load below does fill the cache with these answers. The web pages are
# not in the answer cache (HKP, HKPv2, VKS, WKD only: keydird serve --help).
for u in "${URLS[@]}"; do
  h0=$(cache_hits)
  for _ in 1 2 3; do fetch "$u" >/dev/null; done
  want=2
  [ "${u#web}" != "$u" ] && want=0
  check "quiet server: cache hits of ${u%%|*} asked 3 times" "$want" "$(($(cache_hits) - h0))"
done

# --- the load: wrk on lookups for the whole test ------------------------
cat >"$T/mix.lua" <<LUA
local reqs = {
  {"/pks/lookup?op=get&search=0x$F1"},
  {"/pks/lookup?op=get&search=0x$F2"},
  {"/pks/lookup?op=get&search=0x$F3"},
  {"/pks/lookup?op=get&search=0x$M"},
  {"/pks/lookup?op=index&options=mr&search=$MADDR"},
  {"/pks/v2/certs/by-vfingerprint/04$F1"},
  {"/vks/v1/by-fingerprint/$F2"},
  {"/vks/v1/by-email/$MADDR"},
  {"/.well-known/openpgpkey/hu/$MH?l=multi", "keydir.test"},
  {"/pks/lookup?op=get&search=0x0123456789ABCDEF0123456789ABCDEF01234567"},
}
local n = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s2, s4, s5, other = 0, 0, 0, 0 end
function request()
  n = n + 1
  local r = reqs[(n % #reqs) + 1]
  local h = {}
  if r[2] then h["Host"] = r[2] end
  return wrk.format("GET", r[1], h)
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 200 and status < 300 then s2 = s2 + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s2"); b = b + t:get("s4"); c = c + t:get("s5"); d = d + t:get("other")
  end
  io.write(string.format("status 2xx=%d 4xx=%d 5xx=%d other=%d\n", a, b, c, d))
end
LUA
# One wrk thread (of the two cores, one is left to the server and the test);
# stopped with SIGINT at the end, after which it prints its report.
wrk -t1 -c8 -d120s --timeout 10s -s "$T/mix.lua" "$MAIN" >"$T/wrk.out" 2>&1 &
WRK=$!
PIDS+=("$WRK")
# wrk is under way once the server has answered some of its requests.
requests_total() { curl -s "$MAIN/metrics" | awk '/^keydir_http_requests_total/ {n += $2} END {print n + 0}'; }
r0=$(requests_total)
wrk_answered() { [ "$(requests_total)" -ge $((r0 + 100)) ]; }
wait_for wrk_answered || true
check "wrk is running" 0 "$(kill -0 "$WRK" 2>/dev/null; echo $?)"

# --- 1. online backup in the middle of the uploads ----------------------
: >"$T/acked"
(
  for f in "${KEYFILES[@]}"; do
    out=$(curl -s --max-time 10 -w '\n%{http_code}' --data-urlencode "keytext@$f" \
      "$MAIN/pks/add") || continue
    if [ "${out##*$'\n'}" == 200 ]; then
      fpr=$(printf '%s\n' "$out" | sed -n 's/^new \([0-9A-F]\{40\}\)$/\1/p')
      [ -n "$fpr" ] && echo "$fpr" >>"$T/acked"
    fi
    sleep 0.03  # pacing: the uploads go on while the backup runs (the point)
  done
) &
UP=$!
PIDS+=("$UP")
acked_at_least() { [ "$(grep -c . "$T/acked" || true)" -ge "$1" ]; }
# A deadline, not a pause: on a loaded machine (fsync per upload) 30 took
# over 15 s.
wait_until 60 acked_at_least 30 || true
grep -E '^[0-9A-F]{40}$' "$T/acked" >"$T/acked.before" || true
NBEFORE=$(grep -c . "$T/acked.before" || true)
check "uploads acknowledged before the backup (>= 30)" 1 "$(( NBEFORE >= 30 ))"
check "backup (online, through the admin socket)" 0 \
  "$("$B/keydird" backup --data "$T/data" --out "$T/backup" >"$T/backup.out" 2>&1; echo $?)"
check "uploads still running when the backup returned" 0 "$(kill -0 "$UP" 2>/dev/null; echo $?)"
check "wrk still running when the backup returned" 0 "$(kill -0 "$WRK" 2>/dev/null; echo $?)"
"$B/keydird" check --data "$T/backup" --deep >"$T/check-backup.out" 2>&1 && rc=0 || rc=$?
check "backup: check --deep exit code" 0 "$rc"
check "backup: check --deep says consistent" 1 "$(grep -c ': consistent$' "$T/check-backup.out" || true)"
"$B/keydird" check --data "$T/backup" --expect "$T/acked.before" >"$T/expect.out" 2>&1 && rc=0 || rc=$?
check "backup holds all $NBEFORE uploads acknowledged before it started" 0 "$rc"
grep -q missing "$T/expect.out" && cat "$T/expect.out"
echo 0123456789ABCDEF0123456789ABCDEF01234567 >"$T/absent"
check "check --expect does notice a missing key (control)" 1 \
  "$("$B/keydird" check --data "$T/backup" --expect "$T/absent" >/dev/null 2>&1; echo $?)"
check "backup keeps token.key" 0 "$(cmp -s "$T/data/token.key" "$T/backup/token.key"; echo $?)"

wait "$UP" || true
check "every upload acknowledged ($NKEYS distinct keys)" "$NKEYS" "$(sort -u "$T/acked" | grep -cE '^[0-9A-F]{40}$')"

# The backup as a store of its own: a second keydird serves it.
start_server "$T/backup" server2
BK=$SPID
LAST=$(tail -n 1 "$T/acked.before")
check "restored backup serves an acknowledged key by fingerprint" 200 \
  "$(code "$U/pks/lookup?op=get&search=0x$LAST")"
check "restored backup serves multi@keydir.test" 200 "$(code "$U/vks/v1/by-email/$MADDR")"
stop_pid "$BK"

# --- 2. an admin delete takes effect at once, on every protocol ----------
# No write happens from here to the delete (the uploads are over; wrk only
# reads), so the answers warmed here stay in the cache until the delete.
h0=$(cache_hits)
for u in "${URLS[@]}"; do
  for i in 1 2 3; do check "before the delete: ${u%%|*} ($i)" 200 "$(fetch "$u")"; done
done
h1=$(cache_hits)
check "the answer cache answered the repeated lookups" 1 "$(( h1 - h0 >= 18 ))"
check "admin delete (online, under load)" 0 \
  "$("$B/keydird" admin delete --data "$T/data" "$M" --reason "e2e test" >"$T/delete.out" 2>&1; echo $?)"
for u in "${URLS[@]}"; do check "right after the delete: ${u%%|*}" 404 "$(fetch "$u")"; done
check "wrk still running when the delete returned" 0 "$(kill -0 "$WRK" 2>/dev/null; echo $?)"
"$B/keydird" admin log --data "$T/data" >"$T/log.out"
check "audit log: the delete with its fingerprint and reason" 1 \
  "$(grep -cE "delete key=$M reason=e2e test" "$T/log.out" || true)"
check "re-upload refused (tombstone)" 410 \
  "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$MAIN/pks/add")"
check "still not found after the refused upload" 404 "$(fetch "${URLS[0]}")"
check "admin restore (online)" 0 \
  "$("$B/keydird" admin restore --data "$T/data" "$M" >/dev/null 2>&1; echo $?)"
"$B/keydird" admin log --data "$T/data" >"$T/log.out"
check "audit log: the restore" 1 "$(grep -cE "restore key=$M" "$T/log.out" || true)"
check "re-upload after the restore" 200 \
  "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$MAIN/pks/add")"
for u in "${URLS[@]}"; do check "after the re-upload: ${u%%|*}" 200 "$(fetch "$u")"; done

# --- 3. wrk's report, the server alive and consistent --------------------
check "wrk still running at the end" 0 "$(kill -0 "$WRK" 2>/dev/null; echo $?)"
kill -INT "$WRK"
wait "$WRK" && rc=0 || rc=$?
check "wrk exit code" 0 "$rc"
cat "$T/wrk.out"
check "wrk: no socket errors" 0 "$(grep -c 'Socket errors' "$T/wrk.out" || true)"
check "wrk: no 5xx answer" 0 "$(sed -n 's/.* 5xx=\([0-9]*\).*/\1/p' "$T/wrk.out")"
check "wrk: requests answered 2xx (> 1000)" 1 \
  "$(( $(sed -n 's/^status 2xx=\([0-9]*\).*/\1/p' "$T/wrk.out") > 1000 ))"
check "server alive" 0 "$(kill -0 "$SERVER" 2>/dev/null; echo $?)"
check "healthz" 200 "$(code "$MAIN/healthz")"
"$B/keydird" check --data "$T/data" --expect "$T/acked" >"$T/check.out" 2>&1 && rc=0 || rc=$?
check "online check (with every acknowledged upload expected)" 0 "$rc"
check "online check says consistent" 1 "$(grep -c ': consistent$' "$T/check.out" || true)"
stop_pid "$SERVER" 30
check "server stops cleanly on SIGTERM" 0 "$STOP_RC"
check "offline check --deep after the stop" 0 \
  "$("$B/keydird" check --data "$T/data" --deep >/dev/null 2>&1; echo $?)"

finish "all online admin checks passed"
