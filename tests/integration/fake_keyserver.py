#!/usr/bin/env python3
# A misbehaving key server for keydir's client tests (loopback only): every
# request gets the same wrong answer. fake_keyserver.py PORT MODE [FILE]
#   wrongkey   200 with FILE (a valid key that is not the one asked for)
#   truncated  200 with the first half of FILE
#   error      500 with a reason
#   garbage    200 with text that is no key
#   body[:STATUS[:TYPE]]
#              STATUS (default 200) with FILE as it is, Content-Type TYPE
#              (default application/pgp-keys): hostile index lines, JSON,
#              several certificates, a squatter's certificate
#   endless    200, chunked, an answer that never ends (1 MiB chunks as fast
#              as the client reads; the server gives up after 512 MiB or 120 s)
#   hugelength 200 announcing Content-Length 10^12, then as `endless`
#   slow       200, one octet a second (gives up after 120 s)
#   retry:STATUS:VALUE
#              STATUS (429, 503) with the header Retry-After: VALUE (seconds
#              or an HTTP date) and a one-line reason
# PORT 0 picks a free port; the port is printed on the first line of stdout.
import http.server
import sys
import time

port, mode = int(sys.argv[1]), sys.argv[2]
key = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else b""
LIMIT_BYTES, LIMIT_SECONDS = 512 << 20, 120


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def stream(self, chunked, piece):
        start, sent = time.monotonic(), 0
        try:
            while sent < LIMIT_BYTES and time.monotonic() - start < LIMIT_SECONDS:
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
                if len(piece) == 1:
                    time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, ctype, body = 200, "application/pgp-keys", key
        extra = []
        if mode in ("endless", "hugelength", "slow"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if mode == "endless":
                self.send_header("Transfer-Encoding", "chunked")
            elif mode == "hugelength":
                self.send_header("Content-Length", str(10**12))
            else:
                self.send_header("Content-Length", "1000")
            self.end_headers()
            line = b"pub:" + b"A" * 40 + b":1:2048:1700000000::\n"
            piece = b"x" if mode == "slow" else line * ((1 << 20) // len(line))
            self.stream(mode == "endless", piece)
            return
        if mode == "truncated":
            body = key[: len(key) // 2]
        elif mode == "error":
            status, body = 500, b"database on fire\n"
        elif mode == "garbage":
            body = b"<html>hello</html>\n"
        elif mode.startswith("retry"):
            parts = mode.split(":", 2)
            status = int(parts[1])
            ctype, body = "text/plain", b"too many uploads from your address; try again later\n"
            extra.append(("Retry-After", parts[2]))
        elif mode.startswith("body"):
            parts = mode.split(":", 2)
            status = int(parts[1]) if len(parts) > 1 else 200
            ctype = parts[2] if len(parts) > 2 else ctype
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
