#!/usr/bin/env python3
"""Clients that pipeline without pause: each sends HEAD misses in batches as
fast as it can and reads its answers (so it is never cut for not reading).
Pistache reads a connection until its socket is empty before it serves
another, so such a client could keep a worker to itself. Meanwhile a
victim asks on fresh connections. Prints one line per figure:
  victim MAX_SECONDS ANSWERED/ASKED
  flood ANSWERS_BEFORE_CLOSE... (per flooding connection, its first)
  last_close yes|no   (the last answer before the close said Connection: Close)
    pipeline_flood.py PORT FLOODERS SECONDS
"""
import socket
import sys
import threading
import time

from heads import Heads
from victim import ask_fresh

port, flooders, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
REQ = b"HEAD /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
stop = threading.Event()
firsts = []  # answers each flooding connection got before it was closed
last_close = []


def flood():
    while not stop.is_set():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        heads = Heads()
        closed = threading.Event()

        def reader():
            heads.read_until_end(s, 1 << 20)
            closed.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        batch = REQ * 500
        try:
            while not stop.is_set() and not closed.is_set():
                s.sendall(batch)
        except OSError:
            pass
        t.join(5)
        s.close()
        if closed.is_set() and len(firsts) < flooders:  # closed by keydird, not by us
            firsts.append(heads.count)
            last_close.append(b"Connection: Close" in heads.last)


threads = [threading.Thread(target=flood, daemon=True) for _ in range(flooders)]
for t in threads:
    t.start()
time.sleep(1)
worst, answered, asked = ask_fresh(port, seconds)
# A slow build (sanitizers) answers fewer a second: wait for every flooder's
# first connection to be closed, rather than count on a speed.
deadline = time.time() + 60
while len(firsts) < flooders and time.time() < deadline:
    time.sleep(0.1)
stop.set()
time.sleep(0.5)
print(f"victim {worst:.2f} {answered}/{asked}")
print("flood", *firsts)
print("last_close", "yes" if last_close and all(last_close) else "no")
