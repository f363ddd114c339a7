#!/usr/bin/env bash
# Publishing modes end to end: keydird in verified and managed mode on a
# loopback port, a real SMTP server receiving the mails (Debian's
# python3-aiosmtpd writing a Maildir), curl following the links, gpg as the
# legacy client.   verify_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=${1:?usage: verify_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: verify_test.sh BUILD_DIR DATA_DIR}
PY=/usr/bin/python3  # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
source "$(dirname "$0")/../support/harness.sh"
use_temp_dir
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# The SMTP server: every message lands in $T/mail/new.
start_smtp_sink
mails() { ls "$T/mail/new" 2>/dev/null | wc -l; }
mails_at_least() { [ "$(mails)" -ge "$1" ]; }
last_link() {  # the link in the newest mail to $1
  grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | xargs -r ls -t | head -n 1 |
    xargs -r grep -o 'http://[^ ]*/\(verify\|manage\)/[a-z0-9]*' | head -n 1
}
has_link() { last_link "$1" | grep -q "/$2/"; }  # has_link ADDRESS verify|manage

start() {  # start NAME ARGS...: keydird on a free port (its log $T/NAME.log); sets PORT, U
  local port
  port=$(free_port)
  LISTEN=127.0.0.1:$port start_keydird "$1" --public-url "http://127.0.0.1:$port" --add-rate 0 "${@:2}"
}
stop() { stop_keydird; }

MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA  # gpg-multi: multi@, second@, gone@ (revoked)
MH=$(gpgconf --list-dirs libexecdir)/gpg-wks-client
MHASH=$("$MH" --print-wkd-hash multi@keydir.test | cut -d' ' -f1)
SMTP="--smtp-url smtp://127.0.0.1:$SPORT --smtp-from keys@keydir.test"

# --- verified mode -----------------------------------------------------------
check "verified mode needs a mail relay" 2 "$("$B/keydird" serve --data "$T/x" --mode verified >/dev/null 2>&1; echo $?)"
start verified --data "$T/data" --mode verified $SMTP --wkd-domain keydir.test
check "startup log names the mode" 1 "$(grep -c 'publishing mode verified' "$T/verified.log")"
check "upload" 200 "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")"
check "unverified: HKP by e-mail 404" 404 "$(code "$U/pks/lookup?op=get&search=multi@keydir.test")"
check "unverified: VKS by-email 404" 404 "$(code "$U/vks/v1/by-email/multi@keydir.test")"
check "unverified: WKD 404" 404 "$(code -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MHASH")"
check "unverified: no search by words" 404 "$(code "$U/pks/lookup?op=index&options=mr&search=keydir+test")"
curl -s "$U/pks/lookup?op=get&search=0x$MFPR" >"$T/nouid.asc"
check "by fingerprint: the key without user IDs" "0 1" \
  "$(gpg --with-colons --show-keys "$T/nouid.asc" 2>/dev/null | grep -c '^uid' || true) $(gpg --with-colons --show-keys "$T/nouid.asc" 2>/dev/null | grep -c '^pub')"
check "by fingerprint: the answer says why, without a count" 1 "$(grep -c '^Comment: only user IDs whose owners confirmed their addresses by e-mail' "$T/nouid.asc")"

"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$DATA/gpg-multi.asc" >"$T/up.json"
curl -s -H 'Content-Type: application/json' --data-binary "@$T/up.json" "$U/vks/v1/upload" >"$T/up.out"
check "VKS status before confirmation" "unpublished unpublished revoked" \
  "$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["status"]; print(s["multi@keydir.test"], s["second@keydir.test"], s["gone@keydir.test"])' "$T/up.out")"
TOKEN=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/up.out")
check "request-verify" "200 pending" "$(curl -s -o "$T/rv.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$TOKEN\", \"addresses\": [\"multi@keydir.test\"]}" "$U/vks/v1/request-verify") $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"]["multi@keydir.test"])' "$T/rv.out")"
check "request-verify of a revoked address: no mail, state revoked" "200 revoked" \
  "$(curl -s -o "$T/rv2.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$TOKEN\", \"addresses\": [\"gone@keydir.test\"]}" "$U/vks/v1/request-verify") $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"]["gone@keydir.test"])' "$T/rv2.out")"
