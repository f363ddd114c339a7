#!/usr/bin/env python3
# A hostile SKS reconciliation partner (driven by recon_never_flush.sh).
# keydird connects to it to gossip; it passes the Config exchange (it sends
# back keydird's own Config, so the parameters match), then sends
# ReconRqstFull for the root of the prefix tree over and over and never a
# Flush. Wire format (src/recon/messages.cpp, SKS reconMessages.ml): a
# message is a 4-octet big-endian length, a type octet and its body;
# ReconRqstFull = type 1, bit string (bit count, octet count, octets),
# element count and elements. The root is the empty bit string.
#   fake_recon_peer.py PORT_FILE SESSIONS SECONDS
# Writes its listening port to PORT_FILE, serves at most SESSIONS
# connections, sends for at most SECONDS per session; prints one line per
# session: requests sent, seconds, and how it ended.
import socket
import struct
import sys
import time

port_file, sessions, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ROOT_FULL = struct.pack(">I", 13) + bytes([1]) + struct.pack(">III", 0, 0, 0)
BATCH = ROOT_FULL * 1000  # 17 kB: a thousand requests per write

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(4)
srv.settimeout(30)
with open(port_file, "w") as f:
    f.write(str(srv.getsockname()[1]))


def read_exact(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            raise ConnectionError("keydird closed during the config exchange")
        buf += d
    return buf


for _ in range(sessions):
    try:
        c, _ = srv.accept()
    except socket.timeout:
        print("no connection from keydird within 30 s")
        break
    c.settimeout(10)
    t0 = time.time()
    sent = 0
    how = "still open after %.0f s" % seconds
    try:
        n = struct.unpack(">I", read_exact(c, 4))[0]
        config = read_exact(c, n)
        c.sendall(struct.pack(">I", n) + config)  # keydird's own parameters
        n = struct.unpack(">I", read_exact(c, 4))[0]
        status = read_exact(c, n)
        if status != b"passed":
            how = "keydird refused the config: %r" % status
            raise ConnectionError(how)
        c.sendall(struct.pack(">I", 6) + b"passed")
        while time.time() - t0 < seconds:
            c.sendall(BATCH)
            sent += 1000
    except (BrokenPipeError, ConnectionResetError) as e:
        how = "closed by keydird (%s)" % e.__class__.__name__
    except (ConnectionError, socket.timeout) as e:
        how = str(e)
    c.close()
    print("session: %d requests sent in %.2f s, %s" % (sent, time.time() - t0, how), flush=True)
