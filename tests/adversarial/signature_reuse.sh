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

# forge IN OUT MODE: a binary certificate made from IN's packets.
#   uid:   the first user ID's self-signatures copied under a new user ID EVIL
#   other: OTHER's first user ID with its signatures put on IN's key
forge() {
  python3 - "$1" "$2" "$3" "$EVIL" "${4:-}" <<'PY'
import sys
def packets(data):
    i, out = 0, []
    while i < len(data):
        b = data[i]
        if b & 0x40:
            tag = b & 0x3F; l = data[i + 1]; h = 2
            if 192 <= l < 224: l = ((l - 192) << 8) + data[i + 2] + 192; h = 3
            elif l == 255: l = int.from_bytes(data[i + 2:i + 6], 'big'); h = 6
        else:
            tag = (b >> 2) & 0xF; n = [1, 2, 4][b & 3]
            l = int.from_bytes(data[i + 1:i + 1 + n], 'big'); h = 1 + n
        out.append((tag, data[i:i + h + l])); i += h + l
    return out
def uid_packet(text):
    body = text.encode()
    assert len(body) < 192
    return bytes([0xC0 | 13, len(body)]) + body
def first_uid_with_sigs(pk):
    for n, (tag, raw) in enumerate(pk):
        if tag == 13:
            sigs = []
            for t, r in pk[n + 1:]:
                if t != 2: break
                sigs.append(r)
            return raw, sigs
    raise SystemExit("no user ID")
def body(raw):
    b = raw[0]
    if b & 0x40:
        l = raw[1]
        return raw[2:] if l < 192 else raw[3:] if l < 224 else raw[6:]
    return raw[1 + [1, 2, 4][b & 3]:]
HASHES = {2: 'sha1', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224'}
def collide(key, sig, name, addr):
    """A user ID whose signed digest under `sig` starts with the two octets
    the signature carries (RFC 9580 5.2.4 for v4): about 65,536 tries. A
    directory that trusted a remembered signature without the digest would
    take it."""
    import hashlib
    assert sig[0] == 4
    hashed_len = int.from_bytes(sig[4:6], 'big')
    hashed = sig[:6 + hashed_len]
    unhashed_len = int.from_bytes(sig[6 + hashed_len:8 + hashed_len], 'big')
    prefix = sig[8 + hashed_len + unhashed_len:10 + hashed_len + unhashed_len]
    algo = HASHES[sig[3]]
    head = b'\x99' + len(key).to_bytes(2, 'big') + key
    tail = hashed + b'\x04\xff' + len(hashed).to_bytes(4, 'big')
    for n in range(1 << 22):
        uid = f"{name} ({n}) <{addr}>".encode()
        h = hashlib.new(algo, head + b'\xb4' + len(uid).to_bytes(4, 'big') + uid + tail)
        if h.digest()[:2] == prefix:
            return uid.decode()
    raise SystemExit("no collision")
src, out, mode, evil, other = sys.argv[1:6]
pk = packets(open(src, 'rb').read())
uid, sigs = first_uid_with_sigs(pk)
if mode == 'uid':
    # The forged user ID is made to match the digest prefix of the owner's
    # first self-signature, so that only the signature check can refuse it.
    forged = collide(body(pk[0][1]), body(sigs[0]), "Mallory", "mallory@evil.example")
    print(forged)
    extra = uid_packet(forged) + sigs[0]
else:
    ouid, osigs = first_uid_with_sigs(packets(open(other, 'rb').read()))
    extra = ouid + b''.join(osigs)
open(out, 'wb').write(b''.join(r for _, r in pk) + extra)
PY
}
# forge_backsig IN OUTDIR: from IN's signing subkey, whose binding carries its
# back-signature (0x19) E2 in the unhashed area, where anyone may add to it:
#   OUTDIR/b1.pgp: the binding's unhashed area is [E1, E2], E1 a forged
#                  back-signature with the right digest prefix
#   OUTDIR/b2.pgp: the binding's unhashed area is [E1] only
# b1 verifies (E2 does); b2 must not. A directory that took every embedded
# signature of a stored b1 as verified would accept b2.
forge_backsig() {
  python3 - "$1" "$2" <<'PY'
import sys, hashlib, os
src, outdir = sys.argv[1:3]
def packets(data):
    i, out = 0, []
    while i < len(data):
        b = data[i]
        if b & 0x40:
            tag = b & 0x3F; l = data[i + 1]; h = 2
            if 192 <= l < 224: l = ((l - 192) << 8) + data[i + 2] + 192; h = 3
            elif l == 255: l = int.from_bytes(data[i + 2:i + 6], 'big'); h = 6
        else:
            tag = (b >> 2) & 0xF; n = [1, 2, 4][b & 3]
            l = int.from_bytes(data[i + 1:i + 1 + n], 'big'); h = 1 + n
        out.append([tag, data[i + h:i + h + l]]); i += h + l
    return out
def pkt(tag, body):
    if len(body) < 192: hdr = bytes([0xC0 | tag, len(body)])
    elif len(body) < 8384:
        l = len(body) - 192; hdr = bytes([0xC0 | tag, (l >> 8) + 192, l & 0xFF])
    else: hdr = bytes([0xC0 | tag, 255]) + len(body).to_bytes(4, 'big')
    return hdr + body
def subpkt(typ, body):
    assert len(body) + 1 < 192
    return bytes([len(body) + 1, typ]) + body
def split_sig(s):
    hl = int.from_bytes(s[4:6], 'big'); hashed = s[:6 + hl]
    ul = int.from_bytes(s[6 + hl:8 + hl], 'big')
    return hashed, s[8 + hl:8 + hl + ul], s[8 + hl + ul:]
def subpackets(area):
    i, out = 0, []
    while i < len(area):
        l = area[i]; assert l < 192
        out.append((area[i + 1] & 0x7F, area[i:i + 1 + l])); i += 1 + l
    return out
keyhash = lambda k: b'\x99' + len(k).to_bytes(2, 'big') + k
ps = packets(open(src, 'rb').read())
primary = ps[0][1]
for i, (t, b) in enumerate(ps):
    if t == 14 and i + 1 < len(ps) and ps[i + 1][0] == 2:
        if any(t2 == 32 for t2, _ in subpackets(split_sig(ps[i + 1][1])[1])):
            sub, bind_i = b, i + 1
            break
hashed, unhashed, rest = split_sig(ps[bind_i][1])
e2 = [raw for t, raw in subpackets(unhashed) if t == 32][0]
created = int.from_bytes(sub[1:5], 'big')
e1_hashed = bytes([4, 0x19, sub[5], 8]) + (6).to_bytes(2, 'big') + subpkt(2, (created + 1).to_bytes(4, 'big'))
d = hashlib.sha256(keyhash(primary) + keyhash(sub) + e1_hashed + b'\x04\xff' +
                   len(e1_hashed).to_bytes(4, 'big')).digest()
mpi = lambda x: x.bit_length().to_bytes(2, 'big') + x.to_bytes((x.bit_length() + 7) // 8, 'big')
garbage = mpi(int.from_bytes(os.urandom(32), 'big') | (1 << 255)) + mpi(int.from_bytes(os.urandom(32), 'big') | (1 << 254))
E1 = subpkt(32, e1_hashed + b'\x00\x00' + d[:2] + garbage)
def cert_with(u):
    binding = hashed + len(u).to_bytes(2, 'big') + u + rest
    return b''.join(pkt(t, binding if i == bind_i else b) for i, (t, b) in enumerate(ps))
open(os.path.join(outdir, 'b1.pgp'), 'wb').write(cert_with(E1 + e2))
open(os.path.join(outdir, 'b2.pgp'), 'wb').write(cert_with(E1))
PY
}
gpg --dearmor <"$VICTIM" >"$T/victim.pgp"
gpg --dearmor <"$OTHER" >"$T/other.pgp"
FORGED=$(forge "$T/victim.pgp" "$T/forged-uid.pgp" uid)
echo "forged user ID (its digest prefix matches the owner's signature): $FORGED"
forge "$T/victim.pgp" "$T/forged-other.pgp" other "$T/other.pgp"
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
forge_backsig "$T/victim.pgp" "$T/bs"
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
