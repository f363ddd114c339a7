#!/usr/bin/env python3
# Oversized and slow request bodies against a running keydird (driven by
# oversized_slow_bodies.sh and tests/bench/oversized_uploads.sh).
#   bodies.py PORT one SIZE cl|chunked       one upload: "STATUS SECONDS CLOSED SENT"
#   bodies.py PORT framing SIZE              SIZE octets of 1-octet chunks (6 on
#       the wire each): "STATUS SECONDS CLOSED SENT ANSWERS" (status lines seen)
#   bodies.py PORT slow SECONDS              a body at one octet a second
#   bodies.py PORT flood N SIZE LOOKUP_PATH [PID]
#       N concurrent uploads of SIZE octets while a lookup loop runs on another
#       connection; with PID, SIGTERM to it once the uploads are under way
#       (prints how long it took to exit).
# Every loop is bounded in count and time.
import os
import select
import socket
import sys
import threading
import time

from httpio import read_response

PORT = int(sys.argv[1])
HEAD = (b"POST /pks/add HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n")


def status_of(buf):
    line = buf.split(b"\r\n", 1)[0]
    if line.startswith(b"HTTP/1.") and len(line.split()) >= 2:
        return int(line.split()[1])
    return None


def upload(size, mode, deadline=20.0):
    """Sends SIZE octets of body while reading; returns (status, seconds until
    the status line, closed after it, octets sent)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.setblocking(False)
    t0 = time.time()
    if mode == "cl":
        pending = HEAD + b"Content-Length: %d\r\n\r\n" % size
    else:
        pending = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    piece = b"keytext=" + b"A" * (65536 - 8)
    if mode == "framing":
        piece = b"1\r\nA\r\n" * 10000
        size = size * 6
    elif mode == "chunked":
        piece = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent = 0
    buf = b""
    answered_at = None
    closed = False
    while time.time() - t0 < deadline:
        want_write = sent < size and answered_at is None
        r, w, _ = select.select([s], [s] if want_write else [], [], 0.5)
        if r:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if not d:
                closed = True
                break
            buf += d
            if answered_at is None and b"\r\n" in buf:
                answered_at = time.time() - t0
        if w:
            if not pending:
                pending = piece
            try:
                n = s.send(pending)
            except (BlockingIOError, InterruptedError):
                n = 0
            except (ConnectionResetError, BrokenPipeError):
                # Cut: read what the server said before it.
                n = 0
                want_write = False
                try:
                    s.setblocking(True)
                    s.settimeout(1)
                    while True:
                        d = s.recv(65536)
                        if not d:
                            break
                        buf += d
                except OSError:
                    pass
                if answered_at is None and b"\r\n" in buf:
                    answered_at = time.time() - t0
                closed = True
                break
            pending = pending[n:]
            sent += n
        if not want_write and not r and answered_at is not None:
            # Answered, body no longer sent: the server must close.
            continue
    s.close()
    if mode == "framing":
        return status_of(buf), answered_at, closed, sent, buf.count(b"HTTP/1.")
    return status_of(buf), answered_at, closed, sent


def one(size, mode):
    st, at, closed, sent = upload(size, mode)
    print(st, "%.3f" % at if at is not None else "none", "closed" if closed else "open", sent)


def slow(seconds):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=1)
    t0 = time.time()
    s.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
    buf = b""
    for _ in range(int(seconds)):
        try:
            s.send(b"k")
        except OSError:
            break
        try:
            d = s.recv(4096)
            if not d:
                break
            buf += d
            if b"\r\n" in buf:
                break
        except socket.timeout:
            pass
    print(status_of(buf), "%.1f" % (time.time() - t0))


def flood(n, size, path, pid):
    results = [None] * n
    stop = threading.Event()
    lookups = {"ok": 0, "bad": 0, "during": 0}
    uploading = threading.Event()
    errors = []
    t_start = time.time()

    def lookup_loop():
        c = None
        t_end = time.time() + 60
        while not stop.is_set() and time.time() < t_end:
            try:
                if c is None:
                    c = socket.create_connection(("127.0.0.1", PORT), timeout=2)
                c.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                head, _ = read_response(c)
                if b"connection: close" in head.lower():
                    # keydird closes a connection after 1,000 requests
                    # and says so, as an HTTP/1.1 client expects.
                    c.close()
                    c = None
                if status_of(head) == 200:
                    lookups["ok"] += 1
                    if uploading.is_set():
                        lookups["during"] += 1
                else:
                    lookups["bad"] += 1
                    errors.append("status %s" % status_of(head))
            except OSError as e:
                lookups["bad"] += 1
                errors.append("%.2f s: %s" % (time.time() - t_start, e))
                if c is not None:
                    c.close()
                c = None
                if pid:
                    return  # the server is going away
                time.sleep(0.05)

    def worker(i):
        results[i] = upload(size, "cl")

    looker = threading.Thread(target=lookup_loop, daemon=True)
    looker.start()
    time.sleep(0.5)
    before = lookups["ok"]
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    t0 = time.time()
    uploading.set()
    for t in threads:
        t.start()
    exit_after = None
    if pid:
        time.sleep(0.2)
        t_kill = time.time()
        os.kill(pid, 15)
        for _ in range(200):
            try:
                with open("/proc/%d/status" % pid) as f:
                    if "State:\tZ" in f.read():
                        break
            except FileNotFoundError:
                break
            time.sleep(0.05)
        exit_after = time.time() - t_kill
    for t in threads:
        t.join(30)
    elapsed = time.time() - t0
    uploading.clear()
    if not pid:
        time.sleep(0.5)
    stop.set()
    looker.join(5)
    statuses = {}
    slowest = 0.0
    for r in results:
        st = r[0] if r else None
        statuses[st] = statuses.get(st, 0) + 1
        if r and r[1] is not None:
            slowest = max(slowest, r[1])
    print("statuses", " ".join("%s:%d" % (k, v) for k, v in sorted(statuses.items(), key=str)))
    print("slowest %.3f" % slowest)
    print("uploads_elapsed %.3f" % elapsed)
    print("lookups_before %d" % before)
    print("lookups_during %d" % lookups["during"])
    print("lookups_failed %d" % (lookups["bad"] if not pid else 0))
    if errors and not pid:
        print("lookup_errors", "; ".join(errors[:5]))
    if exit_after is not None:
        print("exit_after %.3f" % exit_after)


if sys.argv[2] == "one":
    one(int(sys.argv[3]), sys.argv[4])
elif sys.argv[2] == "framing":
    st, at, closed, sent, answers = upload(int(sys.argv[3]), "framing")
    print(st, "%.3f" % at if at is not None else "none", "closed" if closed else "open", sent,
          answers)
elif sys.argv[2] == "slow":
    slow(float(sys.argv[3]))
elif sys.argv[2] == "flood":
    flood(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
          int(sys.argv[6]) if len(sys.argv) > 6 else 0)
else:
    sys.exit("usage: bodies.py PORT one|slow|flood ...")
