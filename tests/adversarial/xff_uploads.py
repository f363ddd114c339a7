#!/usr/bin/env python3
# Uploads (POST /pks/add, a form that is not a key: the rate limit is taken
# before the body is looked at) through a trusted proxy's X-Forwarded-For,
# over one keep-alive connection to keydird on [::1] (driven by
# ipv6_rotation.sh).
#   xff_uploads.py PORT ADDRESS...       one upload per address; prints the statuses
#   xff_uploads.py PORT flood N          N uploads, each from another /64
#                                        (2001:db8:X:Y::1); prints the statuses' counts
import socket
import sys

from httpio import read_response

PORT = int(sys.argv[1])
BODY = b"keytext=x"
conn = socket.create_connection(("::1", PORT), timeout=10)


def upload(addr):
    global conn
    conn.sendall(b"POST /pks/add HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + addr.encode() +
                 b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
                 % len(BODY) + BODY)
    try:
        head, _ = read_response(conn)
    except OSError:
        raise SystemExit("keydird closed the connection")
    if b"connection: close" in head.lower():
        # keydird closes a connection after 1,000 requests and says so: an
        # HTTP/1.1 client opens another.
        conn.close()
        conn = socket.create_connection(("::1", PORT), timeout=10)
    return int(head.split()[1])


if sys.argv[2] == "flood":
    n = int(sys.argv[3])
    counts = {}
    for i in range(n):
        st = upload("2001:db8:%x:%x::1" % (0x1000 + i // 65536, i % 65536))
        counts[st] = counts.get(st, 0) + 1
    print(" ".join("%d:%d" % kv for kv in sorted(counts.items())))
else:
    print(" ".join(str(upload(a)) for a in sys.argv[2:]))
