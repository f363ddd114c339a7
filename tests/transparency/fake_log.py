#!/usr/bin/env python3
"""A keydir transparency log computed here with hashlib (RFC 6962 / 9162,
C2SP tlog-tiles, checkpoint and signed note), served on loopback, so that
keydir-log-oracle can be tested without keydird, and against faults on
purpose.

  fake_log.py PORTFILE [--entries N] [--fault NAME] [--scheme hmac|scrypt]

--scheme scrypt makes a log as verified and managed mode do: addresses as
scrypt commitments (cheap parameters here) and each entry's fingerprint
blinded, HMAC-SHA-256(salt, "keydir fingerprint v1\n" || version ||
fingerprint) truncated to the fingerprint's length; GET /fake/fingerprints
lists the certificates' real fingerprints (what a caller may know).

Writes its port to PORTFILE once it listens. Control: POST /fake/append?n=K
appends K certificate entries (and signs a new checkpoint), POST
/fake/fault?name=NAME switches the fault (name= for none). Faults:
  tile         one byte of every level-0 hash tile flipped
  entry        the bundles serve an entry differing from the hashed one
  malformed    an entry with unsorted commitments, hashed as served
  inclusion    inclusion proofs with one hash flipped
  consistency  consistency proofs with one hash flipped
  fork         entry 1 rewritten (new hashes, newly signed): history differs
  rollback     /log/checkpoint answers the first checkpoint signed
  signature    the checkpoint's signature is of other text
  lookup-digest   lookups (Keydir-Log-Proof: 1) answer a byte more
  lookup-proof    lookups prove with one hash flipped
  clear           (scrypt) entry 3 carries its fingerprint in clear
Needs python3-cryptography (Ed25519).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ORIGIN = "fake.keydir.test/log"


def leaf(e):
    return hashlib.sha256(b"\x00" + e).digest()


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def split(n):  # the largest power of two below n (n > 1)
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Log:
    def __init__(self, scheme="hmac"):
        self.scrypt = scheme == "scrypt"
        self.commitments = {}
        self.key = Ed25519PrivateKey.generate()
        pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.keyhash = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + pub).digest()[:4]
        self.vkey = "%s+%s+%s" % (ORIGIN, self.keyhash.hex(), base64.b64encode(b"\x01" + pub).decode())
        self.entries = []
        self.levels = [[]]
        self.first_checkpoint = None
        self.fault = ""
        self.lock = threading.Lock()
        salt = self.salt = os.urandom(32)
        params = [2, 10, 8, 1] if self.scrypt else [1, 0, 0, 0]
        self.append(struct.pack(">BBQQ", 1, 0, 0, 1700000000) + bytes(params) + salt)

    def append(self, e):
        self.entries.append(e)
        self.levels[0].append(leaf(e))
        lv = 0
        while len(self.levels[lv]) % 2 == 0:
            if len(self.levels) == lv + 1:
                self.levels.append([])
            a, b = self.levels[lv][-2:]
            self.levels[lv + 1].append(node(a, b))
            lv += 1
        self.checkpoint = self.sign()
        if self.first_checkpoint is None:
            self.first_checkpoint = self.checkpoint

    def rebuild(self):
        es, self.entries, self.levels = self.entries, [], [[]]
        for e in es:
            self.append(e)

    @staticmethod
    def vfpr(i):
        """certificate i's real key version and fingerprint."""
        return bytes([4]) + hashlib.sha256(b"fpr%d" % i).digest()[:20]

    def field(self, vfpr):
        """what an entry holds for the certificate of vfpr (blinded in scrypt logs)."""
        if not self.scrypt:
            return vfpr
        mac = hmac.new(self.salt, b"keydir fingerprint v1\n" + vfpr, hashlib.sha256).digest()
        return vfpr[:1] + mac[:len(vfpr) - 1]

    def cert(self, i, bad=False, clear=False):
        vfpr = self.vfpr(i) if clear else self.field(self.vfpr(i))
        cs = sorted({self.commit(a) for a in self.addresses(i)})
        if bad:
            cs = [b"\xff" * 32, b"\x00" * 32]
        return (struct.pack(">BBQQ", 1, 1, 10 + i, 1700000000 + i) + vfpr + hashlib.sha256(b"pub%d" % i).digest()
                + struct.pack(">H", len(cs)) + b"".join(cs))

    @staticmethod
    def addresses(i):
        return ["u%d@fake.test" % i] + (["shared@fake.test"] if i % 3 == 0 else [])

    def commit(self, addr):
        if not self.scrypt:
            return hmac.new(self.salt, b"keydir address commitment v1\n" + addr.encode(), hashlib.sha256).digest()
        if addr not in self.commitments:
            self.commitments[addr] = hashlib.scrypt(addr.encode(), salt=self.salt, n=1 << 10, r=8, p=1, dklen=32)
        return self.commitments[addr]

    def latest(self):
        """certificate number -> index of its latest entry (certificate i: entry i)."""
        return {i: i for i in range(1, len(self.entries))}

    def mth(self, lo, hi):
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = split(n)
        return node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def path(self, m, lo, hi):
        if hi - lo <= 1:
            return []
        k = split(hi - lo)
        if m < lo + k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, b):
        if m == hi:
            return [] if b else [self.mth(lo, hi)]
        k = split(hi - lo)
        if m <= lo + k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m, lo + k, hi, False) + [self.mth(lo, lo + k)]

    def sign(self):
        n = len(self.entries)
        body = "%s\n%d\n%s\n" % (ORIGIN, n, base64.b64encode(self.mth(0, n)).decode())
        sig = self.key.sign(body.encode())
        return (body + "\n\u2014 %s %s\n" % (ORIGIN, base64.b64encode(self.keyhash + sig).decode())).encode()


