#!/usr/bin/env bash
# Issue #16 item 3, the state probe: nothing reveals what the owner did not
# publish. keydird in verified mode with a real SMTP sink (Debian's
# python3-aiosmtpd). The owner uploads a key with two addresses, confirms
# one and leaves the other unconfirmed (a mail out, not followed); later
# unpublishes the first. After each step the attacker fetches the public
# key by fingerprint (HKP op=get, VKS by-fingerprint), uploads it back to
# /vks/v1/upload and to the /upload page, asks for confirmation mails to the
# withheld addresses, and compares every lookup of a withheld address with
# one of an address the server never saw.
#   state_probe.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
# (the harness's cleanup stops the gpg agents of $T/gnupg-*)

# The SMTP sink: every message lands in $T/mail/new.
start_smtp_sink
mails() { ls "$T/mail/new" 2>/dev/null | wc -l; }
mails_to() { grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | wc -l; }
mails_at_least() { [ "$(mails)" -ge "$1" ]; }
wait_mails() { wait_for mails_at_least "$1" || true; }
# The token of the newest /verify/ or /manage/ link mailed to $1.
last_token() {
  grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | xargs -r ls -t | head -n 1 |
    xargs -r grep -o "/$2/[a-z0-9]*" | head -n 1 | sed "s|/$2/||"
}
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

start_keydird srv --mode verified --smtp-url "smtp://127.0.0.1:$SPORT" \
  --smtp-from keys@keydir.test --add-rate 0 --wkd-domain keydir.test

# The owner's key: two addresses.
SHOWN=owner@keydir.test
HIDDEN=hidden@keydir.test
NEVER=never-seen@keydir.test
WKS=$(gpgconf --list-dirs libexecdir)/gpg-wks-client
G=$(mktemp -d "$T/gnupg-owner.XXXX")
chmod 700 "$G"
GNUPGHOME=$G gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  "Owner <$SHOWN>" ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$G gpg --with-colons --list-keys | awk -F: '/^fpr/{print $10; exit}')
GNUPGHOME=$G gpg --batch --passphrase '' --pinentry-mode loopback --quick-add-uid "$FPR" \
  "Owner, private <$HIDDEN>" 2>/dev/null
GNUPGHOME=$G gpg --armor --export "$FPR" >"$T/owner.asc"
echo "owner's key $FPR with $SHOWN and $HIDDEN"

# The owner: upload, ask for both mails, confirm only $SHOWN.
"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$T/owner.asc" >"$T/owner.json"
curl -s -H 'Content-Type: application/json' --data-binary "@$T/owner.json" "$U/vks/v1/upload" >"$T/owner-up.out"
check "owner: the upload names both addresses" "unpublished unpublished" \
  "$(json_get "$T/owner-up.out" "d['status']['$SHOWN'] + ' ' + d['status']['$HIDDEN']")"
OTOKEN=$(json_get "$T/owner-up.out" "d['token']")
check "owner: request-verify for both" 200 "$(http_status "$U/vks/v1/request-verify" \
  -H 'Content-Type: application/json' --data "{\"token\": \"$OTOKEN\", \"addresses\": [\"$SHOWN\", \"$HIDDEN\"]}")"
wait_mails 2
check "owner: two mails" 2 "$(mails)"
check "owner: confirms $SHOWN" 200 "$(http_status "$U/verify/$(last_token "$SHOWN" verify)" -X POST)"
check "owner: $SHOWN published" 200 "$(http_status "$U/vks/v1/by-email/$SHOWN")"

