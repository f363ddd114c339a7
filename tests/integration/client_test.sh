#!/usr/bin/env bash
# keydir, the client, end to end: the real keydird on loopback (plain and
# HKPS with a test CA), gpg for the import, and a fake misbehaving server.
#   client_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=${1:?usage: client_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: client_test.sh BUILD_DIR DATA_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
K="$B/keydir"
unset KEYDIR_SERVER
export XDG_CONFIG_HOME=$T/config   # no user configuration

start_keydird server --data "$T/data" --add-rate 0 --wkd-domain keydir.test
S=$U

# --- every fixture algorithm: upload, then fetch by fingerprint, key ID and
#     address, through HKP, VKS and WKD --------------------------------------
n=0
for f in "$DATA"/gpg-*.asc "$DATA"/sq-*.asc; do
  case "$f" in *secret* | *tampered* | *revocation-only* | *bad-* ) continue ;; esac
  name=$(basename "$f" .asc)
  fpr=$("$K" inspect --json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])' 2>/dev/null || true)
  [ -n "$fpr" ] || continue
  addr=$("$K" inspect --json "$f" | python3 -c '
import json,re,sys
for u in json.load(sys.stdin)["certificates"][0].get("user_ids", []):
    m = re.search(r"<([^>]+)>", u.get("user_id", ""))
    if m and not u.get("revoked"):
        print(m.group(1)); break' 2>/dev/null || true)
  n=$((n + 1))
  check "$name: upload" 0 "$("$K" upload --server "$S" "$f" >/dev/null 2>&1; echo $?)"
  check "$name: fetch by fingerprint (HKP)" "$fpr" \
    "$("$K" fetch --server "$S" "$fpr" | "$K" inspect --json - | python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])')"
  check "$name: fetch by key ID (VKS)" 0 "$("$K" fetch --vks --server "$S" "0x${fpr:24}" >/dev/null 2>&1; echo $?)"
  if [ -n "$addr" ]; then
    check "$name: fetch by address (HKP)" 0 "$("$K" fetch --no-wkd --server "$S" "$addr" >/dev/null 2>&1; echo $?)"
    check "$name: fetch by address (WKD only)" 0 \
      "$("$K" fetch --wkd-host "$S" "$addr" >/dev/null 2>&1; echo $?)"
  fi
done
check "fixtures exercised" 1 "$([ "$n" -ge 15 ] && echo 1 || echo 0)"

MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA
G=$T/gnupg-import
mkdir -m 700 "$G"
check "fetch --import hands the key to gpg" "0 $MFPR" \
  "$(GNUPGHOME=$G "$K" fetch --server "$S" --import "$MFPR" >/dev/null 2>&1; echo $?) $(GNUPGHOME=$G gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')"
check "fetch --binary --output" 0 "$("$K" fetch --server "$S" --binary -o "$T/k.pgp" "$MFPR" >/dev/null 2>&1; gpg --show-keys "$T/k.pgp" >/dev/null 2>&1; echo $?)"
check "not found: exit 1" 1 "$("$K" fetch --server "$S" --no-wkd nobody@keydir.test >/dev/null 2>&1; echo $?)"
check "a 32-bit key ID is a usage error" 2 "$("$K" fetch --server "$S" 0x2BE692AA >/dev/null 2>&1; echo $?)"
check "no server: exit 2" 2 "$("$K" fetch "$MFPR" >/dev/null 2>&1; echo $?)"
check "connection refused: exit 3" 3 "$("$K" fetch --server http://127.0.0.1:1 "$MFPR" >/dev/null 2>&1; echo $?)"
check "unknown WKD host falls through fast to the server" 0 \
  "$(timeout 20 "$K" fetch --server "$S" --wkd-host https://127.0.0.1:1 multi@keydir.test >/dev/null 2>&1; echo $?)"
check "upload of a secret key: exit 2, nothing sent" "2 1" \
  "$("$K" upload --server "$S" "$DATA/gpg-secret-key.asc" >/dev/null 2>"$T/err"; echo $?) $(grep -c 'SECRET key; nothing was sent' "$T/err")"
check "upload prints what the server did, naming the file" "$DATA/gpg-multi.asc: unchanged $MFPR" "$("$K" upload --server "$S" "$DATA/gpg-multi.asc" 2>/dev/null | head -n 1)"
check "search: a table" 1 "$("$K" search --server "$S" multi@keydir.test | grep -c "^$MFPR  EdDSALegacy")"
check "search --json" "$MFPR" "$("$K" search --server "$S" --json multi@keydir.test | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key"])')"
for a in alice@keydir.test Joe.Doe@Example.ORG "o'brien+tag@example.org"; do
  check "wkd-url $a equals gpg-wks-client" "$("$(gpgconf --list-dirs libexecdir)/gpg-wks-client" --print-wkd-url "$a")" \
    "$("$K" wkd-url "$a" | head -n 1)"
done

# --- a misbehaving server: an error exit, nothing on standard output ------
for mode in wrongkey:6 truncated:4 garbage:4 error:3; do
  m=${mode%:*}
  want=${mode#*:}
  FP=$(free_port)
  python3 "$HERE/fake_keyserver.py" "$FP" "$m" "$DATA/gpg-rsa2048.asc" >/dev/null &
  PIDS+=($!)
  wait_port 127.0.0.1 "$FP" || true
  check "fake server ($m): exit $want, empty stdout" "$want 0" \
    "$("$K" fetch --server "http://127.0.0.1:$FP" "$MFPR" >"$T/out" 2>/dev/null; echo $?) $(wc -c <"$T/out")"
done
FP=$(free_port)
python3 "$HERE/fake_keyserver.py" "$FP" wrongkey "$DATA/gpg-rsa2048.asc" >/dev/null &
PIDS+=($!)
wait_port 127.0.0.1 "$FP" || true
check "a WKD host answering another key: exit 6, empty stdout" "6 0" \
  "$("$K" fetch --wkd-host "http://127.0.0.1:$FP" multi@keydir.test >"$T/out" 2>/dev/null; echo $?) $(wc -c <"$T/out")"

# --- HKPS with a test CA ---------------------------------------------------
make_test_ca "$T" "localhost" "DNS:localhost" tls.pem tls.key
start_keydird tls --data "$T/tdata" --tls-cert "$T/tls.pem" --tls-key "$T/tls.key" --add-rate 0
TPORT=$PORT
check "hkps: upload with --cacert" 0 "$("$K" upload --server "hkps://localhost:$TPORT" --cacert "$T/ca.pem" "$DATA/gpg-multi.asc" >/dev/null 2>&1; echo $?)"
check "hkps: fetch with --cacert" 0 "$("$K" fetch --server "hkps://localhost:$TPORT" --cacert "$T/ca.pem" "$MFPR" >/dev/null 2>&1; echo $?)"
check "hkps: without the CA, a TLS error (exit 3)" "3 1" \
  "$("$K" fetch --server "hkps://localhost:$TPORT" "$MFPR" >/dev/null 2>"$T/err"; echo $?) $(grep -c 'TLS failed' "$T/err")"

# --- configuration: KEYDIR_SERVER and the config file ----------------------
check "KEYDIR_SERVER" 0 "$(KEYDIR_SERVER=$S "$K" fetch "$MFPR" >/dev/null 2>&1; echo $?)"
mkdir -p "$T/config/keydir"
printf 'server = "%s"\n' "$S" >"$T/config/keydir/config.toml"
check "config file server" 0 "$("$K" fetch "$MFPR" >/dev/null 2>&1; echo $?)"

finish "all client checks passed"
