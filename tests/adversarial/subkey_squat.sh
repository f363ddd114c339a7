#!/usr/bin/env bash
# The subkey squat: an attacker binds the victim's public primary key as an
# authentication-only subkey of the attacker's own certificate (no
# back-signature is needed for that) and uploads it first, hoping the
# directory then answers the victim's fingerprint with the attacker's
# certificate, refuses the victim's own upload, or revives a deleted key.
# Real keydird, real gpg (temporary GNUPGHOME), curl and keydir.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$TOOLS/make_attack_keys" "$T/keys"
K=$T/keys
V=$(cat "$K/victim.fpr")
V6=$(cat "$K/victim6.fpr")
M=$(cat "$K/squat.fpr")
VK=${V: -16}
echo "victim $V, attacker $M"

start_keydird data --add-rate 1000 --add-burst 1000

# The primary fingerprint of each certificate an answer holds, in order
# (read by keydir inspect: gpg 2.2 knows no v6 keys).
primaries() {
  "$B/keydir" inspect --json - 2>/dev/null |
    python3 -c 'import json,sys; print(" ".join(c["fingerprint"] for c in json.load(sys.stdin)["certificates"]))' 2>/dev/null ||
    true
}
attack "upload the attacker's certificate first, with the victim's primary key as its subkey"
out=$("$B/keydir" upload --server "$U" "$K/squat.pgp" "$K/squat6.pgp" 2>&1) && rc=0 || rc=$?
answered "keydir upload squat.pgp squat6.pgp" "exit $rc: $out"
check "the attacker's certificates are stored" 0 "$rc"

attack "before the victim's key is here: look the victim up, gpg --recv-keys it"
for path in "/pks/lookup?op=get&search=0x$V" "/pks/lookup?op=get&search=0x$VK" \
  "/vks/v1/by-fingerprint/$V" "/pks/v2/certs/by-vfingerprint/04$V" "/pks/v2/certs/by-vfingerprint/06$V6"; do
  code=$(http_status "$U$path")
  answered "GET $path" "$code"
  check "GET $path does not answer the squat" 404 "$code"
done
H=$(gpg_home early)
out=$(gpg --homedir "$H" --batch --recv-keys "$V" 2>&1) && rc=0 || rc=$?
answered "gpg --recv-keys $V" "exit $rc: $out"
check "gpg imports nothing for the victim's fingerprint" "" \
  "$(gpg --homedir "$H" --batch --with-colons --list-keys 2>/dev/null | grep '^pub' || true)"

attack "the victim publishes with gpg --send-keys after the squat"
H=$(gpg_home victim)
gpg --homedir "$H" --batch --import "$K/victim.pgp" 2>/dev/null  # gpg 2.2 knows no v6
out=$(gpg --homedir "$H" --batch --send-keys "$V" 2>&1) && rc=0 || rc=$?
answered "gpg --send-keys $V" "exit $rc: $out"
check "the victim's upload is not blocked by the squat" 0 "$rc"
out=$("$B/keydir" upload --server "$U" "$K/victim6.pgp" 2>&1) && rc=0 || rc=$?
answered "keydir upload victim6.pgp" "exit $rc: $out"
check "the victim's v6 upload is not blocked by the squat" 0 "$rc"

attack "look the victim up by fingerprint and key ID on every protocol"
for path in "/pks/lookup?op=get&options=mr&search=0x$V" "/pks/lookup?op=get&options=mr&search=0x$VK" \
  "/vks/v1/by-fingerprint/$V" "/vks/v1/by-keyid/$VK" "/pks/v2/certs/by-vfingerprint/04$V" \
  "/pks/v2/certs/by-keyid/$VK"; do
  got=$(curl -s "$U$path" | primaries)
  answered "GET $path" "certificates of $got"
  check "GET $path answers the victim's certificate only" "$V" "$got"
done
got=$(curl -s "$U/pks/v2/certs/by-vfingerprint/06$V6" | primaries)
answered "GET /pks/v2/certs/by-vfingerprint/06$V6" "certificates of $got"
check "v6: the victim's certificate only" "$V6" "$got"
idx=$(curl -s "$U/pks/lookup?op=vindex&options=mr&search=0x$V")
answered "op=vindex by the victim's fingerprint" "$idx"
check "vindex lists only the victim's key" "1" "$(printf '%s\n' "$idx" | grep -c '^pub:')"
check "vindex names the victim's primary key" "1" "$(printf '%s\n' "$idx" | grep -c "^pub:$V:")"