# attacks ATTACKER_NAME WITHHELD...: the attacker's round against the
# current state; WITHHELD are the addresses that must not show.
attacks() {
  local round=$1
  shift
  local withheld=("$@")
  local before
  before=$(mails)

  attack "$round: fetch the key by fingerprint (HKP op=get)"
  curl -s -D "$T/get.h" "$U/pks/lookup?op=get&options=mr&search=0x$FPR" >"$T/fetched.asc"
  answered "HKP op=get" "$(head -n 1 "$T/get.h") $(grep -m 1 '^Comment' "$T/fetched.asc" || true) user IDs: $(gpg --with-colons --show-keys "$T/fetched.asc" 2>/dev/null | awk -F: '/^uid/{printf "%s; ", $10}')"
  curl -s "$U/vks/v1/by-fingerprint/$FPR" >"$T/fetched-vks.asc"
  answered "VKS by-fingerprint" "$(grep -m 1 '^Comment' "$T/fetched-vks.asc" || true)"
  for a in "${withheld[@]}"; do
    check "$round: HKP op=get does not name $a" 0 "$(grep -c "$a" "$T/fetched.asc" || true)"
  done
  check "$round: the answer counts no withheld user ID" 0 "$(grep -ci 'withheld\|[0-9] user ID' "$T/fetched.asc" || true)"

  attack "$round: upload the fetched key to /vks/v1/upload"
  "$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
    "$T/fetched.asc" >"$T/fetched.json"
  local code
  code=$(curl -s -o "$T/up.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$T/fetched.json" "$U/vks/v1/upload")
  answered "VKS upload ($code)" "$(json_get "$T/up.out" "{k: v for k, v in d.items() if k != 'token'}")"
  for a in "${withheld[@]}"; do
    check "$round: VKS upload answer does not name $a" 0 "$(grep -c "$a" "$T/up.out" || true)"
  done
  local token
  token=$(json_get "$T/up.out" "d.get('token', '')")

  attack "$round: request-verify for the withheld addresses with that token"
  # A refused upload (a key with no user ID left) gives no token at all.
  for a in "${withheld[@]}" "$NEVER"; do
    code=$(curl -s -o "$T/rv.out" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data "{\"token\": \"$token\", \"addresses\": [\"$a\"]}" "$U/vks/v1/request-verify")
    answered "request-verify $a" "$code $(cat "$T/rv.out")"
    check "$round: request-verify $a refused" \
      "400 $([ -n "$token" ] && echo "the upload did not contain the address $a" || echo "invalid upload token")" \
      "$code $(json_get "$T/rv.out" "d.get('error', '')")"
  done

  attack "$round: upload the fetched key through the /upload page"
  code=$(curl -s -o "$T/page.html" -w '%{http_code}' -F "keytext=<$T/fetched.asc" "$U/upload")
  answered "/upload ($code)" "$(sed -e 's/<[^>]*>/ /g' "$T/page.html" | tr -s ' \n' ' ' | grep -o 'Upload .*Back' || true)"
  for a in "${withheld[@]}"; do
    check "$round: /upload page does not name $a" 0 "$(grep -c "$a" "$T/page.html" || true)"
  done
  local ptoken
  ptoken=$(sed -n 's/.*name="token" value="\([0-9A-F]*\)".*/\1/p' "$T/page.html" | head -n 1)
  for a in "${withheld[@]}"; do
    code=$(curl -s -o "$T/pv.html" -w '%{http_code}' --data-urlencode "token=$ptoken" \
      --data-urlencode "address=$a" "$U/upload/verify")
    answered "/upload/verify $a" "$code $(grep -o '<p class="notice[^>]*>[^<]*' "$T/pv.html" | sed 's/<[^>]*>//')"
    check "$round: /upload/verify $a refused" 400 "$code"
  done
  # A grace period for a mail that must not come (nothing to wait for):
  # keydird sends its mails before it answers, so this is only a margin.
  sleep 0.5
  check "$round: no mail went out to anyone" "$before" "$(mails)"

  attack "$round: lookups of a withheld address against a never-seen one"
  local w n never
  for a in "${withheld[@]}"; do
    # An address never seen, as long as $a (the answers may echo it).
    never=$(printf '%s' "${a%@*}" | tr -c '@' 'z')@keydir.test
    for path in "pks/lookup?op=get&search=" "pks/lookup?op=index&options=mr&search=" \
      "pks/lookup?op=vindex&search=" "vks/v1/by-email/" "pks/v2/certs/by-identity/" \
      "pks/v2/index/" "search?q="; do
      w=$(curl -s -D - "$U/$path$a" | grep -v '^Date:' | sed "s/$a/ADDRESS/g")
      n=$(curl -s -D - "$U/$path$never" | grep -v '^Date:' | sed "s/$never/ADDRESS/g")
      answered "/$path$a" "$(printf '%s' "$w" | head -n 1) $(printf '%s' "$w" | tail -n 1 | cut -c1-60)"
      check "$round: /$path: withheld and never-seen answer byte for byte alike" "$n" "$w"
    done
    local lw ln hw hn
    lw=$(printf '%s' "${a%@*}" | tr 'A-Z' 'a-z')
    ln=$(printf '%s' "${never%@*}" | tr 'A-Z' 'a-z')
    hw=$("$WKS" --print-wkd-hash "$a" | cut -d' ' -f1)
    hn=$("$WKS" --print-wkd-hash "$never" | cut -d' ' -f1)
    w=$(curl -s -D - -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$hw?l=$lw" | grep -v '^Date:')
    n=$(curl -s -D - -H 'Host: keydir.test' "$U/.well-known/openpgpkey/hu/$hn?l=$ln" | grep -v '^Date:')
    answered "WKD $a" "$(printf '%s' "$w" | head -n 1)"
    check "$round: WKD: withheld and never-seen answer alike" "$n" "$w"
  done

  attack "$round: statistics and metrics after probing each"
  local s0 s1 s2 m0 m1 m2
  stats_now() { curl -s "$U/pks/lookup?op=stats&options=mr" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d.pop("uptime_seconds"); d.pop("new_per_hour"); d.pop("updated_per_hour"); print(json.dumps(d, sort_keys=True))'; }
  requests_now() { curl -s "$U/metrics" | grep '^keydir_http_requests_total\|^keydir_certificates\|^keydir_uploads'; }
  probe() { for p in "pks/lookup?op=get&search=" "vks/v1/by-email/"; do curl -s -o /dev/null "$U/$p$1"; done; }
  s0=$(stats_now)
  m0=$(requests_now)
  probe "${withheld[0]}"
  s1=$(stats_now)
  m1=$(requests_now)
  probe "$NEVER"
  s2=$(stats_now)
  m2=$(requests_now)
  answered "op=stats" "$s1"
  check "$round: op=stats moves alike for withheld and never-seen" "$s1" "$s2"
  check "$round: op=stats did not move at all" "$s0" "$s1"
  # Each probe adds the same request counts (two 4xx lookups, one stats).
  local d1 d2
  d1=$(diff <(echo "$m0") <(echo "$m1") | grep '^>' | sed 's/ [0-9]*$//' | sort || true)
  d2=$(diff <(echo "$m1") <(echo "$m2") | grep '^>' | sed 's/ [0-9]*$//' | sort || true)
  answered "/metrics lines moved by a probe" "$d1"
  check "$round: /metrics moves alike for withheld and never-seen" "$d1" "$d2"
}

attacks "round 1 ($HIDDEN unconfirmed, a mail out)" "$HIDDEN"

# The owner unpublishes $SHOWN through a manage link.
check "owner: asks for a manage link" 200 "$(http_status "$U/manage" --data "email=$SHOWN")"
has_token() { [ -n "$(last_token "$1" "$2")" ]; }
wait_for has_token "$SHOWN" manage || true
check "owner: unpublishes $SHOWN" 200 "$(http_status "$U/manage/$(last_token "$SHOWN" manage)" --data "address=$SHOWN")"
check "owner: $SHOWN no longer found" 404 "$(http_status "$U/vks/v1/by-email/$SHOWN")"

cp "$T/fetched.asc" "$T/round1.asc"
attacks "round 2 ($SHOWN unpublished too)" "$HIDDEN" "$SHOWN"

attack "round 2: upload the copy fetched in round 1 (it holds $SHOWN)"
"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$T/round1.asc" >"$T/round1.json"
curl -s -H 'Content-Type: application/json' --data-binary "@$T/round1.json" "$U/vks/v1/upload" >"$T/up1.out"
answered "VKS upload" "$(json_get "$T/up1.out" "d['status']")"
check "round 2: the old copy's answer speaks of $SHOWN only" "{'$SHOWN': 'unpublished'}" \
  "$(json_get "$T/up1.out" "d['status']")"
code=$(curl -s -o "$T/rv1.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\": \"$(json_get "$T/up1.out" "d['token']")\", \"addresses\": [\"$HIDDEN\"]}" \
  "$U/vks/v1/request-verify")
answered "request-verify $HIDDEN" "$code $(cat "$T/rv1.out")"
check "round 2: request-verify $HIDDEN with the old copy's token refused" \
  "400 the upload did not contain the address $HIDDEN" "$code $(json_get "$T/rv1.out" "d['error']")"

# The owner's own upload still reaches its addresses.
attack "the owner re-uploads the full key"
curl -s -H 'Content-Type: application/json' --data-binary "@$T/owner.json" "$U/vks/v1/upload" >"$T/owner-up2.out"
answered "VKS upload" "$(json_get "$T/owner-up2.out" "d['status']")"
check "owner: both addresses, and no word of the mail out" "unpublished unpublished" \
  "$(json_get "$T/owner-up2.out" "d['status']['$SHOWN'] + ' ' + d['status']['$HIDDEN']")"

stop_keydird
finish
