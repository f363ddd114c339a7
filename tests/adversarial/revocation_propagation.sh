#!/usr/bin/env bash
# A revocation must reach whoever holds the key. The owner revokes a user ID
# and publishes the cleaned form gpg makes (export-minimal: the revoked user
# ID carries only its revocation). A directory that drops such a user ID as
# "no valid self-signature" keeps the sender on the old, unrevoked user ID
# for ever; an attacker who controls that old address profits from it.
# Real keydird, real gpg (temporary GNUPGHOME) and curl.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
start_keydird data --add-rate 1000 --add-burst 1000

OWNER=$(gpg_home owner)
SENDER=$(gpg_home sender)
g() { gpg --homedir "$1" --batch --pinentry-mode loopback --passphrase '' "${@:2}"; }

g "$OWNER" --quick-gen-key "Rita <rita@example.org>" ed25519 default never 2>/dev/null
FPR=$(g "$OWNER" --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
g "$OWNER" --quick-add-uid "$FPR" "Rita Old <rita.old@example.org>" >/dev/null 2>&1
g "$OWNER" --send-keys "$FPR" >/dev/null 2>&1
g "$SENDER" --recv-keys "$FPR" >/dev/null 2>&1
echo "owner's key $FPR, published with two user IDs; the sender holds it"

attack "the owner revokes a user ID and uploads the export-minimal form"
g "$OWNER" --quick-revoke-uid "$FPR" "Rita Old <rita.old@example.org>" 2>/dev/null
g "$OWNER" --armor --export-options export-minimal --export "$FPR" >"$T/minimal.asc"
shape=$(g "$OWNER" --list-packets "$T/minimal.asc" | awk '/user ID packet/{u=$0} /sigclass 0x30/{print "revocation"} /sigclass 0x13/{print "certification"}' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
answered "shape of the export-minimal form" "$shape"
code=$(curl -s -o "$T/add.out" -w '%{http_code}' --data-urlencode "keytext@$T/minimal.asc" "$U/pks/add")
answered "POST /pks/add (export-minimal)" "$code $(cat "$T/add.out")"
check "the upload is accepted" 200 "$code"
curl -s "$U/pks/lookup?op=get&options=mr&search=0x$FPR" >"$T/served.asc"
served=$(gpg --homedir "$T/gnupg-sender" --batch --list-packets "$T/served.asc" 2>/dev/null |
  grep -c 'sigclass 0x30' || true)
answered "op=get: certification revocations served" "$served"
check "the directory serves the user ID's revocation" 1 "$served"
idx=$(curl -s "$U/pks/lookup?op=vindex&options=mr&search=0x$FPR")
answered "op=vindex" "$idx"
check "the index marks the old user ID revoked" 1 \
  "$(printf '%s\n' "$idx" | grep -c '^uid:Rita Old <rita.old@example.org>:[0-9]*::r$')"
code=$(http_status "$U/pks/lookup?op=get&search=rita.old@example.org")
answered "op=get by the revoked address" "$code"
check "the revoked address finds nothing" 404 "$code"

attack "the sender refreshes: the revocation reaches the key the sender holds"
out=$(g "$SENDER" --refresh-keys 2>&1) || true
answered "gpg --refresh-keys" "$out"
validity=$(g "$SENDER" --with-colons --list-keys "$FPR" | awk -F: '$1=="uid" && $10 ~ /rita.old/ {print $2}')
check "the sender's gpg now shows the old user ID revoked" r "$validity"

attack "the revocation alone reaches a directory that never saw the user ID"
stop_keydird
start_keydird fresh --add-rate 1000 --add-burst 1000
code=$(curl -s -o "$T/add2.out" -w '%{http_code}' --data-urlencode "keytext@$T/minimal.asc" "$U/pks/add")
answered "POST /pks/add to a fresh directory" "$code $(cat "$T/add2.out")"
idx=$(curl -s "$U/pks/lookup?op=vindex&options=mr&search=0x$FPR")
answered "op=vindex" "$idx"
check "the fresh directory keeps the revoked user ID, marked revoked" 1 \
  "$(printf '%s\n' "$idx" | grep -c '^uid:Rita Old <rita.old@example.org>:[0-9]*::r$')"

attack "an old, unrevoked copy uploaded afterwards does not undo the revocation"
# The first published form (before the revocation) is what an attacker replays.
"$TOOLS/make_attack_keys" "$T/keys"
"$B/keydir" upload --server "$U" "$T/keys/uid-revoked-minimal.pgp" >/dev/null
out=$("$B/keydir" upload --server "$U" "$T/keys/uid-original.pgp" 2>&1) || true
answered "keydir upload uid-original.pgp after uid-revoked-minimal.pgp" "$out"
code=$(http_status "$U/pks/lookup?op=get&search=rita.old@example.org")
answered "op=get by the revoked address" "$code"
check "the revoked address stays unfindable" 404 "$code"
finish