attack "gpg --recv-keys by the victim's fingerprint, then encrypt to it"
H=$(gpg_home sender)
out=$(gpg --homedir "$H" --batch --recv-keys "$V" 2>&1) && rc=0 || rc=$?
answered "gpg --recv-keys $V" "exit $rc: $out"
check "gpg imports the key" 0 "$rc"
check "gpg imports no key of the attacker" "" \
  "$(gpg --homedir "$H" --batch --with-colons --list-keys 2>/dev/null | grep -i mallory || true)"
echo hello | gpg --homedir "$H" --batch --trust-model always -e -r "$V" -o "$T/msg.gpg" 2>/dev/null
# (--list-packets fails without the secret key, after printing the packets)
gpg --homedir "$H" --batch --list-packets "$T/msg.gpg" >"$T/packets" 2>/dev/null || true
recipient=$(sed -n 's/.*keyid \([0-9A-F]*\).*/\1/p' "$T/packets" | sed -n 1p)
# The victim's subkeys, from the victim's own file (the ground truth), and
# those gpg lists under the victim's primary key.
victim_subkeys=$("$B/keydir" inspect --json "$K/victim.pgp" |
  python3 -c 'import json,sys; print(" ".join(s["key_id"] for c in json.load(sys.stdin)["certificates"] for s in c["subkeys"]))')
listed=$(gpg --homedir "$H" --batch --with-colons --list-keys 2>&1 |
  awk -F: -v v="$V" '$1=="pub"{p=1; own=0} $1=="fpr" && p {own=($10==v); p=0} $1=="sub" && own {printf "%s ", $5}') ||
  listed="(gpg --list-keys failed)"
answered "gpg -e -r $V" "encrypted to key ID $recipient; the victim's subkeys: $victim_subkeys; gpg lists under the victim: $listed"
check "the message is encrypted to a subkey of the victim" "yes" \
  "$(printf '%s\n' $victim_subkeys | grep -qx "$recipient" && echo yes || echo no)"
if ! printf '%s\n' $victim_subkeys | grep -qx "$recipient"; then
  gpg --homedir "$H" --batch --with-colons --list-keys 2>&1 | sed 's/^/   | /'
  sed 's/^/   | /' "$T/packets"
fi

attack "keydir fetch by the victim's fingerprint"
out=$("$B/keydir" fetch --server "$U" "$V" 2>"$T/fetch.err") && rc=0 || rc=$?
got=$(printf '%s' "$out" | primaries)
answered "keydir fetch $V" "exit $rc, certificates of $got"
check "keydir fetch gives the victim's certificate" "0 $V" "$rc $got"

attack "a deleted key is not revived as the attacker's subkey"
out=$("$B/keydir" upload --server "$U" "$K/tomb.pgp" 2>&1) && rc=0 || rc=$?
TOMB=$(cat "$K/tomb.fpr")
stop_keydird
"$B/keydird" admin --data "$T/data" delete "$TOMB" >/dev/null 2>&1 ||
  "$B/keydird" admin delete --data "$T/data" "$TOMB"
start_keydird data --add-rate 1000 --add-burst 1000
out=$("$B/keydir" upload --server "$U" "$K/tomb-squat.pgp" 2>&1) && rc=0 || rc=$?
answered "keydir upload tomb-squat.pgp (the deleted key as a subkey)" "exit $rc: $out"
for path in "/pks/lookup?op=get&search=0x$TOMB" "/vks/v1/by-fingerprint/$TOMB" \
  "/pks/v2/certs/by-vfingerprint/04$TOMB"; do
  code=$(http_status "$U$path")
  answered "GET $path" "$code"
  check "GET $path finds no certificate" "yes" "$([ "$code" = 404 ] || [ "$code" = 410 ] && echo yes || echo no)"
done

stop_keydird
out=$("$B/keydird" check --data "$T/data" 2>&1) && rc=0 || rc=$?
answered "keydird check" "exit $rc"
check "the store is consistent after the attacks" 0 "$rc"
finish