wait_for mails_at_least 1 || true
check "the mail arrived" 1 "$(mails)"
LINK=$(last_link multi@keydir.test)
check "the mail holds a link to this server" 1 "$(echo "$LINK" | grep -c "^$U/verify/")"
check "the link's page (GET) does not publish" "200 404" \
  "$(code "$LINK") $(code "$U/vks/v1/by-email/multi@keydir.test")"
check "confirming (POST) publishes" 200 "$(code -X POST "$LINK")"
check "the link works once: followed again, it publishes nothing and says so" "200 1" \
  "$(curl -s -o "$T/again.html" -w '%{http_code}' -X POST "$LINK") $(grep -c 'is already published' "$T/again.html" || true)"
# Opened again, a used link says what it did (issue #20), whatever the status.
check "the used link, opened again, says the address is already published, since when" 1 \
  "$(curl -s "$LINK" | grep -c 'multi@keydir.test is already published with the key .* since 20' || true)"
check "verified: HKP by e-mail" 200 "$(code "$U/pks/lookup?op=get&search=multi@keydir.test")"
check "verified: VKS by-email" 200 "$(code "$U/vks/v1/by-email/multi%40keydir.test")"
check "verified: WKD" 200 "$(code -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MHASH")"
check "verified: HKP index by e-mail" 1 "$(curl -s "$U/pks/lookup?op=index&options=mr&search=multi@keydir.test" | grep -c "^uid:keydir test multi <multi@keydir.test>")"
curl -s "$U/pks/lookup?op=get&search=0x$MFPR" >"$T/one.asc"
check "by fingerprint: only the published user ID" "keydir test multi <multi@keydir.test>" \
  "$(gpg --with-colons --show-keys "$T/one.asc" 2>/dev/null | awk -F: '/^uid/{print $10}')"
curl -s "$U/pks/lookup?op=get&search=multi@keydir.test" >"$T/byemail.asc"
check "by e-mail: only that address's user ID" 1 \
  "$(gpg --with-colons --show-keys "$T/byemail.asc" 2>/dev/null | grep -c '^uid')"
check "re-upload keeps the confirmed address" "200 200" \
  "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add") $(code "$U/vks/v1/by-email/multi@keydir.test")"

# The manage link unpublishes.
check "manage: ask for a link" 200 "$(code --data 'email=multi@keydir.test' "$U/manage")"
wait_for has_link multi@keydir.test manage || true
MLINK=$(last_link multi@keydir.test)
check "manage link in the mail" 1 "$(echo "$MLINK" | grep -c "/manage/")"
check "manage: unpublish" 200 "$(code --data 'address=multi@keydir.test' "$MLINK")"
check "unpublished: by e-mail 404" 404 "$(code "$U/vks/v1/by-email/multi@keydir.test")"
check "the used link now says the address is no longer published" 1 \
  "$(curl -s "$LINK" | grep -c 'is no longer published' || true)"
code -X POST "$LINK" >/dev/null
check "the used link does not publish it again" 404 "$(code "$U/vks/v1/by-email/multi@keydir.test")"
check "manage link lists nothing left" 0 "$(curl -s "$MLINK" | grep -c 'value="multi@keydir.test"' || true)"
check "manage for an unknown address says the same" 200 "$(code --data 'email=nobody@keydir.test' "$U/manage")"

# A second key claiming the same address stays unpublished.
K=$(mktemp -d "$T/gnupg-mallory.XXXX")
GNUPGHOME=$K gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Mallory <multi@keydir.test>' ed25519 default never 2>/dev/null
GNUPGHOME=$K gpg --armor --export >"$T/mallory.asc"
check "impostor upload stored" 200 "$(code --data-urlencode "keytext@$T/mallory.asc" "$U/pks/add")"
check "by e-mail: the impostor is not found" 404 "$(code "$U/pks/lookup?op=get&search=multi@keydir.test")"