def parse_n(parts):
    """C2SP tile number path elements -> (N, width or None)."""
    width = None
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        width = int(parts[-1])
        parts = parts[:-2] + [parts[-2][:-2]]
    n = 0
    for i, p in enumerate(parts):
        if (i < len(parts) - 1) != p.startswith("x"):
            raise ValueError(p)
        p = p.lstrip("x")
        if len(p) != 3 or not p.isdigit():
            raise ValueError(p)
        n = n * 1000 + int(p)
    return n, width


class Handler(BaseHTTPRequestHandler):
    log = None

    def log_message(self, *a):
        pass

    def answer(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        lg = self.log
        with lg.lock:
            if u.path == "/fake/append":
                for _ in range(int(q["n"][0])):
                    i = len(lg.entries)
                    lg.append(lg.cert(i, bad=lg.fault == "malformed" and i == 3, clear=lg.fault == "clear" and i == 3))
            elif u.path == "/fake/fault":
                lg.fault = q.get("name", [""])[0]
                if lg.fault == "fork":
                    lg.entries[1] = lg.cert(1000001)
                    lg.rebuild()
            else:
                return self.answer(404, b"no\n")
            self.answer(200, b"%d\n" % len(lg.entries), "text/plain")

    def do_GET(self):
        lg = self.log
        u = urlparse(self.path)
        q = parse_qs(u.query)
        p = u.path
        with lg.lock:
            size = len(lg.entries)
            try:
                if p == "/fake/fingerprints":
                    body = "".join("%s\n" % lg.vfpr(i)[1:].hex() for i in range(1, size))
                    return self.answer(200, body.encode(), "text/plain")
                if p == "/log/vkey":
                    return self.answer(200, (lg.vkey + "\n").encode(), "text/plain; charset=utf-8")
                if p == "/log/checkpoint":
                    cp = lg.checkpoint
                    if lg.fault == "rollback":
                        cp = lg.first_checkpoint
                    if lg.fault == "signature":
                        cp = cp.replace(b"\n%d\n" % size, b"\n%d\n" % (size + 1), 1)
                    return self.answer(200, cp, "text/plain; charset=utf-8")
                if p.startswith("/log/tile/"):
                    parts = p[len("/log/tile/"):].split("/")
                    level = parts[0]
                    n, w = parse_n(parts[1:])
                    w = w or 256
                    if level == "entries":
                        if n * 256 + w > size:
                            return self.answer(404, b"past the tree\n")
                        out = b""
                        for i in range(n * 256, n * 256 + w):
                            e = lg.entries[i]
                            if lg.fault == "entry" and i == 2:
                                e = e[:-1] + bytes([e[-1] ^ 1])
                            out += struct.pack(">H", len(e)) + e
                        return self.answer(200, out)
                    lv = 8 * int(level)
                    if lv >= len(lg.levels) or n * 256 + w > len(lg.levels[lv]):
                        return self.answer(404, b"past the tree\n")
                    out = bytearray(b"".join(lg.levels[lv][n * 256:n * 256 + w]))
                    if lg.fault == "tile" and lv == 0:
                        out[len(out) // 2] ^= 0x40
                    return self.answer(200, bytes(out))
                if p == "/log/proof/inclusion":
                    i, s = int(q["index"][0]), int(q["size"][0])
                    if not (0 <= i < s <= size):
                        return self.answer(400, b"bad index or size\n")
                    hs = lg.path(i, 0, s)
                    if lg.fault == "inclusion" and hs:
                        hs[0] = bytes([hs[0][0] ^ 1]) + hs[0][1:]
                    body = {"index": i, "size": s, "hashes": [base64.b64encode(h).decode() for h in hs]}
                    return self.answer(200, json.dumps(body).encode(), "application/json")
                if p == "/log/proof/consistency":
                    a, b = int(q["old"][0]), int(q["new"][0])
                    if not (0 < a <= b <= size):
                        return self.answer(400, b"bad sizes\n")
                    hs = lg.subproof(a, 0, b, True)
                    if lg.fault == "consistency" and hs:
                        hs[-1] = bytes([hs[-1][0] ^ 1]) + hs[-1][1:]
                    body = {"old": a, "new": b, "hashes": [base64.b64encode(h).decode() for h in hs]}
                    return self.answer(200, json.dumps(body).encode(), "application/json")
                fpr = addr = None
                if p.startswith("/vks/v1/by-fingerprint/"):
                    fpr = p.rsplit("/", 1)[1]
                elif p.startswith("/vks/v1/by-email/"):
                    addr = unquote(p.rsplit("/", 1)[1])
                elif p == "/pks/lookup" and q.get("op") == ["get"]:
                    s = q["search"][0]
                    fpr, addr = (s[2:], None) if s.startswith("0x") else (None, s)
                proof = self.headers.get("Keydir-Log-Proof") == "1" or "proof" in q.get("options", [""])[0].split(",")
                if (fpr or addr) and proof:
                    hits = []
                    for i, idx in lg.latest().items():
                        e = lg.entries[idx]
                        if fpr and e[19:39] == lg.field(bytes([4]) + bytes.fromhex(fpr))[1:]:
                            hits.append((i, idx))
                        if addr and lg.commit(addr.lower()) in [e[-32 * (k + 1):len(e) - 32 * k] for k in range(struct.unpack(">H", e[71:73])[0])]:
                            hits.append((i, idx))
                    if not hits:
                        return self.answer(404, b"not found\n")
                    body = b"".join(b"pub%d" % i for i, _ in hits)
                    if lg.fault == "lookup-digest":
                        body += b"!"
                    incl = []
                    for _, idx in hits:
                        hs = lg.path(idx, 0, size)
                        if lg.fault == "lookup-proof" and hs:
                            hs[0] = bytes([hs[0][0] ^ 1]) + hs[0][1:]
                        incl.append("%d %s %s" % (idx, base64.b64encode(lg.entries[idx]).decode(),
                                                  ",".join(base64.b64encode(h).decode() for h in hs)))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Keydir-Log-Checkpoint", base64.b64encode(lg.checkpoint).decode())
                    self.send_header("Keydir-Log-Inclusion", "; ".join(incl))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if p.startswith("/log/entry/"):
                    want = lg.field(bytes.fromhex(p[len("/log/entry/"):]))
                    for i in range(size - 1, 0, -1):
                        e = lg.entries[i]
                        if e[18:18 + len(want)] == want:
                            body = {"index": i, "entry": base64.b64encode(e).decode()}
                            return self.answer(200, json.dumps(body).encode(), "application/json")
                    return self.answer(404, b"no such certificate\n")
            except (ValueError, KeyError, IndexError) as err:
                return self.answer(400, ("bad request: %s\n" % err).encode())
        self.answer(404, b"not found\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("--entries", type=int, default=10, help="certificate entries after the header")
    ap.add_argument("--fault", default="")
    ap.add_argument("--scheme", choices=["hmac", "scrypt"], default="hmac")
    a = ap.parse_args()
    Handler.log = Log(a.scheme)
    Handler.log.fault = a.fault
    for i in range(1, a.entries + 1):
        Handler.log.append(Handler.log.cert(i, bad=a.fault == "malformed" and i == 3, clear=a.fault == "clear" and i == 3))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(a.portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.portfile + ".tmp", a.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
