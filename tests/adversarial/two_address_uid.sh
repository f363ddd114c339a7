#!/usr/bin/env bash
# Attack: a user ID whose address is not the one gpg sees (issue #16, item 2).
#   two_address_uid.sh BUILD_DIR DATA_DIR TOOLS_DIR
# 1. Over tests/data/hostile-user-ids.tsv: a key made by gpg for each user ID;
#    whenever keydir takes an address from it, that address is the one gpg and
#    gpg-wks-client see (same local part, same domain up to its A-label
#    encoding, same WKD hash, and `gpg --list-keys '<address>'` finds the key).
# 2. Verified mode with an SMTP sink: "Someone <victim@example.org>
#    <attacker@evil.example>", "attacker@evil.example@example.org",
#    "a%b@example.org" and "evil!victim@example.org" are uploaded; the attacker
#    asks for confirmation mails and follows any link that reaches them. No mail
#    goes out, nothing is published for victim@example.org.
# 3. Managed mode for example.org: "attacker@evil.example@example.org" does
#    not count as example.org, neither for a self-service upload nor for the
#    operator's.
# 4. An internationalised domain in one form: managed mode for Bücher.Example
#    serves alice@bücher.example's key in WKD at the A-label host and the hash
#    gpg-wks-client computes; by-email finds it in either form.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, which has aiosmtpd and idna
"$PY" -c 'import aiosmtpd, idna' 2>/dev/null || { echo "missing python3-aiosmtpd or python3-idna: run deploy/setup.sh"; exit 1; }
WKS=$(gpgconf --list-dirs libexecdir)/gpg-wks-client
TABLE=$DATA/hostile-user-ids.tsv
export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
: >"$T/served.asc"
# (the harness's cleanup stops the gpg agents of $T/gnupg*, this GNUPGHOME too)

# make_key USER_ID: a new ed25519 key for USER_ID in $GNUPGHOME; prints its fingerprint.
make_key() {
  gpg --batch -q --yes --passphrase '' --pinentry-mode loopback --allow-freeform-uid \
    --quick-gen-key "$1" ed25519 sign never >/dev/null 2>&1 || return 1
  gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{f=$10} END{print f}'
}
# keydir_email FPR: the address keydir takes from the key's user ID ("-" for none).
keydir_email() {
  gpg --export "$1" | "$B/keydir" inspect --json - 2>/dev/null |
    "$PY" -c 'import json,sys
u=json.load(sys.stdin)["certificates"][0]["user_ids"]
print(u[0]["email"] if u and u[0]["email"] else "-")'
}
# to_ascii DOMAIN: IDNA2008 with the UTS #46 mapping (python3-idna), as keydir compares domains.
to_ascii() { "$PY" -c 'import idna,sys; print(idna.encode(sys.argv[1], uts46=True).decode())' "$1"; }

