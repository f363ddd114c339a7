#!/usr/bin/env python3
"""A client that asks N-1 questions on one connection, reading each answer,
then asks the Nth and shuts its sending side (nc -N, scripts). keydird may
hold an answer at the end of a connection's turn (16 answers in a row): the
Nth must still come, for every N up to 40. Prints the N whose last answer
did not come, or "all answered".
    half_close.py PORT
"""
import socket
import sys

port = int(sys.argv[1])
REQ = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"


def read_answer(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            return None, rest
        rest += d
    return head, rest[length:]


missing = []
for n in range(1, 41):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    buf = b""
    ok = True
    for _ in range(n - 1):
        s.sendall(REQ)
        head, buf = read_answer(s, buf)
        ok = ok and head is not None
    s.sendall(REQ)
    s.shutdown(socket.SHUT_WR)
    try:
        head, buf = read_answer(s, buf)
    except OSError:
        head = None
    if not ok or head is None or not head.startswith(b"HTTP/1.1 200"):
        missing.append(n)
    s.close()
print("all answered" if not missing else "missing " + " ".join(map(str, missing)))
