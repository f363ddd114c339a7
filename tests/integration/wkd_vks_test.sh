#!/usr/bin/env bash
# End-to-end WKD and VKS test: the real keydird on a free loopback port with a
# temporary data folder, driven by gpg, gpg-wks-client, curl and python3's
# json; then `gpg --locate-keys` through WKD over HTTPS on port 443, in a
# private network and mount namespace (root only; CI is root).
#   wkd_vks_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=${1:?usage: wkd_vks_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: wkd_vks_test.sh BUILD_DIR DATA_DIR}
source "$(dirname "$0")/../support/harness.sh"
use_temp_dir
WKS=$(gpgconf --list-dirs libexecdir)/gpg-wks-client
[ -x "$WKS" ] || { echo "gpg-wks-client missing (Debian package gpg-wks-client)"; exit 1; }
G="timeout 30 gpg --batch --no-tty"
gpg_home() {
  local h="$T/gnupg-$1"
  mkdir -p "$h"
  chmod 700 "$h"
  echo "$h"
}

# Keys with unusual addresses, made by gpg: upper case, dots, '+', an
# apostrophe, a non-ASCII local part (left as is: only ASCII is lower-cased).
K=$(gpg_home keys)
ADDRS=("Joe.Doe@Example.ORG" "o'brien+tag@example.org" "ÄÖÜ@example.org" "UPPER.Case@KeyDir.test")
for a in "${ADDRS[@]}"; do
  GNUPGHOME=$K $G --passphrase '' --pinentry-mode loopback --quick-gen-key "Test <$a>" \
    ed25519 default never 2>/dev/null
done
GNUPGHOME=$K gpg --export --armor >"$T/unusual.asc"

"$B/keydird" import --data "$T/data" "$DATA"/gpg-*.asc "$T/unusual.asc" >/dev/null 2>&1 || true
start_keydird server --data "$T/data" --wkd-domain keydir.test \
  --wkd-domain Example.ORG --wkd-submission-address key-submission@keydir.test --add-rate 0
echo "keydird on $U"

# --- WKD: the URLs gpg-wks-client prints are the ones keydird answers ----
for a in "${ADDRS[@]}" multi@keydir.test; do
  url=$("$WKS" --print-wkd-url "$a")                  # advanced method
  host=$(echo "$url" | sed -E 's#https://([^/]*)/.*#\1#')
  path=$(echo "$url" | sed -E 's#https://[^/]*(/.*)#\1#')
  hash=$("$WKS" --print-wkd-hash "$a" | cut -d' ' -f1)
  domain=${host#openpgpkey.}
  check "WKD advanced URL of $a" 200 \
    "$(curl -s -o "$T/adv.bin" -w '%{http_code}' -H "Host: $host" "$U$path")"
  check "WKD direct URL of $a" 200 \
    "$(curl -s -o "$T/direct.bin" -w '%{http_code}' -H "Host: $domain" "$U/.well-known/openpgpkey/hu/$hash")"
  check "WKD both methods answer the same for $a" 0 "$(cmp -s "$T/adv.bin" "$T/direct.bin"; echo $?)"
  check "WKD answer holds just the address $a" "<$a>" \
    "$(gpg --with-colons --show-keys "$T/direct.bin" 2>/dev/null | awk -F: '/^uid/{print $10}' | sed 's/.*\(<.*>\)/\1/')"
done

MH=$("$WKS" --print-wkd-hash multi@keydir.test | cut -d' ' -f1)
check "WKD: binary, application/octet-stream" "application/octet-stream" \
  "$(curl -s -o /dev/null -w '%{content_type}' -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MH")"
curl -s -o "$T/multi.bin" -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MH"
check "WKD: not armored" 0 "$(grep -c 'BEGIN PGP' "$T/multi.bin" || true)"
check "WKD: other user IDs stripped (gpg --show-keys)" "keydir test multi <multi@keydir.test>" \
  "$(gpg --with-colons --show-keys "$T/multi.bin" 2>/dev/null | awk -F: '/^uid/{print $10}')"
check "WKD: subkeys kept" 2 \
  "$(gpg --with-colons --show-keys "$T/multi.bin" 2>/dev/null | grep -c '^sub')"
check "WKD: CORS" 1 "$(curl -s -D - -o /dev/null -H 'Host: keydir.test' \
  "$U/.well-known/openpgpkey/hu/$MH" | grep -ci '^Access-Control-Allow-Origin: \*')"
check "WKD: HEAD" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' -H 'Host: keydir.test' \
  "$U/.well-known/openpgpkey/hu/$MH")"