# --- 1. keydir's address is gpg's --------------------------------------------
attack "user IDs of tests/data/hostile-user-ids.tsv: keydir's address against gpg's"
rows=0 agreed=0 none=0
while IFS=$'\t' read -r expected raw why; do
  case "$expected" in '#'* | '') continue ;; esac
  if printf '%s' "$raw" | grep -qiE '\\x(0[0-9a-f]|1[0-9a-f]|7f)'; then
    continue  # control characters: no argument of gpg can carry them (the unit test covers them)
  fi
  rows=$((rows + 1))
  uid=$(printf '%b' "$raw")
  fpr=$(make_key "$uid") || { check "gpg makes a key for [$raw]" made refused; continue; }
  # The user ID as gpg stored it (colons output escapes ':' and control characters).
  stored=$(printf '%b' "$(gpg --with-colons --list-keys "$fpr" | awk -F: '/^uid/{print $10; exit}')")
  mine=$(keydir_email "$fpr")
  theirs=$("$WKS" --print-wkd-hash "$stored" 2>/dev/null || true)  # "HASH ADDRESS", or nothing
  if [ "$mine" = "-" ]; then
    none=$((none + 1))
    answered "[$raw] ($why)" "keydir: no address; gpg-wks-client: ${theirs:-no address}"
    check "keydir takes no address from [$raw]" "$expected" "-"
    continue
  fi
  check "keydir's address for [$raw]" "$expected" "$mine"
  ghash=${theirs%% *}
  gaddr=${theirs#* }
  [ -n "$theirs" ] || gaddr="(none)"
  gdomain=$(to_ascii "${gaddr#*@}" 2>/dev/null || echo "(not IDNA)")
  check "keydir's address is gpg's (domain as A-label) in [$raw]" "${gaddr%@*}@$gdomain" "$mine"
  khash=$("$B/keydir" wkd-url "$mine" | head -n 1 | sed 's/.*\/hu\/\([a-z0-9]*\)?.*/\1/')
  check "the same WKD hash as gpg-wks-client for [$raw]" "$ghash" "$khash"
  check "gpg --list-keys '<$gaddr>' finds the key" 1 \
    "$(gpg --with-colons --list-keys "<$gaddr>" 2>/dev/null | grep -c "^fpr:::::::::$fpr:" || true)"
  agreed=$((agreed + 1))
done <"$TABLE"
answered "rows" "$rows user IDs: keydir and gpg agree on $agreed addresses, keydir takes none from $none"
check "every row was tried" 1 "$([ "$rows" -ge 55 ] && echo 1 || echo 0)"

# --- 2. verified mode --------------------------------------------------------
start_smtp_sink
mails_to() { grep -il "^To: .*$1" "$T"/mail/new/* 2>/dev/null | wc -l; }
all_mails() { find "$T/mail/new" -type f | wc -l; }
SMTP=(--smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from keys@example.org)
json_key() { "$PY" -c 'import json,sys; print(json.dumps({"keytext": sys.stdin.read()}))'; }

start_keydird verified --mode verified "${SMTP[@]}" --wkd-domain example.org --add-rate 0
VHASH=$("$WKS" --print-wkd-hash victim@example.org | cut -d' ' -f1)
HOSTILE=("Someone <victim@example.org> <attacker@evil.example>"
  "attacker@evil.example@example.org" "Z <a%b@example.org>" "Z <evil!victim@example.org>")
# What the attacker asks to confirm, for each user ID: every address a
# careless parser could take from it.
ASKS=("attacker@evil.example victim@example.org" "attacker@evil.example@example.org"
  "a%b@example.org" "evil!victim@example.org")
HFPR=()
for i in "${!HOSTILE[@]}"; do
  uid=${HOSTILE[$i]}
  attack "verified mode: upload [$uid], ask for confirmation mails, follow any link"
  fpr=$(make_key "$uid")
  HFPR[$i]=$fpr
  gpg --armor --export "$fpr" >"$T/h$i.asc"
  json_key <"$T/h$i.asc" >"$T/h$i.json"
  up=$(curl -s -H 'Content-Type: application/json' --data-binary "@$T/h$i.json" "$U/vks/v1/upload")
  answered "POST /vks/v1/upload" "$up"
  check "the upload's answer names no address of [$uid]" "{}" \
    "$(printf '%s' "$up" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("status", {})))')"
  token=$(printf '%s' "$up" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("token", ""))')
  for a in ${ASKS[$i]}; do
    before=$(all_mails)
    code=$(curl -s -o "$T/rv.out" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data "{\"token\": \"$token\", \"addresses\": [\"$a\"]}" "$U/vks/v1/request-verify")
    answered "POST /vks/v1/request-verify [$a]" "$code $(cat "$T/rv.out")"
    check "request-verify for $a is refused" 400 "$code"
    sleep 0.3  # a grace period for a mail that must not come (nothing to wait for)
    check "no mail for $a" "$before" "$(all_mails)"
  done
  # The attacker plays the owner of any address a mail reached: follow its link.
  for f in "$T"/mail/new/*; do
    [ -f "$f" ] || continue
    link=$(grep -o '/verify/[a-z0-9]*' "$f" | head -n 1 || true)
    [ -n "$link" ] && answered "POST $link (attacker confirms)" "$(http_status "$U$link" -X POST)"
    rm -f "$f"
  done
  curl -s "$U/pks/lookup?op=get&search=0x$fpr" >"$T/byfpr.asc"
  check "by fingerprint: [$uid] is withheld" 0 \
    "$(gpg --with-colons --show-keys "$T/byfpr.asc" 2>/dev/null | grep -c '^uid' || true)"
  cat "$T/byfpr.asc" >>"$T/served.asc"
  code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "keytext@$T/h$i.asc" "$U/pks/add")
  answered "POST /pks/add" "$code"
done
check "no mail ever went to attacker@evil.example" 0 "$(mails_to 'attacker@evil\.example')"
# What gpg makes of everything the server serves for these keys.
G=$T/gnupg-reader
mkdir -m 700 "$G"
GNUPGHOME=$G gpg --batch -q --import "$T/served.asc" >/dev/null 2>&1 || true
check "gpg, given what the server serves, has no key for <victim@example.org>" 0 \
  "$(GNUPGHOME=$G gpg --with-colons --list-keys '<victim@example.org>' 2>/dev/null | grep -c '^pub' || true)"
GNUPGHOME=$G gpgconf --kill all 2>/dev/null || true
attack "verified mode: lookups of victim@example.org after the attacks"
for q in "/vks/v1/by-email/victim@example.org" "/pks/lookup?op=get&search=victim@example.org" \
  "/pks/lookup?op=get&search=%3Cvictim@example.org%3E"; do
  code=$(http_status "$U$q")
  answered "GET $q" "$code"
  check "nothing published for victim@example.org: $q" 404 "$code"
done
code=$(http_status "$U/.well-known/openpgpkey/hu/$VHASH" -H 'Host: example.org')
answered "GET WKD hu/$VHASH (Host: example.org)" "$code"
check "nothing published for victim@example.org: WKD" 404 "$code"
stop_keydird

# --- 3. managed mode ---------------------------------------------------------
OPTOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
for uploads in verify token; do
  attack "managed mode (example.org, --managed-uploads $uploads): [attacker@evil.example@example.org]"
  KEYDIRD_OPERATOR_TOKEN=$OPTOKEN start_keydird "managed-$uploads" --mode managed "${SMTP[@]}" \
    --wkd-domain example.org --managed-uploads "$uploads" --add-rate 0
  fpr=${HFPR[1]}
  auth=()
  [ "$uploads" = token ] && auth=(-H "Authorization: Bearer $OPTOKEN")
  up=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' --data-binary "@$T/h1.json" "$U/vks/v1/upload")
  answered "POST /vks/v1/upload" "$up"
  check "managed ($uploads): the upload's answer names no address" "{}" \
    "$(printf '%s' "$up" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("status", {})))')"
  if [ "$uploads" = verify ]; then
    token=$(printf '%s' "$up" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("token", ""))')
    code=$(curl -s -o "$T/rv.out" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data "{\"token\": \"$token\", \"addresses\": [\"attacker@evil.example@example.org\"]}" \
      "$U/vks/v1/request-verify")
    answered "POST /vks/v1/request-verify" "$code $(cat "$T/rv.out")"
    check "managed: request-verify refused" 400 "$code"
  fi
  curl -s "$U/pks/lookup?op=get&search=0x$fpr" >"$T/byfpr.asc"
  check "managed ($uploads): by fingerprint, the user ID is withheld" 0 \
    "$(gpg --with-colons --show-keys "$T/byfpr.asc" 2>/dev/null | grep -c '^uid' || true)"
  # A parser taking the last '@' sees the local part "attacker@evil.example" in example.org.
  HHASH=$("$PY" -c 'import hashlib
d = hashlib.sha1(b"attacker@evil.example").digest()
bits = "".join(f"{b:08b}" for b in d)
print("".join("ybndrfg8ejkmcpqxot1uwisza345h769"[int(bits[i:i + 5], 2)] for i in range(0, 160, 5)))')
  code=$(http_status "$U/.well-known/openpgpkey/hu/$HHASH" -H 'Host: example.org')
  answered "GET WKD hu/$HHASH (Host: example.org), local part 'attacker@evil.example'" "$code"
  check "managed ($uploads): not in example.org's WKD" 404 "$code"
  stop_keydird
done
sleep 0.3  # a grace period for a mail that must not come (nothing to wait for)
check "no mail at all in managed mode or after" 0 "$(all_mails)"

# --- 4. one form for internationalised domains -------------------------------
attack "managed mode for Bücher.Example: the address as gpg-wks-client computes it"
code=$(timeout 10 "$B/keydird" serve --listen 127.0.0.1:0 --data "$T/bad" --wkd-domain localhost \
  >"$T/bad.out" 2>&1 && echo 0 || echo $?)
answered "keydird serve --wkd-domain localhost" "exit $code: $(cat "$T/bad.out")"
check "a --wkd-domain that is not a host name is refused" 2 "$code"
KEYDIRD_OPERATOR_TOKEN=$OPTOKEN start_keydird idn --mode managed "${SMTP[@]}" \
  --wkd-domain 'Bücher.Example' --add-rate 0
fpr=$(make_key 'Alice <alice@bücher.example>')
gpg --armor --export "$fpr" | json_key >"$T/idn.json"
up=$(curl -s -H "Authorization: Bearer $OPTOKEN" -H 'Content-Type: application/json' \
  --data-binary "@$T/idn.json" "$U/vks/v1/upload")
answered "POST /vks/v1/upload (operator)" "$up"
read -r IHASH IADDR <<<"$("$WKS" --print-wkd-hash 'Alice <alice@bücher.example>')"
answered "gpg-wks-client --print-wkd-hash" "$IHASH $IADDR"
for host in xn--bcher-kva.example openpgpkey.xn--bcher-kva.example; do
  path=/.well-known/openpgpkey/hu/$IHASH
  [ "${host%%.*}" = openpgpkey ] && path=/.well-known/openpgpkey/xn--bcher-kva.example/hu/$IHASH
  code=$(curl -s -o "$T/idn.bin" -w '%{http_code}' -H "Host: $host" "$U$path")
  answered "GET $path (Host: $host)" "$code"
  check "WKD for $IADDR under its A-label ($host)" "200 1" \
    "$code $(gpg --with-colons --show-keys "$T/idn.bin" 2>/dev/null | grep -c "^fpr:::::::::$fpr:" || true)"
done
for q in "alice@xn--bcher-kva.example" "Alice@B%C3%BCcher.Example"; do
  code=$(http_status "$U/vks/v1/by-email/$q")
  answered "GET /vks/v1/by-email/$q" "$code"
  check "by-email $q finds the key" 200 "$code"
done
stop_keydird

finish
