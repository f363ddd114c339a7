#!/usr/bin/env bash
# Makes the test fixtures in this folder with the real gpg (2.2) and sq (0.27).
# keydir never writes these files: they are third-party test data. Run it only
# to regenerate them (new keys, new fingerprints: the expectations files
# *.gpg-colons and *.sq-inspect are written alongside).
#   bash tests/data/make-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")"
export GNUPGHOME
GNUPGHOME=$(mktemp -d)
trap 'gpgconf --kill all >/dev/null 2>&1 || true; rm -rf "$GNUPGHOME" "$SQDIR"' EXIT
SQDIR=$(mktemp -d)
GPG=(gpg --batch --quiet --pinentry-mode loopback --passphrase '')

rm -f ./*.asc ./*.pgp ./*.gpg-colons ./*.sq-inspect

# gen NAME PRIMARY_ALGO SUBKEY_ALGO [extra gpg args]: primary (sign,cert) + encryption subkey.
gen() {
  local name=$1 algo=$2 sub=$3
  shift 3
  "${GPG[@]}" "$@" --quick-gen-key "keydir test $name <$name@keydir.test>" "$algo" sign,cert never
  local fpr
  fpr=$("${GPG[@]}" --with-colons --list-keys "<$name@keydir.test>" | awk -F: '/^fpr/{print $10; exit}')
  if [ -n "$sub" ]; then
    "${GPG[@]}" "$@" --quick-add-key "$fpr" "$sub" encr never
  fi
  echo "$fpr"
}
export_key() {  # export_key FPR NAME
  "${GPG[@]}" --armor --export "$1" > "gpg-$2.asc"
}

for spec in "rsa2048 rsa2048 rsa2048" "rsa3072 rsa3072 rsa3072" "rsa4096 rsa4096 rsa4096" \
            "dsa2048 dsa2048 elg2048" "ed25519 ed25519 cv25519" \
            "nistp256 nistp256 nistp256" "nistp384 nistp384 nistp384" "nistp521 nistp521 nistp521" \
            "brainpoolp256 brainpoolP256r1 brainpoolP256r1" \
            "brainpoolp384 brainpoolP384r1 brainpoolP384r1" \
            "brainpoolp512 brainpoolP512r1 brainpoolP512r1"; do
  set -- $spec
  fpr=$(gen "$1" "$2" "$3")
  export_key "$fpr" "$1"
done

# A key with a signing subkey (binding + primary-key back-signature), a
# second user ID and a revoked third one.
fpr=$(gen multi ed25519 cv25519)
"${GPG[@]}" --quick-add-key "$fpr" ed25519 sign never
"${GPG[@]}" --quick-add-uid "$fpr" "keydir test multi second <second@keydir.test>"
"${GPG[@]}" --quick-add-uid "$fpr" "keydir test multi gone <gone@keydir.test>"
"${GPG[@]}" --quick-revoke-uid "$fpr" "keydir test multi gone <gone@keydir.test>"
export_key "$fpr" multi

# An expired key: created in 2020, valid for one year.
fpr=$(gen expired ed25519 cv25519 --faked-system-time 20200101T000000)
"${GPG[@]}" --faked-system-time 20200101T000100 --quick-set-expire "$fpr" 1y
export_key "$fpr" expired

# A revoked key, with the revocation certificate gpg made at generation time.
fpr=$(gen revoked ed25519 cv25519)
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$fpr.rev" > "$SQDIR/rev.asc"
"${GPG[@]}" --import "$SQDIR/rev.asc"
export_key "$fpr" revoked
# The bare revocation certificate on its own (not a certificate).
grep -v '^Comment' "$SQDIR/rev.asc" | sed -n '/-----BEGIN/,$p' > gpg-revocation-only.asc

# A third-party certification: "certifier" signs the user ID of "signed".
signed=$(gen signed ed25519 cv25519)
certifier=$(gen certifier ed25519 "")
"${GPG[@]}" -u "$certifier" --quick-sign-key "$signed" "keydir test signed <signed@keydir.test>"
export_key "$signed" third-party

# sq: its default suites, and an attestation of a third-party certification.
for suite in cv25519 rsa3k rsa4k; do
  sq key generate --userid "<sq-$suite@keydir.test>" --cipher-suite "$suite" \
    --export "$SQDIR/$suite.key" 2>/dev/null
  sq key extract-cert "$SQDIR/$suite.key" > "sq-$suite.asc"
done
sq key generate --userid "<alice@keydir.test>" --export "$SQDIR/alice.key" 2>/dev/null
sq key generate --userid "<bob@keydir.test>" --export "$SQDIR/bob.key" 2>/dev/null
sq key extract-cert "$SQDIR/alice.key" > "$SQDIR/alice.cert"
sq certify "$SQDIR/bob.key" "$SQDIR/alice.cert" "<alice@keydir.test>" > "$SQDIR/alice-certified.cert"
cp "$SQDIR/alice-certified.cert" sq-third-party.asc
sq keyring merge "$SQDIR/alice.key" "$SQDIR/alice-certified.cert" > "$SQDIR/alice-merged.key"
sq key attest-certifications "$SQDIR/alice-merged.key" > "$SQDIR/alice-attested.key"
sq key extract-cert "$SQDIR/alice-attested.key" > sq-attested.asc

# A secret key (must be refused) and a binary copy of one certificate.
"${GPG[@]}" --armor --export-secret-keys "<ed25519@keydir.test>" > gpg-secret-key.asc
"${GPG[@]}" --export "<ed25519@keydir.test>" > gpg-ed25519.pgp

# Tampered copies: one flipped bit in a signature, in the key, in a user ID.
python3 tamper.py gpg-ed25519.pgp

# What gpg and sq say about every certificate (fingerprints for the tests).
for f in gpg-*.asc sq-*.asc gpg-*.pgp tampered-*.pgp; do
  case "$f" in gpg-secret-key.asc|gpg-revocation-only.asc) continue ;; esac
  GNUPGHOME=$(mktemp -d) gpg --batch --with-colons --with-subkey-fingerprints --show-keys "$f" \
    > "${f%.*}.gpg-colons" 2>/dev/null || true
  sq inspect "$f" > "${f%.*}.sq-inspect" 2>&1 || true
done
echo "fixtures written to $(pwd)"
