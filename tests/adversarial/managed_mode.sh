#!/usr/bin/env bash
# Issue #20: an organization's directory (managed mode, uploads by operator
# token) runs without a mail relay, says what is true, and the upload limit
# counts keys without holding the operator back.
#   managed_mode.sh BUILD_DIR DATA_DIR TOOLS_DIR
# 1. managed + token without --smtp-*: it starts, its log speaks of this
#    mode; the operator's upload of a key with alice@keydir.test and
#    someone@gmail.example says which address was published and which
#    withheld and why (HKP and VKS); the armor's Comment is true; VKS
#    request-verify and /manage are refused clearly (never 503, no mail).
# 2. the upload limit counts keys: a 200-key keyring passes, the next upload
#    from that address is 429 with a Retry-After that matches the debt.
# 3. an operator with a token is not held by the anonymous limit; a wrong
#    token counts against the token attempts' limit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v gpg >/dev/null || { echo "managed_mode: gpg is missing"; exit 1; }
TOKEN=0123456789abcdef0123456789abcdef
printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
BEARER=(-H "Authorization: Bearer $TOKEN")

# A key with an address at the managed domain and one outside it.
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --passphrase '' --quick-gen-key 'Alice <alice@keydir.test>' ed25519 sign never 2>/dev/null
FPR=$(gpg --with-colons --list-keys alice@keydir.test 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg -q --batch --passphrase '' --quick-add-uid "$FPR" 'Alice <someone@gmail.example>' 2>/dev/null
gpg -q --armor --export "$FPR" >"$T/alice.asc"

# --- 1. Managed mode by token, no mail relay ----------------------------------
attack "managed mode by token without --smtp-url: start, upload, look up, ask for mail"
start_keydird managed --mode managed --wkd-domain keydir.test --operator-token-file "$T/token"
check "serve starts without --smtp-url/--smtp-from" 1 "$(grep -c '^keydird: serving' "$T/managed.log")"
check "the startup log says only operators upload and nothing is mailed" 1 \
  "$(grep -c 'publishing mode managed (keydir.test): only operators upload.*nothing is mailed' "$T/managed.log")"
check "the startup log never promises a confirmation by the owner" 0 \
  "$(grep -c 'owner confirms' "$T/managed.log" || true)"

code=$(curl -s -o "$T/add.out" -w '%{http_code}' "${BEARER[@]}" --data-urlencode "keytext@$T/alice.asc" "$U/pks/add")
answered "operator's /pks/add" "$(cat "$T/add.out")"
check "the operator's upload is taken" 200 "$code"
check "the answer names the key" "new $FPR" "$(sed -n 1p "$T/add.out")"
check "alice@keydir.test is published" 1 "$(grep -cx '  published alice@keydir.test' "$T/add.out")"
check "someone@gmail.example is withheld, outside the managed domains" 1 \
  "$(grep -cx '  withheld someone@gmail.example: outside the domains this directory serves (keydir.test)' "$T/add.out")"
check "nothing else in the answer" 3 "$(wc -l <"$T/add.out")"
code=$(curl -s -o "$T/add2.out" -w '%{http_code}' "${BEARER[@]}" --data-urlencode "keytext@$T/alice.asc" "$U/pks/add")
check "again: unchanged, the same address lines" "200 unchanged $FPR|  published alice@keydir.test" \
  "$code $(head -n 2 "$T/add2.out" | paste -sd '|')"
check "anonymous upload: 401" 401 "$(http_status "$U/pks/add" --data-urlencode "keytext@$T/alice.asc")"

curl -s "$U/pks/lookup?op=get&search=0x$FPR" >"$T/get.asc"
check "HKP get: the Comment says what this directory publishes" 1 \
  "$(grep -cx "Comment: only user IDs with addresses at keydir.test that this directory's operators published" "$T/get.asc")"
check "HKP get: no word of e-mail confirmation" 0 "$(grep -c 'e-mail' "$T/get.asc" || true)"
check "by the outside address: not found" 404 "$(http_status "$U/pks/lookup?op=get&search=someone@gmail.example")"
check "by the managed address: found" 200 "$(http_status "$U/pks/lookup?op=get&search=alice@keydir.test")"

python3 -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' "$T/alice.asc" >"$T/up.json"
code=$(curl -s -o "$T/vks.json" -w '%{http_code}' "${BEARER[@]}" -H 'Content-Type: application/json' \
  --data-binary "@$T/up.json" "$U/vks/v1/upload")
answered "operator's VKS upload" "$(cat "$T/vks.json")"
check "VKS upload by the operator" 200 "$code"
vks() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/vks.json" "$1"; }
check "VKS status: alice published" published "$(vks 'd["status"].get("alice@keydir.test")')"
check "VKS status: the outside address is not offered for mail" None "$(vks 'd["status"].get("someone@gmail.example")')"
check "VKS reasons: why it is withheld" "outside the domains this directory serves (keydir.test)" \
  "$(vks 'd["reasons"]["someone@gmail.example"]')"
VTOKEN=$(vks 'd["token"]')
code=$(curl -s -o "$T/rv.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$VTOKEN\", \"addresses\": [\"someone@gmail.example\"]}" "$U/vks/v1/request-verify")
answered "request-verify" "$code $(cat "$T/rv.json")"
check "VKS request-verify: refused as the client's request (400), not the relay's (503)" 400 "$code"
check "VKS request-verify: says why" "this directory publishes addresses by its operators only; ask them" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/rv.json")"
code=$(curl -s -o "$T/manage.out" -w '%{http_code}' --data 'email=alice@keydir.test' "$U/manage")
answered "POST /manage" "$code $(head -c 200 "$T/manage.out")"
check "/manage: no 5xx (no relay is tried)" 1 "$([ "$code" -lt 500 ] && echo 1 || echo 0)"
check "the server is alive after every request" 200 "$(http_status "$U/healthz")"
check "no mail relay was tried" 0 "$(grep -ci 'relay\|mail_failed\|could not be sent' "$T/managed.log" || true)"
stop_keydird

# --- 2. The upload limit counts keys: debt ------------------------------------
attack "a 200-key keyring from one address, then one more upload"
"$TOOLS/gen_certs" --count 201 --seed 2020 --out "$T/k201.pgp" >/dev/null
python3 - "$T/k201.pgp" "$T/k200.pgp" "$T/k1.pgp" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
# Split the concatenated certificates at each public-key packet (tag 6,
# either header form) by walking the packets.
certs, i, start = [], 0, 0
while i < len(data):
    b = data[i]
    if b & 0x40:
        tag = b & 0x3f; l0 = data[i + 1]
        if l0 < 192: hl, ln = 2, l0
        elif l0 < 224: hl, ln = 3, ((l0 - 192) << 8) + data[i + 2] + 192
        else: hl, ln = 6, int.from_bytes(data[i + 2:i + 6], 'big')
    else:
        tag = (b >> 2) & 0xf; lt = b & 3
        n = {0: 1, 1: 2, 2: 4}[lt]
        hl, ln = 1 + n, int.from_bytes(data[i + 1:i + 1 + n], 'big')
    if tag == 6 and i != start:
        certs.append(data[start:i]); start = i
    i += hl + ln
certs.append(data[start:])
assert len(certs) == 201, len(certs)
open(sys.argv[2], 'wb').write(b''.join(certs[:200]))
open(sys.argv[3], 'wb').write(certs[200])
EOF
start_keydird limits --access-log off
t0=$(date +%s.%N)
code=$(curl -s -o "$T/big.out" -w '%{http_code}' --data-urlencode "keytext@$T/k200.pgp" "$U/pks/add")
check "a 200-key keyring passes the default limit (burst 40 keys)" 200 "$code"
check "all 200 keys are new" 200 "$(grep -c '^new ' "$T/big.out")"
curl -s -D "$T/next.h" -o "$T/next.out" --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add" >/dev/null
t1=$(date +%s.%N)
check "the next upload from that address waits: 429" 1 "$(grep -c '^HTTP/1.1 429' "$T/next.h")"
RA=$(sed -n 's/^Retry-After: \([0-9]*\).*/\1/Ip' "$T/next.h")
# 40 saved, 1 taken at entry, 199 charged: 160 in debt; at 30 a minute the
# next token comes after (160 + 1) * 2 = 322 s, less the seconds since.
expect=$(python3 -c "import math; print(math.ceil(322 - ($t1 - $t0)))")
answered "Retry-After" "$RA (the debt says about $expect)"
check "Retry-After matches the debt (within 3 s)" 1 \
  "$(python3 -c "print(1 if abs(${RA:-0} - $expect) <= 3 else 0)")"
check "another client (127.0.0.2) is not held by that debt" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")"
check "lookups are not limited" 200 "$(http_status "$U/pks/lookup?op=stats")"
stop_keydird

# --- 3. The operator is not held by the anonymous limit -----------------------
attack "an operator uploads past a tiny anonymous limit; a guesser tries tokens"
start_keydird op --mode managed --wkd-domain keydir.test --operator-token-file "$T/token" \
  --add-rate 1 --add-burst 1 --auth-rate 1 --auth-burst 4 --access-log off
ok=0
for _ in 1 2 3; do
  c=$(curl -s -o /dev/null -w '%{http_code}' "${BEARER[@]}" --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")
  [ "$c" = 200 ] && ok=$((ok + 1))
done
check "3 operator uploads in a row with --add-burst 1: all taken" 3 "$ok"
check "the operator's 200-key keyring is not charged to the anonymous limit" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "${BEARER[@]}" --data-urlencode "keytext@$T/k200.pgp" "$U/pks/add")"
# 4 attempts with a token were allowed (3 right, 1 big): the next one with a
# wrong token is the fifth: 429, and a right one after it too.
c=$(curl -s -D "$T/wrong.h" -o "$T/wrong.out" -w '%{http_code}' -H 'Authorization: Bearer wrongwrongwrongwrongwrongwrong00' \
  --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")
answered "a wrong token after 4 attempts" "$c $(cat "$T/wrong.out")"
check "a wrong token counts against the token attempts' limit: 429" 429 "$c"
check "it names the token attempts" 1 "$(grep -c 'too many operator token attempts' "$T/wrong.out")"
stop_keydird
start_keydird op2 --mode managed --wkd-domain keydir.test --operator-token-file "$T/token" \
  --auth-rate 1 --auth-burst 2 --access-log off
c1=$(http_status "$U/pks/add" -H 'Authorization: Bearer wrongwrongwrongwrongwrongwrong00' --data-urlencode "keytext@$T/k1.pgp")
c2=$(http_status "$U/pks/add" -H 'Authorization: Bearer wrongwrongwrongwrongwrongwrong00' --data-urlencode "keytext@$T/k1.pgp")
c3=$(http_status "$U/pks/add" "${BEARER[@]}" --data-urlencode "keytext@$T/k1.pgp")
check "two wrong tokens (401, 401), then the right one is locked out too (429)" "401 401 429" "$c1 $c2 $c3"
stop_keydird
finish