GH=$("$WKS" --print-wkd-hash gone@keydir.test | cut -d' ' -f1)
check "WKD: a revoked user ID is not served" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$GH")"
NH=$("$WKS" --print-wkd-hash nobody@keydir.test | cut -d' ' -f1)
check "WKD: unknown address 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$NH")"
check "WKD: unconfigured domain 404 (direct)" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: elsewhere.org' "$U/.well-known/openpgpkey/hu/$MH")"
check "WKD: unconfigured domain 404 (advanced)" 404 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: openpgpkey.elsewhere.org' "$U/.well-known/openpgpkey/elsewhere.org/hu/$MH")"
check "WKD: malformed hash 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/not-a-hash")"
check "WKD: policy (direct)" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: keydir.test' \
  "$U/.well-known/openpgpkey/policy")"
check "WKD: policy (advanced)" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: openpgpkey.example.org' "$U/.well-known/openpgpkey/example.org/policy")"
check "WKD: submission-address" "key-submission@keydir.test" "$(curl -s -H 'Host: keydir.test' \
  "$U/.well-known/openpgpkey/submission-address")"
check "WKD: POST is 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MH")"

# --- keydird wkd-export: the static tree answers what the server answers --
stop_keydird
check "wkd-export" 0 "$("$B/keydird" wkd-export --data "$T/data" --domain keydir.test --out "$T/wkd" >/dev/null 2>&1; echo $?)"
check "wkd-export: advanced layout" 0 "$(cmp -s "$T/multi.bin" "$T/wkd/.well-known/openpgpkey/keydir.test/hu/$MH"; echo $?)"
check "wkd-export: direct layout" 0 "$(cmp -s "$T/multi.bin" "$T/wkd/.well-known/openpgpkey/hu/$MH"; echo $?)"
check "wkd-export: policy files" 2 "$(ls "$T"/wkd/.well-known/openpgpkey/policy "$T"/wkd/.well-known/openpgpkey/keydir.test/policy | wc -l)"
check "wkd-export: no revoked address" 1 "$([ -e "$T/wkd/.well-known/openpgpkey/hu/$GH" ]; echo $?)"
check "wkd-export into a non-empty folder fails" 1 "$("$B/keydird" wkd-export --data "$T/data" --domain keydir.test --out "$T/wkd" >/dev/null 2>&1; echo $?)"
check "wkd-export: bad domain is a usage error" 2 "$("$B/keydird" wkd-export --data "$T/data" --domain 'a b' --out "$T/wkd2" >/dev/null 2>&1; echo $?)"

start_keydird server2 --data "$T/data" --add-rate 0

# --- VKS, as keys.openpgp.org answers ------------------------------------
MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA
check "VKS by-fingerprint" 200 "$(curl -s -o "$T/v.asc" -w '%{http_code}' "$U/vks/v1/by-fingerprint/$MFPR")"
check "VKS by-fingerprint is armored" 1 "$(grep -c 'BEGIN PGP PUBLIC KEY BLOCK' "$T/v.asc")"
check "VKS by-fingerprint content type" "application/pgp-keys" \
  "$(curl -s -o /dev/null -w '%{content_type}' "$U/vks/v1/by-fingerprint/$MFPR")"
check "VKS by-keyid" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-keyid/${MFPR:24}")"
check "VKS by-email (%40)" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-email/multi%40keydir.test")"
check "VKS by-email not found" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-email/nobody%40keydir.test")"
check "VKS malformed fingerprint" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-fingerprint/0x$MFPR")"
check "VKS malformed key ID" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-keyid/1234")"
check "VKS malformed address" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$U/vks/v1/by-email/nope")"

python3 -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$DATA/gpg-multi.asc" >"$T/upload.json"
check "VKS upload" 200 "$(curl -s -o "$T/up.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary "@$T/upload.json" "$U/vks/v1/upload")"
fields=$(python3 - "$T/up.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
# Hagrid's three members, and keydir's "reasons" for the withheld addresses
# (Hagrid clients ignore members they do not know).
print(sorted(j.keys()) == ["key_fpr", "reasons", "status", "token"]
      and j["reasons"] == {"gone@keydir.test": "its user ID is revoked"}, j["key_fpr"],
      j["status"] == {"multi@keydir.test": "published", "second@keydir.test": "published",
                      "gone@keydir.test": "revoked"},
      isinstance(j["token"], str) and len(j["token"]) > 20)
PY
)
check "VKS upload JSON: fields, key_fpr, status, token" "True $MFPR True True" "$fields"
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/up.json")
check "VKS request-verify" 200 "$(curl -s -o "$T/rv.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$TOKEN\", \"addresses\": [\"second@keydir.test\"]}" "$U/vks/v1/request-verify")"
check "VKS request-verify JSON" "True" "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["status"]=={"second@keydir.test":"published"} and j["key_fpr"]==sys.argv[2])' "$T/rv.json" "$MFPR")"
check "VKS request-verify bad token" '400 {"error":"invalid upload token"}' \
  "$(curl -s -w '%{http_code} ' -o "$T/e.json" -H 'Content-Type: application/json' \
  --data '{"token": "abc", "addresses": []}' "$U/vks/v1/request-verify")$(cat "$T/e.json")"