# Rate limit per address: the burst (2) is spent by two more requests.
"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' "$T/mallory.asc" >"$T/m.json"
MTOKEN=$(curl -s -H 'Content-Type: application/json' --data-binary "@$T/m.json" "$U/vks/v1/upload" |
  "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rv() { code -H 'Content-Type: application/json' --data "{\"token\": \"$MTOKEN\", \"addresses\": [\"multi@keydir.test\"]}" "$U/vks/v1/request-verify"; }
rv >/dev/null; rv >/dev/null
check "rate limit per address: 429 once the burst is spent" 429 "$(rv)"

# gpg 2.2 and a key without user IDs: new to it, refused ("no user ID");
# already in its keyring, updates (a revocation) still arrive.
G=$(mktemp -d "$T/gnupg-legacy.XXXX")
chmod 700 "$G"
echo "keyserver hkp://127.0.0.1:$PORT" >"$G/dirmngr.conf"
A=$(mktemp -d "$T/gnupg-alice.XXXX")
chmod 700 "$A"
GNUPGHOME=$A gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Alice <alice@keydir.test>' ed25519 default never 2>/dev/null
AFPR=$(GNUPGHOME=$A gpg --with-colons --list-keys | awk -F: '/^fpr/{print $10; exit}')
GNUPGHOME=$A gpg --armor --export >"$T/alice.asc"
check "alice uploads (address unconfirmed)" 200 "$(code --data-urlencode "keytext@$T/alice.asc" "$U/pks/add")"
GNUPGHOME=$G timeout 30 gpg --batch --recv-keys "$AFPR" </dev/null >"$T/recv.out" 2>&1 || true
check "gpg --recv-keys skips a key with no published user ID when it is new to gpg" "1 0" \
  "$(grep -c 'contains no user ID' "$T/recv.out") $(GNUPGHOME=$G gpg --with-colons --list-keys "$AFPR" 2>/dev/null | grep -c '^pub' || true)"
GNUPGHOME=$G gpg --batch --import "$T/alice.asc" 2>/dev/null
sed 's/^:-----BEGIN/-----BEGIN/' "$A/openpgp-revocs.d/$AFPR.rev" >"$T/alice.rev"
check "alice's revocation uploaded" 200 "$(code --data-urlencode "keytext@$T/alice.rev" "$U/pks/add")"
GNUPGHOME=$G timeout 30 gpg --batch --refresh-keys </dev/null >/dev/null 2>&1 || true
check "gpg --refresh-keys gets the revocation of a key without published user IDs" r \
  "$(GNUPGHOME=$G gpg --with-colons --list-keys "$AFPR" 2>/dev/null | awk -F: '/^pub/{print $2}')"

# The web form: upload, then "send confirmation mails" from the result page.
BK=$(mktemp -d "$T/gnupg-bob.XXXX")
GNUPGHOME=$BK gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Bob <bob@keydir.test>' ed25519 default never 2>/dev/null
GNUPGHOME=$BK gpg --armor --export >"$T/bob.asc"
curl -s -F "keytext=<$T/bob.asc" "$U/upload" >"$T/bob.html"
check "upload page lists the address as unpublished" 1 "$(grep -c 'bob@keydir.test</label> <span class="tag">unpublished' "$T/bob.html")"
BTOKEN=$(sed -n 's/.*name="token" value="\([0-9A-F]*\)".*/\1/p' "$T/bob.html" | head -n 1)
before=$(mails)
check "upload page: send confirmation mails" 200 "$(code --data "token=$BTOKEN&address=bob%40keydir.test" "$U/upload/verify")"
wait_for mails_at_least $((before + 1)) || true
check "the form's mail arrived" 1 "$(last_link bob@keydir.test | grep -c /verify/)"
check "the form's link publishes" "200 200" "$(code -X POST "$(last_link bob@keydir.test)") $(code "$U/vks/v1/by-email/bob@keydir.test")"
check "a forged upload token is refused" 400 "$(code --data "token=00&address=bob%40keydir.test" "$U/upload/verify")"

# The client: keydir upload --verify mails the links at once.
CK=$(mktemp -d "$T/gnupg-carol.XXXX")
GNUPGHOME=$CK gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Carol <carol@keydir.test>' ed25519 default never 2>/dev/null
GNUPGHOME=$CK gpg --armor --export >"$T/carol.asc"
"$B/keydir" upload --server "$U" "$T/carol.asc" >"$T/carol.out" 2>&1 || true
check "keydir upload names the addresses awaiting confirmation" "1 1" \
  "$(grep -c '^  withheld carol@keydir.test: .*confirm' "$T/carol.out") $(grep -c 'carol.asc: keydir verify --server' "$T/carol.out")"
check "keydir verify mails the link" "0 1" "$("$B/keydir" verify --server "$U" "$T/carol.asc" >"$T/carol2.out" 2>&1; echo $?) $(grep -c 'carol@keydir.test: pending' "$T/carol2.out")"
wait_for has_link carol@keydir.test verify || true
check "keydir verify: the mail arrived" 1 "$(last_link carol@keydir.test | grep -c /verify/)"

# An expired link.
stop
start expiry --data "$T/data" --mode verified $SMTP --verify-token-hours 0.0003
check "second@ request" 200 "$(code -H 'Content-Type: application/json' \
  --data "{\"token\": \"$(curl -s -H 'Content-Type: application/json' --data-binary "@$T/up.json" "$U/vks/v1/upload" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')\", \"addresses\": [\"second@keydir.test\"]}" "$U/vks/v1/request-verify")"
wait_for has_link second@keydir.test verify || true
ELINK=$(last_link second@keydir.test)
# The token lives 0.0003 h (1.08 s) by the server's clock: waiting past it in
# wall time is the point. (Polling the link instead would use it up.)
sleep 2
check "an expired link is refused" 410 "$(code -X POST "$ELINK")"
stop

# The relay is down: a visible error, a log line.
start norelay --data "$T/data" --mode verified --smtp-url smtp://127.0.0.1:1 --smtp-from keys@keydir.test
T2=$(curl -s -H 'Content-Type: application/json' --data-binary "@$T/up.json" "$U/vks/v1/upload" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
check "relay down: 503 with a reason" "503 the confirmation mail could not be sent; try again later" \
  "$(curl -s -o "$T/e.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$T2\", \"addresses\": [\"second@keydir.test\"]}" "$U/vks/v1/request-verify") $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/e.json")"
stop
check "relay down: logged" 1 "$(grep -c 'did not take the mail' "$T/norelay.log")"

# --- admin ---------------------------------------------------------------
check "admin list-pending" 0 "$("$B/keydird" admin --data "$T/data" list-pending >/dev/null 2>&1; echo $?)"
check "admin publish" 0 "$("$B/keydird" admin --data "$T/data" publish "$MFPR" second@keydir.test >/dev/null 2>&1; echo $?)"
check "admin delete" 0 "$("$B/keydird" admin --data "$T/data" delete "$MFPR" >/dev/null 2>&1; echo $?)"
check "after delete the store checks clean" 0 "$("$B/keydird" check --data "$T/data" --deep >"$T/check.out" 2>&1; echo $?)"
start after --data "$T/data" --mode verified $SMTP
check "deleted: by fingerprint" 404 "$(code "$U/pks/lookup?op=get&search=0x$MFPR")"
check "deleted: by e-mail" 404 "$(code "$U/vks/v1/by-email/second@keydir.test")"
check "deleted: re-upload refused (tombstone)" 410 "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")"
stop
check "admin restore" 0 "$("$B/keydird" admin --data "$T/data" restore "$MFPR" >/dev/null 2>&1; echo $?)"

# --- managed mode --------------------------------------------------------
OPTOKEN=$(openssl rand -hex 16)  # operator tokens need 128 bits, from a file or the environment
printf '%s\n' "$OPTOKEN" >"$T/operator-tokens"
chmod 600 "$T/operator-tokens"
check "managed mode needs its domains" 2 "$("$B/keydird" serve --data "$T/y" --mode managed $SMTP --operator-token-file "$T/operator-tokens" >/dev/null 2>&1; echo $?)"
start managed --data "$T/mdata" --mode managed $SMTP --wkd-domain keydir.test --operator-token-file "$T/operator-tokens"
check "managed: upload without a token 401" 401 "$(code --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")"
check "managed: a wrong token 401" 401 "$(code -H 'Authorization: Bearer wrong' --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")"
check "managed: the operator's upload" 200 "$(code -H "Authorization: Bearer $OPTOKEN" --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")"
check "managed: published at once" "200 200" \
  "$(code "$U/vks/v1/by-email/multi@keydir.test") $(code -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$MHASH")"
stop

on_failure() { for f in "$T"/*.log; do echo "--- $f"; tail -n 15 "$f"; done; }
finish "all publishing-mode checks passed"
