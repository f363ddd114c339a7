#!/usr/bin/env python3
# A misconfigured or hostile SKS reconciliation partner (driven by
# recon_peer_policy.sh): it connects to keydird's --recon-listen port and
# opens with a Config whose bitquantum and mbar match keydird's (2 and 5)
# and whose filters are whatever the caller chose. Wire format (src/recon/messages.cpp, SKS
# reconMessages.ml): a message is a 4-octet big-endian length, a type octet
# and its body; Config = type 10, an entry count, then per entry a string
# key and a value (strings: 4-octet length and octets; "http port",
# "bitquantum" and "mbar": length 4 and a 4-octet integer). keydird answers
# with its own Config, then the string "passed", or "failed" and a reason.
#   fake_filters_peer.py HOST PORT text FILTERS   filters as the body of a Python
#                                                 bytes literal (\x1b, \n, \xc2\x9b)
#   fake_filters_peer.py HOST PORT size N         N octets of "x"
#   fake_filters_peer.py HOST PORT frame N        only a length prefix
#                                                 claiming an N-octet message
#   fake_filters_peer.py HOST PORT many N [SRC]   N connections, each with
#       other filters; SRC "one": all from 127.0.0.1, "spread": from
#       127.0.0.10 .. 127.0.0.(9+N)
# Prints one line per connection: what keydird announced and answered.
import ast
import os
import socket
import struct
import sys


def s(b):
    return struct.pack(">I", len(b)) + b


def config(filters):
    body = bytes([10]) + struct.pack(">I", 5)
    body += s(b"version") + s(b"1.1.6")
    # The HKP port announced: keydird tells configured partners that share
    # an address apart by it (HTTP_PORT, default 11371).
    body += s(b"http port") + struct.pack(">II", 4, int(os.environ.get("HTTP_PORT", "11371")))
    body += s(b"bitquantum") + struct.pack(">II", 4, 2)
    body += s(b"mbar") + struct.pack(">II", 4, 5)
    body += s(b"filters") + s(filters)
    return struct.pack(">I", len(body)) + body


def read_exact(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(min(n - len(buf), 1 << 20))
        if not d:
            raise ConnectionError("keydird closed the connection")
        buf += d
    return buf


def read_string(c, limit):
    n = struct.unpack(">I", read_exact(c, 4))[0]
    if n > limit:
        raise ConnectionError("string of %d octets" % n)
    return read_exact(c, n)


def their_filters(frame):
    # keydird's Config: type 10, count, entries
    pos = 5
    for _ in range(struct.unpack(">I", frame[1:5])[0]):
        kl = struct.unpack(">I", frame[pos:pos + 4])[0]
        key = frame[pos + 4:pos + 4 + kl]
        pos += 4 + kl
        vl = struct.unpack(">I", frame[pos:pos + 4])[0]
        val = frame[pos + 4:pos + 4 + vl]
        pos += 4 + vl
        if key == b"filters":
            return val.decode("utf-8", "replace")
    return "(none)"


def session(host, port, payload, source=None):
    c = socket.socket()
    c.settimeout(10)
    try:
        if source:
            c.bind((source, 0))
        c.connect((host, port))
        c.sendall(payload)
        n = struct.unpack(">I", read_exact(c, 4))[0]
        if n > 1 << 20:
            return "keydird sent a message of %d octets" % n
        announced = their_filters(read_exact(c, n))
        status = read_string(c, 256).decode("utf-8", "replace")
        reason = ""
        if status != "passed":
            reason = read_string(c, 4096).decode("utf-8", "replace")
        return "keydird announces [%s], answers [%s] [%s]" % (announced, status, reason)
    except (ConnectionError, socket.timeout, OSError) as e:
        return "no answer: %s" % e
    finally:
        c.close()


host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "text":
    filters = ast.literal_eval("b'''" + sys.argv[4] + "'''")
    print(session(host, port, config(filters)), flush=True)
elif mode == "size":
    print(session(host, port, config(b"x" * int(sys.argv[4]))), flush=True)
elif mode == "frame":
    # The length prefix and a Config type octet, then nothing: keydird must
    # refuse the size without waiting for (or allocating) the rest.
    print(session(host, port, struct.pack(">I", int(sys.argv[4])) + bytes([10])), flush=True)
elif mode == "many":
    spread = len(sys.argv) > 5 and sys.argv[5] == "spread"
    for i in range(int(sys.argv[4])):
        src = "127.0.0.%d" % (10 + i) if spread else None
        print(session(host, port, config(b"drop:probe-%d,yminsky.merge" % i), src), flush=True)
else:
    sys.exit("unknown mode " + mode)