check "VKS upload without JSON content type" 400 "$(curl -s -o /dev/null -w '%{http_code}' \
  --data 'keytext=x' "$U/vks/v1/upload")"
check "VKS upload garbage: JSON error" 400 "$(curl -s -o "$T/e.json" -w '%{http_code}' \
  -H 'Content-Type: application/json' --data '{"keytext": "garbage"}' "$U/vks/v1/upload")"
check "VKS error body is {\"error\": ...}" True \
  "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(list(j)==["error"] and len(j["error"])>0)' "$T/e.json")"
python3 -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$DATA/gpg-secret-key.asc" >"$T/secret.json"
check "VKS upload of a secret key refused" 400 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary "@$T/secret.json" "$U/vks/v1/upload")"
stop_keydird

# --- gpg --locate-keys through WKD, over HTTPS on port 443 ---------------
# dirmngr asks https://openpgpkey.keydir.test/ (then https://keydir.test/) on
# port 443 and checks the certificate against the system's CAs. In a private
# network namespace (its own loopback, nothing reaches the host's network)
# and mount namespace, /etc/hosts names both hosts 127.0.0.1, the CA bundle
# holds only the test CA, and resolv.conf names 127.0.0.1 (dirmngr's SRV
# lookup then gets "refused" at once instead of "network unreachable", which
# it treats as fatal); keydird serves TLS on 127.0.0.1:443 there.
make_test_ca "$T" "openpgpkey.keydir.test" "DNS:openpgpkey.keydir.test,DNS:keydir.test" tls.pem tls.key
if unshare --net --mount true 2>/dev/null; then
  cp /etc/hosts "$T/hosts"
  printf '127.0.0.1 openpgpkey.keydir.test keydir.test\n' >>"$T/hosts"
  echo "nameserver 127.0.0.1" >"$T/resolv.conf"
  L=$(gpg_home locate)
  cat >"$T/locate.sh" <<EOF
set -e
source '$HARNESS_DIR/harness.sh'
ip link set lo up
mount --bind '$T/hosts' /etc/hosts
mount --bind '$T/resolv.conf' /etc/resolv.conf
mount --bind '$T/ca.pem' /etc/ssl/certs/ca-certificates.crt
'$B/keydird' serve --listen 127.0.0.1:443 --data '$T/data' --wkd-domain keydir.test \
  --tls-cert '$T/tls.pem' --tls-key '$T/tls.key' >'$T/ns-server.log' 2>&1 &
pid=\$!
wait_serving '$T/ns-server.log' \$pid
rc=0
GNUPGHOME='$L' timeout 60 gpg --batch --auto-key-locate clear,nodefault,wkd \
  --locate-keys multi@keydir.test >'$T/locate.out' 2>&1 || rc=\$?
GNUPGHOME='$L' gpgconf --kill all
stop_pid \$pid
exit \$rc
EOF
  rc=0
  unshare --net --mount bash "$T/locate.sh" >/dev/null 2>&1 || rc=$?
  check "gpg --locate-keys through WKD (HTTPS, port 443)" 0 "$rc"
  [ "$rc" = 0 ] || cat "$T/locate.out" "$T/ns-server.log"
  check "located key is the one stored" "$MFPR" \
    "$(GNUPGHOME=$L gpg --with-colons --list-keys multi@keydir.test 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')"
  check "located key carries only the WKD address" "keydir test multi <multi@keydir.test>" \
    "$(GNUPGHOME=$L gpg --with-colons --list-keys "$MFPR" 2>/dev/null | awk -F: '/^uid/{print $10}')"
  check "keydird answered over TLS in the namespace" 1 \
    "$(grep -c "GET /.well-known/openpgpkey/keydir.test/hu/$MH[^ ]* 200" "$T/ns-server.log" || true)"
else
  echo "skip  gpg --locate-keys through WKD: needs root for a private network namespace (this run is not root)"
fi

on_failure() { echo "--- server log"; tail -n 30 "$T/server.log"; }
finish "all WKD and VKS checks passed"
