#!/usr/bin/env python3
"""A new client, on a fresh connection every 0.2 s, while others keep the
server busy: how long the slowest wait was, and how many were answered.
As a program it waits a second (the others get under way), then prints:
  victim MAX_SECONDS ANSWERED/ASKED
    victim.py PORT SECONDS
"""
import socket
import sys
import time


def ask_fresh(port, seconds):
    """(worst seconds, answered, asked) of GET /healthz on fresh connections."""
    worst, answered, asked = 0.0, 0, 0
    end = time.time() + seconds
    while time.time() < end:
        asked += 1
        t0 = time.time()
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            if c.recv(100).startswith(b"HTTP/1.1 200"):
                answered += 1
            c.close()
        except OSError:
            pass
        worst = max(worst, time.time() - t0)
        time.sleep(0.2)
    return worst, answered, asked


if __name__ == "__main__":
    time.sleep(1)
    w, a, n = ask_fresh(int(sys.argv[1]), float(sys.argv[2]))
    print(f"victim {w:.2f} {a}/{n}")
