#!/usr/bin/env python3
# The forgeries of signature_reuse.sh, made from a binary v4 certificate:
#   forge_signatures.py uid IN OUT          the first user ID's first self-
#       signature under a new user ID that is brute-forced to match its digest
#       prefix (prints that user ID), so that only the signature check can
#       refuse it
#   forge_signatures.py other IN OUT OTHER  OTHER's first user ID with its
#       signatures, put on IN's key
#   forge_signatures.py backsig IN OUTDIR   from IN's signing subkey, whose
#       binding carries its back-signature (0x19) E2 in the unhashed area:
#       OUTDIR/b1.pgp with the unhashed area [E1, E2], E1 a forged
#       back-signature with the right digest prefix, and OUTDIR/b2.pgp with
#       [E1] alone
import hashlib
import os
import sys

HASHES = {2: 'sha1', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224'}


def packets(data):
    """[tag, body] of each packet (RFC 9580 4.2, both header formats)."""
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


def write(path, ps):
    open(path, 'wb').write(b''.join(pkt(t, b) for t, b in ps))


def subpkt(typ, body):
    assert len(body) + 1 < 192
    return bytes([len(body) + 1, typ]) + body


def split_sig(s):
    """A v4 signature body: hashed part (through the hashed area), unhashed
    area, the rest (digest prefix and MPIs)."""
    hl = int.from_bytes(s[4:6], 'big')
    ul = int.from_bytes(s[6 + hl:8 + hl], 'big')
    return s[:6 + hl], s[8 + hl:8 + hl + ul], s[8 + hl + ul:]


def subpackets(area):
    i, out = 0, []
    while i < len(area):
        l = area[i]; assert l < 192
        out.append((area[i + 1] & 0x7F, area[i:i + 1 + l])); i += 1 + l
    return out


def keyhash(k):
    return b'\x99' + len(k).to_bytes(2, 'big') + k


def first_uid_with_sigs(ps):
    for n, (tag, body) in enumerate(ps):
        if tag == 13:
            sigs = []
            for t, b in ps[n + 1:]:
                if t != 2: break
                sigs.append([t, b])
            return [tag, body], sigs
    raise SystemExit("no user ID")


def collide(key, sig, name, addr):
    """A user ID whose signed digest under `sig` starts with the two octets
    the signature carries (RFC 9580 5.2.4 for v4): about 65,536 tries. A
    directory that trusted a remembered signature without the digest would
    take it."""
    assert sig[0] == 4
    hashed, _, rest = split_sig(sig)
    prefix = rest[:2]
    tail = hashed + b'\x04\xff' + len(hashed).to_bytes(4, 'big')
    for n in range(1 << 22):
        uid = f"{name} ({n}) <{addr}>".encode()
        h = hashlib.new(HASHES[sig[3]], keyhash(key) + b'\xb4' + len(uid).to_bytes(4, 'big') + uid + tail)
        if h.digest()[:2] == prefix:
            return uid.decode()
    raise SystemExit("no collision")


def forge_uid(src, out):
    ps = packets(open(src, 'rb').read())
    _, sigs = first_uid_with_sigs(ps)
    forged = collide(ps[0][1], sigs[0][1], "Mallory", "mallory@evil.example")
    print(forged)
    write(out, ps + [[13, forged.encode()], sigs[0]])


def forge_other(src, out, other):
    ps = packets(open(src, 'rb').read())
    uid, sigs = first_uid_with_sigs(packets(open(other, 'rb').read()))
    write(out, ps + [uid] + sigs)


def forge_backsig(src, outdir):
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
    e1 = subpkt(32, e1_hashed + b'\x00\x00' + d[:2] + garbage)
    for name, area in (('b1.pgp', e1 + e2), ('b2.pgp', e1)):
        binding = hashed + len(area).to_bytes(2, 'big') + area + rest
        write(os.path.join(outdir, name), [[t, binding if i == bind_i else b] for i, (t, b) in enumerate(ps)])


mode = sys.argv[1]
if mode == 'uid':
    forge_uid(*sys.argv[2:4])
elif mode == 'other':
    forge_other(*sys.argv[2:5])
elif mode == 'backsig':
    forge_backsig(*sys.argv[2:4])
else:
    raise SystemExit("usage: forge_signatures.py uid|other|backsig ...")
