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

port, flooders, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
REQ = b"HEAD /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
stop = threading.Event()
firsts = []  # answers each flooding connection got before it was closed
last_close = []


def flood():
    while not stop.is_set():
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = {"answers": 0, "buf": b"", "closed": False, "last": b""}

        def reader():
            while True:
                try:
                    d = s.recv(1 << 20)
                except OSError:
                    d = b""
                if not d:
                    state["closed"] = True
                    return
                state["buf"] += d
                while b"\r\n\r\n" in state["buf"]:
                    head, _, state["buf"] = state["buf"].partition(b"\r\n\r\n")
                    state["answers"] += 1
                    state["last"] = head

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        batch = REQ * 500
        try:
            while not stop.is_set() and not state["closed"]:
                s.sendall(batch)
        except OSError:
            pass
        t.join(5)
        s.close()
        if len(firsts) < flooders:
            firsts.append(state["answers"])
            last_close.append(b"Connection: Close" in state["last"])


threads = [threading.Thread(target=flood, daemon=True) for _ in range(flooders)]
for t in threads:
    t.start()
time.sleep(1)
worst, answered, asked = 0.0, 0, 0
end = time.time() + seconds
while time.time() < end:
    asked += 1
    t0 = time.time()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=8)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        if c.recv(100).startswith(b"HTTP/1.1 200"):
            answered += 1
        c.close()
    except OSError:
        pass
    worst = max(worst, time.time() - t0)
    time.sleep(0.2)
stop.set()
time.sleep(0.5)
print(f"victim {worst:.2f} {answered}/{asked}")
print("flood", *firsts)
print("last_close", "yes" if last_close and all(last_close) else "no")
