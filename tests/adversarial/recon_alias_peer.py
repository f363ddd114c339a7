#!/usr/bin/env python3
# A reconciliation partner that holds one key in forms keydird stores
# differently (driven by recon_alias_peer.sh). It connects to keydird's
# --recon-listen port from 127.0.0.1 (keydird serves: it sends the requests,
# this side answers) and runs an HKP server of its own whose port it
# announces in its Config, answering POST /pks/hashquery.
#
# The forms: the key of KEYFILE with one or more third-party certifications
# added after its first user ID (well-formed v4 signature packets with
# random MPIs: keydird keeps no third-party certification its owner did not
# attest, so every form is stored as the bare key). The SKS hash of a form
# is keydird's sks_digest: MD5 over the packets sorted by tag and body, each
# as tag (4 octets), length (4 octets), body.
#
# Wire format: src/recon/messages.cpp (a message is a 4-octet big-endian
# length, a type octet and its body; an element is 17 little-endian octets).
#
#   recon_alias_peer.py RECONPORT KEYFILE stale
#       rounds in which the partner holds form 1, then form 2 (form 1 plus
#       one more certification); prints what keydird shows it each round.
#   recon_alias_peer.py RECONPORT KEYFILE poison FILTERS
#       a local process (not the configured partner's HKP server) serves a
#       form of the key from its own port; then prints what keydird shows a
#       session announcing FILTERS (the configured partner's).
# Output lines: "LABEL: NAMES" with NAMES the sorted names of the elements
# keydird showed (h0: the key as keydird stores it; f1, f2, x: the forms).
import hashlib
import http.server
import os
import socket
import struct
import sys
import threading
import time


def parse(data):
    out, i = [], 0
    while i < len(data):
        h = data[i]
        i += 1
        if h & 0x40:
            tag, l = h & 0x3F, data[i]
            i += 1
            if l < 192:
                n = l
            elif l < 224:
                n = ((l - 192) << 8) + data[i] + 192
                i += 1
            else:
                n = struct.unpack(">I", data[i:i + 4])[0]
                i += 4
        else:
            tag, lt = (h >> 2) & 0xF, h & 3
            width = [1, 2, 4][lt]
            n = int.from_bytes(data[i:i + width], "big")
            i += width
        out.append((tag, data[i:i + n]))
        i += n
    return out


def serialize(pkts):
    out = b""
    for tag, body in pkts:
        n = len(body)
        if n < 192:
            length = bytes([n])
        elif n < 8384:
            length = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
        else:
            length = b"\xff" + struct.pack(">I", n)
        out += bytes([0xC0 | tag]) + length + body
    return out


def sks_hash(pkts):
    h = hashlib.md5()
    for tag, body in sorted(pkts):
        h.update(struct.pack(">II", tag, len(body)) + body)
    return h.digest()


def third_party_cert(i):
    # v4 generic certification (0x10), EdDSA, SHA-256, by a random issuer
    fpr = os.urandom(20)
    hashed = bytes([5, 2]) + struct.pack(">I", 1700000000 + i) + bytes([22, 33, 4]) + fpr
    unhashed = bytes([9, 16]) + fpr[-8:]
    mpi = lambda: struct.pack(">H", 256) + b"\x80" + os.urandom(31)
    return (bytes([4, 0x10, 22, 8]) + struct.pack(">H", len(hashed)) + hashed +
            struct.pack(">H", len(unhashed)) + unhashed + os.urandom(2) + mpi() + mpi())


def with_certs(pkts, certs):
    out, i, done = [], 0, False
    while i < len(pkts):
        out.append(pkts[i])
        i += 1
        if pkts[i - 1][0] == 13 and not done:
            while i < len(pkts) and pkts[i][0] == 2:
                out.append(pkts[i])
                i += 1
            out += [(2, c) for c in certs]
            done = True
    return out


def s(b):
    return struct.pack(">I", len(b)) + b


def config(filters, http_port):
    body = bytes([10]) + struct.pack(">I", 5)
    body += s(b"version") + s(b"1.1.6")
    body += s(b"http port") + struct.pack(">II", 4, http_port)
    body += s(b"bitquantum") + struct.pack(">II", 4, 2)
    body += s(b"mbar") + struct.pack(">II", 4, 5)
    body += s(b"filters") + s(filters)
    return struct.pack(">I", len(body)) + body


