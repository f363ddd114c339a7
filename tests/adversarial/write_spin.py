#!/usr/bin/env python3
"""A client that reads a little of its queued answers and stops
(tests/adversarial/write_spin.sh).

write_spin.py PORT PID GET_PATH COUNT [tls|mss]
One connection with a tiny receive window asks GET_PATH COUNT times, one at a
time (not pipelined), reads nothing until the server's socket is full and
part of its answers waits in keydird, then reads 32 KiB, pauses 1 s, six
times, and reads nothing more for 3 s, while another client asks GET_PATH
(3 s at most). Prints "cpu SECONDS" (keydird's CPU time over those 9 s, from
/proc/PID/stat) and "other STATUS" (or the error), then reads every answer
and prints "answers N whole" or "broken REASON".
COUNT 0 (with tls): one request and a record that does not decrypt, then
another client's lookup; prints "cpu SECONDS", "other STATUS" and "closed"
when the server ended the connection within 3 s (else "open ERROR").
"""
import os
import socket
import ssl
import sys
import time

port, pid, path, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
tls = len(sys.argv) > 5 and sys.argv[5] == "tls"
# Segments of 88 octets (TCP_MAXSEG): each carries little and costs the
# server's send buffer a whole buffer head, so the socket takes only a
# fraction of a 4 KiB write when it is writable.
small_segments = len(sys.argv) > 5 and sys.argv[5] == "mss"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # loopback, the test's own certificate


def wrap(sock):
    return ctx.wrap_socket(sock) if tls else sock


def other_lookup():
    """Another client's lookup (3 s at most): its status, or the error."""
    try:
        o = wrap(socket.create_connection(("127.0.0.1", port), timeout=3))
        o.sendall(f"GET {path} HTTP/1.1\r\nHost: keydir.test\r\nConnection: close\r\n\r\n".encode())
        first = o.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
        return first.split()[1] if first.startswith("HTTP/") else "nothing"
    except (OSError, ssl.SSLError) as e:
        return type(e).__name__


def cpu():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if count == 0:
    # A request, then a TLS record that does not decrypt, together: the
    # session is dead from then on, and Pistache took its failed reads for
    # "nothing more to read" and retried its failed writes for ever.
    g = wrap(socket.create_connection(("127.0.0.1", port), timeout=5))
    c0 = cpu()
    g.sendall(f"GET {path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
    if len(sys.argv) > 6 and sys.argv[6] == "later":
        # After the answer: the server's last system call on the worker was a
        # read that found nothing more (EAGAIN).
        time.sleep(0.5)
        g.recv(65536)
    os.write(g.fileno(), b"\x17\x03\x03\x00\x40" + os.urandom(64))
    time.sleep(1)
    other = other_lookup()
    time.sleep(2)
    print(f"cpu {cpu() - c0:.2f}")
    print("other", other)
    # The server ended the dead session (its socket reads an end or a reset).
    raw = socket.socket(fileno=os.dup(g.fileno()))
    raw.settimeout(3)
    try:
        while raw.recv(65536):
            pass
        print("closed")
    except ConnectionResetError:
        print("closed")
    except OSError as e:
        print("open", type(e).__name__)
    sys.exit(0)

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if small_segments:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
s.connect(("127.0.0.1", port))
s = wrap(s)
for _ in range(count):
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
    # Each request in a read of its own (pipelined ones are answered by
    # closing).
    time.sleep(0.02)
s.settimeout(10)
c0 = cpu()
buf = bytearray()
for _ in range(6):
    got = 0
    while got < 32768:
        d = s.recv(4096)
        if not d:
            print("broken end of stream while reading")
            sys.exit(0)
        buf += d
        got += len(d)
    time.sleep(1)
# Meanwhile another client asks, on the same worker (keydird --threads 1).
t0 = time.time()
other = other_lookup()
time.sleep(max(0.0, 3 - (time.time() - t0)))
print(f"cpu {cpu() - c0:.2f}", flush=True)
print("other", other, flush=True)


answers = 0
try:
    for _ in range(count):
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            buf += d
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        length = int({k.strip().lower(): v for k, v in fields.items()}[b"content-length"])
        buf = bytearray(rest)
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                raise EOFError(f"answer {answers + 1} cut short")
            buf += d
        body, buf = bytes(buf[:length]), buf[length:]
        if b" 200 " not in head.split(b"\r\n", 1)[0] + b" " or b"BEGIN PGP PUBLIC KEY BLOCK" not in body:
            raise ValueError(f"answer {answers + 1}: {head[:40]!r}")
        answers += 1
    print("answers", answers, "whole")
except Exception as e:  # noqa: BLE001 - the verdict is the output
    print("broken", f"after {answers} answers:", e)
