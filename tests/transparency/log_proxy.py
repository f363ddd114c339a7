#!/usr/bin/env python3
"""A lying proxy in front of keydird for keydir-log-oracle's test: forwards
every GET to UPSTREAM and changes one thing.

  log_proxy.py UPSTREAM PORTFILE --flip-tile        one byte of every level-0
                                                    hash tile (/log/tile/0/...) flipped
  log_proxy.py UPSTREAM PORTFILE --checkpoint FILE  /log/checkpoint answers FILE
                                                    (an older checkpoint: a rollback)

Writes its port to PORTFILE once it listens.
"""
import argparse
import http.client
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

ARGS = None


class Proxy(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urlparse(ARGS.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("GET", self.path)
        r = conn.getresponse()
        body, status, ctype = r.read(), r.status, r.getheader("Content-Type", "application/octet-stream")
        conn.close()
        path = urlparse(self.path).path
        if ARGS.flip_tile and status == 200 and re.match(r"^/log/tile/0/", path) and body:
            b = bytearray(body)
            b[len(b) // 2] ^= 0x01
            body = bytes(b)
        if ARGS.checkpoint and path == "/log/checkpoint":
            with open(ARGS.checkpoint, "rb") as f:
                body, status = f.read(), 200
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("portfile")
    ap.add_argument("--flip-tile", action="store_true")
    ap.add_argument("--checkpoint")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    with open(ARGS.portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(ARGS.portfile + ".tmp", ARGS.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
