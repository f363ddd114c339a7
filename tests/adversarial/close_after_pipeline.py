#!/usr/bin/env python3
"""Clients that pipeline past the last request of their connection (the
1,000th answer says Connection: Close). Closing a socket with unread input
resets it, and the reset drops what of the answers the kernel has not sent
yet: keydird must shut its side and read on until the client has had every
answer, and still not keep a descriptor for a client that never reads.

  close_after_pipeline.py PORT late EXTRA
      sends 1,000 HEAD misses and EXTRA more octets of requests at once, with
      a 4 KiB receive buffer, reads nothing for a second, then reads:
      prints "answers N last_close yes|no"
  close_after_pipeline.py PORT silent COUNT PID
      opens COUNT such connections and never reads them; prints keydird's
      open descriptors before, with them open, and once back to BEFORE (at
      most 10 s later), and the seconds that took:
      "fds BEFORE DURING AFTER SECONDS"
"""
import os
import socket
import sys
import time

from heads import Heads

REQ = b"HEAD /nothing HTTP/1.1\r\nHost: a\r\n\r\n"


def pipelined(port, extra):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(10)
    try:
        s.sendall(REQ * (1000 + extra // len(REQ)))
    except OSError:
        pass
    return s


def late(port, extra):
    s = pipelined(port, extra)
    time.sleep(1)
    heads = Heads()
    heads.read_until_end(s)
    print("answers", heads.count, "last_close", "yes" if b"Connection: Close" in heads.last else "no")


def silent(port, count, pid):
    def fds():
        return len(os.listdir(f"/proc/{pid}/fd"))

    before = fds()
    conns = [pipelined(port, 0) for _ in range(count)]
    t0 = time.time()
    time.sleep(0.5)
    during = fds()
    after = fds()
    while after > before + 2 and time.time() - t0 < 10:
        time.sleep(0.1)
        after = fds()
    print("fds", before, during, after, f"{time.time() - t0:.1f}")
    for s in conns:
        s.close()


port, mode = int(sys.argv[1]), sys.argv[2]
if mode == "late":
    late(port, int(sys.argv[3]))
else:
    silent(port, int(sys.argv[3]), int(sys.argv[4]))
