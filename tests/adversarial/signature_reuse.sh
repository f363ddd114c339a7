#!/usr/bin/env bash
# Signature reuse against "verify each signature once": the directory skips
# the public-key operation of a signature it verified before. An attacker
# copies the owner's genuine self-signatures onto a user ID of the
# attacker's choosing (or onto another key's certificate), and sends it as a
# re-upload of a key the directory already holds (the merge path), again in
# the same upload as the genuine key, and through `keydird import` of a key
# already stored (the re-import path). The forged user ID must never be
# served or indexed; the owner's own user IDs stay.
# Real keydird, curl and keydir inspect.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
VICTIM="$DATA/gpg-multi.asc"
OTHER="$DATA/gpg-ed25519.asc"
EVIL="Mallory <mallory@evil.example>"

FORGE="$(dirname "$0")/forge_signatures.py"
gpg --dearmor <"$VICTIM" >"$T/victim.pgp"
gpg --dearmor <"$OTHER" >"$T/other.pgp"
FORGED=$(python3 "$FORGE" uid "$T/victim.pgp" "$T/forged-uid.pgp")
echo "forged user ID (its digest prefix matches the owner's signature): $FORGED"
python3 "$FORGE" other "$T/victim.pgp" "$T/forged-other.pgp" "$T/other.pgp"
OTHER_UID=$("$B/keydir" inspect --json "$T/other.pgp" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["user_ids"][0]["user_id"])')
V=$("$B/keydir" inspect --json "$T/victim.pgp" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["fingerprint"])')

# user_ids URL: the user IDs of the certificates an answer holds, one a line.
user_ids() {
  curl -s "$1" | "$B/keydir" inspect --json - 2>/dev/null |
    python3 -c 'import json,sys
for c in json.load(sys.stdin)["certificates"]:
    for u in c["user_ids"]: print(u["user_id"])' 2>/dev/null || true
}
# served_as_expected LABEL: the victim's key holds its own user IDs and no
# forged one; the forged addresses find nothing.
served_as_expected() {
  local uids
  uids=$(user_ids "$U/pks/lookup?op=get&options=mr&search=0x$V")
  answered "user IDs served for the victim" "$uids"
  check "$1: the victim's own user ID is served" 1 \
    "$(grep -c 'multi@keydir.test' <<<"$uids" || true)"
  check "$1: the forged user ID is not served" 0 "$(grep -c 'evil.example' <<<"$uids" || true)"
  check "$1: the other key's user ID is not served on the victim's key" 0 \
    "$(grep -cF "$OTHER_UID" <<<"$uids" || true)"
  check "$1: a lookup of the forged address finds nothing" 404 \
    "$(http_status "$U/pks/lookup?op=get&search=mallory@evil.example")"
  check "$1: VKS by the forged address finds nothing" 404 \
    "$(http_status "$U/vks/v1/by-email/mallory%40evil.example")"
}

start_keydird data --add-rate 1000 --add-burst 1000
attack "the owner's key is stored; the attacker re-uploads it with a forged user ID carrying the owner's self-signatures"
check "the victim's key is stored" 0 "$("$B/keydir" upload --server "$U" "$T/victim.pgp" >/dev/null 2>&1; echo $?)"
code=$(curl -s -o "$T/r1" -w '%{http_code}' --data-binary @"$T/forged-uid.pgp" \
  -H 'Content-Type: application/pgp-keys' "$U/pks/v2/certs")
answered "POST /pks/v2/certs forged-uid.pgp" "$code $(head -c 300 "$T/r1")"
served_as_expected "re-upload with a forged user ID"

attack "the other key's user ID and its signatures grafted onto the victim's key"
code=$(curl -s -o "$T/r2" -w '%{http_code}' --data-binary @"$T/forged-other.pgp" \
  -H 'Content-Type: application/pgp-keys' "$U/pks/v2/certs")
answered "POST /pks/v2/certs forged-other.pgp" "$code"
served_as_expected "a grafted user ID"

attack "genuine and forged copies in one upload (merged inside one batch)"
cat "$T/victim.pgp" "$T/forged-uid.pgp" "$T/forged-other.pgp" >"$T/both.pgp"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/both.pgp" \
  -H 'Content-Type: application/pgp-keys' "$U/pks/v2/certs")
answered "POST /pks/v2/certs victim + forgeries" "$code"
served_as_expected "one upload with both"
stop_keydird

attack "keydird import of the forgeries into a store that holds the victim (the re-import path)"
"$B/keydird" import --data "$T/imp" "$T/victim.pgp" >/dev/null 2>&1
out=$("$B/keydird" import --data "$T/imp" "$T/forged-uid.pgp" "$T/forged-other.pgp" 2>&1) || true
answered "keydird import forged-uid.pgp forged-other.pgp" "$out"
check "the store checks clean (deep: every signature verified again)" 0 \
  "$("$B/keydird" check --deep --data "$T/imp" >/dev/null 2>&1; echo $?)"
start_keydird imp --data "$T/imp"
served_as_expected "keydird import"
stop_keydird

attack "a forgery first, then the genuine key (nothing verified yet to reuse)"
"$B/keydird" import --data "$T/imp2" "$T/forged-uid.pgp" >/dev/null 2>&1 || true
"$B/keydird" import --data "$T/imp2" "$T/victim.pgp" >/dev/null 2>&1
start_keydird imp2 --data "$T/imp2"
served_as_expected "forgery imported first"
stop_keydird
attack "a forged back-signature next to the genuine one is stored; then the binding with the forged one alone is imported"
mkdir -p "$T/bs"
# b1 (a forged back-signature E1 before the genuine E2 in the binding's
# unhashed area) verifies; b2 (E1 alone) must not. A directory that took every
# embedded signature of a stored b1 as verified would accept b2.
python3 "$FORGE" backsig "$T/victim.pgp" "$T/bs"
# signing_subkeys DATA: the signing-capable subkeys gpg takes from the key
# the directory in DATA serves for the victim.
signing_subkeys() {
  start_keydird "bs-$RANDOM" --data "$1"
  local H
  H=$(gpg_home "bs-$RANDOM")
  curl -s "$U/pks/lookup?op=get&options=mr&search=0x$V" | gpg --homedir "$H" --batch --import 2>/dev/null
  stop_keydird
  gpg --homedir "$H" --batch --with-colons --list-keys "$V" 2>/dev/null |
    awk -F: '$1 == "sub" && $12 ~ /s/' | wc -l
}
"$B/keydird" import --data "$T/bsimp" "$T/bs/b1.pgp" >/dev/null 2>&1
out=$("$B/keydird" import --data "$T/bsimp" "$T/bs/b2.pgp" 2>&1) || true
answered "keydird import b2.pgp (binding with the forged back-signature only)" "$out"
"$B/keydird" import --data "$T/bsimp" "$T/victim.pgp" >/dev/null 2>&1
check "the store checks clean (deep)" 0 \
  "$("$B/keydird" check --deep --data "$T/bsimp" >/dev/null 2>&1; echo $?)"
check "gpg takes the victim's signing subkey from the served key" 1 "$(signing_subkeys "$T/bsimp")"
start_keydird bsup --add-rate 1000 --add-burst 1000
for f in b1 b2 b1 victim; do
  curl -s -o /dev/null --data-binary @"$T/bs/$f.pgp" -H 'Content-Type: application/pgp-keys' \
    "$U/pks/v2/certs"
done
stop_keydird
check "by upload: gpg takes the victim's signing subkey from the served key" 1 \
  "$(signing_subkeys "$T/bsup")"
finish
