#!/usr/bin/env python3
"""A client that asks and does not read (tests/adversarial/slow_reader.sh).

slow_reader.py PORT GET_PATH MISS_PATH COUNT|flood|head GO_FILE
COUNT: one connection with a tiny receive window sends COUNT requests, one at a
time with a pause (not pipelined), two lookups of a large key for each
miss, and reads nothing. It then prints "sent", waits for GO_FILE to
appear, reads every answer and checks each is whole and in the order asked.
Prints one line: "answers N in-order BYTES" or "broken REASON".
flood: the same without a pause or an end, for 20 s at most; prints
"cut SENT ERROR" when the server ends the connection, else "not cut SENT".
head: HEAD GET_PATH on a fresh connection; prints the raw answer.
idle: one lookup, then GO_FILE (here: seconds) idle; prints "quiet STATUS
STATUS" when nothing came unasked and a second lookup was answered.
head-refused: HEAD of a malformed query, then a GET on the same connection;
prints the first status line and what follows its header block.
"""
import os
import socket
import subprocess
import sys
import time

from httpio import read_response, read_to_end

port, get_path, miss_path, mode, go = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
                                       sys.argv[5])

if mode == "head":
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"HEAD {get_path} HTTP/1.1\r\nHost: keydir.test\r\nConnection: close\r\n\r\n".encode())
    sys.stdout.buffer.write(read_to_end(s))
    sys.exit(0)



if mode == "idle":
    # A keep-alive connection left idle after its answer: nothing may come
    # unasked before the idle timeout, and it still answers afterwards.
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(f"GET {get_path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
    first, _ = read_response(c)
    time.sleep(float(go))
    c.setblocking(False)
    try:
        unasked = c.recv(65536)
        print("unasked", repr(unasked[:60]) if unasked else "end-of-stream")
        sys.exit(0)
    except BlockingIOError:
        pass
    c.setblocking(True)
    c.sendall(f"GET {miss_path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
    second, _ = read_response(c)
    print("quiet", first.split()[1].decode(), second.split()[1].decode())
    sys.exit(0)

if mode == "head-refused":
    # HEAD of a request keydird refuses itself (a malformed query), then a
    # GET on the same connection: the first answer must have no body, or its
    # body would be read as the start of the second.
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"HEAD /pks/lookup?op=get&search=%zz HTTP/1.1\r\nHost: keydir.test\r\n\r\n")
    time.sleep(0.3)
    c.sendall(f"GET {miss_path} HTTP/1.1\r\nHost: keydir.test\r\nConnection: close\r\n\r\n".encode())
    out = read_to_end(c)
    first = out.split(b"\r\n\r\n", 1)
    print(first[0].split(b"\r\n")[0].decode(), "|", first[1][:12].decode("latin-1") if len(first) > 1 else "")
    sys.exit(0)

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
# Each request in a segment of its own: with Nagle's algorithm they would
# wait for the server's acknowledgement and reach it together (pipelined,
# which keydird answers by closing).
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.connect(("127.0.0.1", port))



def wire_size(path):
    """Octets of the whole answer to GET path (on a connection of its own)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(f"GET {path} HTTP/1.1\r\nHost: keydir.test\r\nConnection: close\r\n\r\n".encode())
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            return n - len("Connection: Close") + len("Connection: Keep-Alive")
        n += len(d)


def queues():
    """(server_unread, held): octets of our requests the server has not read
    yet (its Recv-Q), and octets of our answers in the kernel: the server's
    send queue (not yet acknowledged) and what our socket received but we did
    not read (ss: Send-Q and Recv-Q)."""
    local = s.getsockname()[1]
    out = subprocess.run(["ss", "-tnH", f"( sport = :{port} and dport = :{local} ) or "
                          f"( sport = :{local} and dport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    unread, held = 0, 0
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == "ESTAB":
            if f[3].endswith(f":{local}"):
                held += int(f[1])  # ours: received, not read
            elif f[3].endswith(f":{port}"):
                unread += int(f[1])
                held += int(f[2])  # the server's: sent, not acknowledged
    return unread, held


def wait_read():
    """Waits until the server has read our last request (5 s at most): the
    next one then comes in a read of its own (two in one read would be
    pipelined, which keydird answers by closing). Returns queues()[1]."""
    t0 = time.time()
    while True:
        unread, held = queues()
        if unread == 0 or time.time() - t0 > 5:
            return held
        time.sleep(0.002)


if mode == "flood":
    sent = 0
    t0 = time.time()
    try:
        while time.time() - t0 < 20:
            s.sendall(f"GET {get_path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
            sent += 1
            wait_read()
        print("not cut", sent)
    except OSError as e:
        print("cut", sent, type(e).__name__)
    sys.exit(0)


count = int(mode)
size = {200: wire_size(get_path), 404: wire_size(miss_path)}
expected = []
closed_early = False
asked = 0
queued = 0
for i in range(count):
    path = miss_path if i % 3 == 2 else get_path
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: keydir.test\r\n\r\n".encode())
    except OSError:
        closed_early = True
        break
    expected.append(404 if path == miss_path else 200)
    asked += size[expected[-1]]
    held = wait_read()
    # What the kernel does not hold waits in keydird's queue: stop well
    # before keydird's bound on it (1 MiB).
    queued = asked - held
    if queued > 256 * 1024:
        break
print("sent", len(expected), "queued-in-keydird", queued, flush=True)
deadline = time.time() + 60
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)

s.settimeout(10)
buf = bytearray()
total = 0
answers = 0
bodies = {}


def fill(n):
    global buf
    while len(buf) < n:
        d = s.recv(1 << 20)
        if not d:
            return False
        buf += d
    return True


try:
    for want in expected:
        while b"\r\n\r\n" not in buf:
            d = s.recv(1 << 20)
            if not d:
                raise EOFError(f"connection closed after {answers} answers")
            buf += d
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        length = int(fields["content-length"])
        buf = bytearray(rest)
        if not fill(length):
            raise EOFError(f"answer {answers + 1} cut short")
        body = bytes(buf[:length])
        buf = buf[length:]
        if status != want:
            raise ValueError(f"answer {answers + 1}: status {status}, asked for one that gives {want}")
        if status in bodies and bodies[status] != body:
            raise ValueError(f"answer {answers + 1}: a {status} whose body differs from the first")
        bodies.setdefault(status, body)
        if status == 200 and not body.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
            raise ValueError(f"answer {answers + 1}: not an armored key")
        answers += 1
        total += len(head) + 4 + length
    print("answers", answers, "in-order", total)
except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
    print("broken", f"{e} ({answers} of {len(expected)} answers read{', closed while sending' if closed_early else ''})")
