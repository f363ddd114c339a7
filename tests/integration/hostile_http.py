#!/usr/bin/env python3
# Malformed HTTP against a running keydird: every case must end in a 4xx or
# a closed connection (never a 5xx, a crash or a hang), and the server must
# answer /healthz after each. Then 1,000 idle connections must not keep an
# active client from being served.   hostile_http.py PORT [PID]
# With PID (keydird's), refused connections whose clients stay silent must
# be closed after the linger (counted in /proc/PID/fd).
import os
import socket
import sys
import time

PORT = int(sys.argv[1])
PID = int(sys.argv[2]) if len(sys.argv) > 2 else None
fails = 0


def check(name, ok, detail=""):
    global fails
    print(("ok    " if ok else "FAIL  ") + name + ("" if ok else ": " + detail))
    if not ok:
        fails += 1


def first_line(s):
    """What the server sent up to its first CRLF, or until it closed."""
    buf = b""
    while b"\r\n" not in buf:
        got = s.recv(4096)
        if not got:
            break
        buf += got
    return buf


def exchange(data, timeout=5.0, chunks=None):
    """Sends raw bytes; returns (status or None, seconds until answer/close)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    t0 = time.time()
    try:
        if chunks:
            for c in chunks:
                s.sendall(c)
        else:
            s.sendall(data)
        buf = first_line(s)
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        buf = b"" if "buf" not in dir() else buf
    finally:
        s.close()
    line = buf.split(b"\r\n", 1)[0]
    status = None
    if line.startswith(b"HTTP/1."):
        try:
            status = int(line.split()[1])
        except (IndexError, ValueError):
            status = None
    return status, time.time() - t0


def alive():
    status, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return status == 200


def case(name, data=None, chunks=None, timeout=10.0):
    status, secs = exchange(data, timeout=timeout, chunks=chunks)
    fine = status is None or 400 <= status < 500
    check(f"{name}: 4xx or closed (got {status}, {secs:.1f} s)", fine and secs < timeout,
          f"status {status}")
    check(f"{name}: server still answers", alive())


big_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
# Pistache waits for a request line it can finish: its header timeout (10 s)
# answers 408.
case("broken request line", b"GARBAGE\r\n\r\n", timeout=15.0)
case("no HTTP version", b"GET /pks/lookup?op=get&search=0x1\r\n\r\n", timeout=15.0)
case("oversized header", big_header)
case("10,000 headers", b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(10000)) + b"\r\n")
# A body announced larger than the limit: refused as soon as the headers are
# in (413), before any of it is read.
case("body larger than announced limit", timeout=2.0, data=
     b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
     b"Content-Length: 100000000\r\n\r\n" + b"keytext=" + b"A" * 1_000_000)
# Pistache answered this one 500 with its exception text ("stoull").
case("Content-Length past 64 bits", timeout=2.0,
     data=b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n")
case("Content-Length not a number", timeout=2.0,
     data=b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\nkeytext=abcd")
case("Content-Length and Transfer-Encoding", timeout=2.0,
     data=b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
case("chunk of 4 GiB announced", timeout=2.0,
     data=b"POST /pks/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n")
case("chunk extension", timeout=2.0,
     data=b"POST /pks/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5;x=1\r\nhello\r\n0\r\n\r\n")
case("request line of 100 kB", timeout=2.0,
     data=b"GET /pks/lookup?op=get&search=" + b"A" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
case("bad chunked encoding",
     b"POST /pks/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n0\r\n\r\n")
case("invalid percent-escape", b"GET /pks/lookup?op=get&search=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n")
case("truncated percent-escape", b"GET /pks/lookup?op=get&search=abc% HTTP/1.1\r\nHost: x\r\n\r\n")
case("non-UTF-8 search", b"GET /pks/lookup?op=index&search=%FF%FE%80 HTTP/1.1\r\nHost: x\r\n\r\n")
case("NUL in the path", b"GET /pks/look\x00up?op=get HTTP/1.1\r\nHost: x\r\n\r\n")
case("form body with bad escapes",
     b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
     b"Content-Length: 12\r\n\r\nkeytext=%G1%")
case("JSON that is not", b"POST /vks/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 9\r\n\r\n{\"keytext")
case("headers cut short (slowloris)",
     chunks=[b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n"], timeout=15.0)



def lookup_answers():
    """A key lookup on a fresh connection is answered (200 or 404) within 2 s."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    try:
        s.sendall(b"GET /pks/lookup?op=get&search=0x67CF1313E65F6635FA4F0978D77690A8A4055BFC "
                  b"HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        line = s.recv(4096).split(b"\r\n", 1)[0]
        return line.startswith(b"HTTP/1.1 200") or line.startswith(b"HTTP/1.1 404")
    except OSError:
        return False
    finally:
        s.close()


def split_exchange(head, body, at, pause=0.3):
    """Sends head + body[:at], waits, sends body[at:]; returns (status or None,
    seconds from the second write to the status line)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2.0)
    try:
        s.sendall(head + body[:at])
        time.sleep(pause)
        t0 = time.time()
        s.sendall(body[at:])
        buf = first_line(s)
    except OSError:
        buf = b""
        t0 = time.time() - 2.0
    finally:
        s.close()
    line = buf.split(b"\r\n", 1)[0]
    status = int(line.split()[1]) if line.startswith(b"HTTP/1.") and len(line.split()) > 1 else None
    return status, time.time() - t0


# Pistache 0.0.5's chunk parser, handed a chunk whose CR ends one read and
# whose LF starts the next, advanced its cursor by (size_t)-1: a worker at
# 100% for ever and no answer. keydird de-chunks bodies itself, whole.
CHUNKED = (b"POST /pks/add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n")
st, secs = split_exchange(CHUNKED, b"1\r\nA\r\n0\r\n\r\n", len(b"1\r\nA\r"), pause=0.5)
check(f"chunk CR and LF in two reads: answered within 2 s (got {st}, {secs:.2f} s)",
      st is not None and st < 500 and secs < 2.0, f"status {st}")
check("chunk CR and LF in two reads: a lookup is answered afterwards", lookup_answers())
body = b"3\r\nabc\r\n1\r\nA\r\n0\r\nX-T: 1\r\n\r\n"
late = []
for at in range(1, len(body)):
    st, secs = split_exchange(CHUNKED, body, at)
    if st is None or st >= 500 or secs >= 2.0:
        late.append(f"split at {at}: {st} after {secs:.2f} s")
check(f"a chunked body split at each of its {len(body) - 1} octets: each answered within 2 s",
      not late, "; ".join(late[:5]))
check("chunked bodies split anywhere: a lookup is answered afterwards", lookup_answers())


def open_fds():
    return len(os.listdir(f"/proc/{PID}/fd"))


# Refused connections whose clients stay silent: the answer is written at
# once, then the server must close them after its linger (2 s), not keep
# one descriptor each for ever.
if PID:
    base = open_fds()
    silent = []
    for _ in range(200):
        try:
            c = socket.create_connection(("127.0.0.1", PORT), timeout=2)
            c.sendall(b"POST /pks/add HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
            silent.append(c)
        except OSError:
            break
    time.sleep(0.5)
    during = open_fds()
    time.sleep(3.5)
    after = open_fds()
    check(f"200 refused, silent connections: closed after the linger "
          f"(descriptors {base} before, {during} at 0.5 s, {after} at 4 s)",
          len(silent) == 200 and after <= base + 10, f"{after} open")
    closed = 0
    for c in silent:
        c.settimeout(0.5)
        try:
            while c.recv(4096):
                pass
            closed += 1
        except socket.timeout:
            pass  # still open
        except OSError:
            closed += 1  # reset: closed too
        c.close()
    check(f"200 refused, silent connections: each saw the end of the stream ({closed})",
          closed == 200, f"{closed} closed")
    check("after 200 refused connections: a lookup is answered", lookup_answers())

# 1,000 idle connections, then an active client.
idle = []
for _ in range(1000):
    try:
        idle.append(socket.create_connection(("127.0.0.1", PORT), timeout=5))
    except OSError:
        break
check(f"1,000 idle connections opened ({len(idle)})", len(idle) == 1000)
t0 = time.time()
served = alive()
secs = time.time() - t0
check(f"an active client is served meanwhile ({secs:.2f} s)", served and secs < 2.0)
for s in idle:
    s.close()
print(f"{fails} failure(s)")
sys.exit(1 if fails else 0)
