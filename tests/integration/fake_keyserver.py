#!/usr/bin/env python3
# A misbehaving key server for keydir's client tests: every request gets the
# same wrong answer. fake_keyserver.py PORT MODE [KEYFILE]
#   wrongkey   200 with KEYFILE (a valid key that is not the one asked for)
#   truncated  200 with the first half of KEYFILE
#   error      500 with a reason
#   garbage    200 with text that is no key
import http.server
import sys

port, mode = int(sys.argv[1]), sys.argv[2]
key = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else b""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self):
        status, body = 200, key
        if mode == "truncated":
            body = key[: len(key) // 2]
        elif mode == "error":
            status, body = 500, b"database on fire\n"
        elif mode == "garbage":
            body = b"<html>hello</html>\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/pgp-keys")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
