#!/usr/bin/env python3
"""Writes tampered copies of a binary OpenPGP certificate (test data only).

tampered-sig.pgp:  one bit flipped in the last octet of the first user ID's
                   self-signature (its signature value)
tampered-key.pgp:  one bit flipped in the primary key's material
tampered-uid.pgp:  one bit flipped in the first user ID's text
"""
import sys


def packets(data):
    """Yields (tag, header_start, body_start, body_end) for OpenPGP-format and legacy headers."""
    i = 0
    while i < len(data):
        ctb = data[i]
        start = i
        if ctb & 0x40:
            tag = ctb & 0x3F
            o1 = data[i + 1]
            if o1 < 192:
                length, i = o1, i + 2
            elif o1 < 224:
                length, i = ((o1 - 192) << 8) + data[i + 2] + 192, i + 3
            else:
                length, i = int.from_bytes(data[i + 2:i + 6], "big"), i + 6
        else:
            tag = (ctb >> 2) & 0x0F
            lt = ctb & 3
            n = {0: 1, 1: 2, 2: 4}[lt]
            length = int.from_bytes(data[i + 1:i + 1 + n], "big")
            i = i + 1 + n
        yield tag, start, i, i + length
        i += length


def main(path):
    data = open(path, "rb").read()
    pk = list(packets(data))
    key = next(p for p in pk if p[0] == 6)
    uid_index = next(n for n, p in enumerate(pk) if p[0] == 13)
    uid = pk[uid_index]
    sig = pk[uid_index + 1]
    assert sig[0] == 2

    def flip(pos, name):
        out = bytearray(data)
        out[pos] ^= 0x01
        open(name, "wb").write(bytes(out))

    flip(sig[3] - 1, "tampered-sig.pgp")
    flip(key[3] - 1, "tampered-key.pgp")
    flip(uid[2] + 2, "tampered-uid.pgp")


if __name__ == "__main__":
    main(sys.argv[1])
