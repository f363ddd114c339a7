#!/usr/bin/env python3
"""A client that pipelines past the last request of its connection and reads
late: it sends 1,000 HEAD misses (the 1,000th answer says Connection: Close)
and 5,000 more at once, with a small receive buffer, and reads nothing for a
second. Closing a socket with unread input resets it, and the reset drops what
of the answers the kernel has not sent yet: keydird must shut its side and
read on until the client has had every answer. Prints:
  answers N last_close yes|no
    close_after_pipeline.py PORT
"""
import socket
import sys
import time

port = int(sys.argv[1])
REQ = b"HEAD /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.settimeout(10)
try:
    s.sendall(REQ * 6000)
except OSError:
    pass
time.sleep(1)
buf, answers, last = b"", 0, b""
while True:
    try:
        d = s.recv(1 << 16)
    except OSError:
        d = b""
    if not d:
        break
    buf += d
    while b"\r\n\r\n" in buf:
        head, _, buf = buf.partition(b"\r\n\r\n")
        answers += 1
        last = head
print("answers", answers, "last_close", "yes" if b"Connection: Close" in last else "no")