def rx(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            raise ConnectionError("keydird closed the connection")
        buf += d
    return buf


def message(c):
    return rx(c, struct.unpack(">I", rx(c, 4))[0])


def zs(m, p):
    n = struct.unpack(">I", m[p:p + 4])[0]
    return [m[p + 4 + 17 * i:p + 21 + 17 * i] for i in range(n)]


def bits(m, p):
    nb, ny = struct.unpack(">II", m[p:p + 8])
    b = m[p + 8:p + 8 + ny]
    return [(b[i // 8] >> (7 - i % 8)) & 1 for i in range(nb)], p + 8 + ny


def under(prefix, z):
    return all(((z[i // 8] >> (7 - i % 8)) & 1) == v for i, v in enumerate(prefix))


class Busy(Exception):
    pass


def session(port, filters, http_port, mine):
    """One session, tried again while keydird is still busy with the round
    before (it fetches and stores after a session; on a loaded machine that
    outlasts the pause between sessions)."""
    for _ in range(100):
        try:
            return one_session(port, filters, http_port, mine)
        except Busy:
            time.sleep(0.2)
    return one_session(port, filters, http_port, mine)


def one_session(port, filters, http_port, mine):
    """One session; keydird serves. Returns the set of 17-octet elements it
    showed (in its requests and its Elements)."""
    mine = {h + b"\0" for h in mine}
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    c.sendall(config(filters, http_port))
    message(c)
    if message(c) != b"passed":
        why = message(c)
        c.close()
        if b"busy" in why:
            raise Busy()
        raise ConnectionError("keydird refused the config: %r" % why)
    c.sendall(s(b"passed"))
    shown, replies = set(), []
    while True:
        m = message(c)
        if m[0] == 1:  # ReconRqstFull: our elements it lacks
            prefix, p = bits(m, 1)
            theirs = set(zs(m, p))
            shown |= theirs
            replies.append((2, [z for z in mine if under(prefix, z) and z not in theirs]))
        elif m[0] == 0:  # ReconRqstPoly: all of ours below it
            prefix, p = bits(m, 1)
            replies.append((3, [z for z in mine if under(prefix, z)]))
        elif m[0] == 2:
            shown |= set(zs(m, 1))
        elif m[0] == 6:
            out = b""
            for kind, elems in replies:
                body = bytes([kind]) + struct.pack(">I", len(elems)) + b"".join(elems)
                out += struct.pack(">I", len(body)) + body
            replies = []
            c.sendall(out)
        elif m[0] == 5:
            break
        else:
            raise ConnectionError("unexpected message type %d" % m[0])
    c.close()
    return shown


class Hkp:
    def __init__(self):
        self.certs, self.asked = {}, []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                n, p, out = struct.unpack(">I", body[:4])[0], 4, []
                for _ in range(n):
                    l = struct.unpack(">I", body[p:p + 4])[0]
                    h = body[p + 4:p + 4 + l]
                    p += 4 + l
                    outer.asked.append(h)
                    if h in outer.certs:
                        out.append(outer.certs[h])
                answer = struct.pack(">I", len(out)) + b"".join(s(x) for x in out)
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait(self, n):
        # keydird fetches after the session, then stores: give it a moment
        for _ in range(100):
            if len(self.asked) >= n:
                break
            time.sleep(0.1)
        time.sleep(1.0)


port, keyfile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = parse(open(keyfile, "rb").read())
names = {sks_hash(key) + b"\0": "h0"}
SKS = b"yminsky.dedup,yminsky.merge"


def settled(held):
    """What keydird shows a partner holding `held`, once keydird has stored
    the form it fetched: it stores after the fetch, asynchronously, so a
    session in between shows nothing (a loaded machine takes longer)."""
    shown = set()
    for _ in range(50):
        shown = session(port, SKS, hkp.port, held)
        if shown:
            break
        time.sleep(0.2)
    return shown


def show(label, shown):
    print("%s: %s" % (label, " ".join(sorted(names.get(z, "other") for z in shown))), flush=True)


hkp = Hkp()
if mode == "stale":
    c1, c2 = third_party_cert(1), third_party_cert(2)
    forms = [with_certs(key, [c1]), with_certs(key, [c1, c2])]
    hashes = [sks_hash(f) for f in forms]
    for i, (f, h) in enumerate(zip(forms, hashes), 1):
        hkp.certs[h] = serialize(f)
        names[h + b"\0"] = "f%d" % i
    show("before", session(port, SKS, hkp.port, set()))
    session(port, SKS, hkp.port, {hashes[0]})
    hkp.wait(1)
    show("after form 1", settled({hashes[0]}))
    session(port, SKS, hkp.port, {hashes[1]})
    hkp.wait(2)
    show("after form 2", settled({hashes[1]}))
elif mode == "poison":
    # The configured partner announces its own HKP port (DEAD: nothing
    # listens there). The local process tries as itself (its own HKP port,
    # the partner's filters, then the sks filters) and as the partner (the
    # partner's HKP port): keydird must never record the local process's
    # form as the partner's.
    filters, dead = sys.argv[4].encode(), int(sys.argv[5])
    form = with_certs(key, [third_party_cert(7)])
    h = sks_hash(form)
    hkp.certs[h] = serialize(form)
    names[h + b"\0"] = "x"
    show("partner before", session(port, filters, dead, set()))
    for attempt in ((filters, hkp.port), (SKS, hkp.port), (filters, dead)):
        try:
            session(port, attempt[0], attempt[1], {h})
        except Exception as e:  # refused (mismatched filters): as it should be
            print("attempt refused: %s" % e, flush=True)
    time.sleep(1)
    print("fetched from the local process: %d" % len(hkp.asked), flush=True)
    show("partner after", session(port, filters, dead, set()))
else:
    sys.exit("unknown mode " + mode)
