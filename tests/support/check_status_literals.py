#!/usr/bin/env python3
"""No handler writes a literal HTTP status.

An error's status comes from the one table (api/http/message.cpp,
http_status()); every other status is written by name (Status::kNotFound, in
api/http/message.hpp). This check reads the HTTP layer's sources (api/ and
the server's HTTP adapter) and fails on a number that is an HTTP status code
outside string literals and comments, so a handler cannot answer 400 where
the table says 422 without it showing.
    check_status_literals.py REPO_ROOT
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."
# Where statuses are defined, not used.
DEFINITIONS = {"api/http/message.hpp"}
SOURCES = ["api", "src/server/http_server.cpp", "src/server/http_parser.cpp"]
STATUSES = {200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403,
            404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 426, 428, 429,
            431, 451, 500, 501, 502, 503, 504, 505}
TOKEN = re.compile(r'R"(\w*)\(|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//.*$|/\*.*?\*/|\b(\d{3})\b', re.M)


def files():
    for s in SOURCES:
        path = os.path.join(ROOT, s)
        if os.path.isfile(path):
            yield s
            continue
        for d, _, names in os.walk(path):
            for n in sorted(names):
                if n.endswith((".cpp", ".hpp")):
                    yield os.path.relpath(os.path.join(d, n), ROOT)


def literals(text):
    """(line, number) of status-like numbers outside strings and comments."""
    i = 0
    line = 1
    while i < len(text):
        m = TOKEN.search(text, i)
        if not m:
            return
        line += text.count("\n", i, m.start())
        if m.group(1) is not None:  # raw string: skip to its end
            end = text.find(")" + m.group(1) + '"', m.end())
            end = len(text) if end < 0 else end + len(m.group(1)) + 2
            line += text.count("\n", m.start(), end)
            i = end
            continue
        if m.group(2) is not None and int(m.group(2)) in STATUSES:
            yield line, int(m.group(2))
        line += text.count("\n", m.start(), m.end())
        i = m.end()


def main():
    bad = []
    for f in files():
        if f in DEFINITIONS:
            continue
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            text = fh.read()
        # Multi-line /* */ comments: blank them (keeping line numbers).
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for line, n in literals(text):
            bad.append(f"{f}:{line}: literal HTTP status {n}: use Status::k... or http_status()")
    for b in bad:
        print(b)
    if bad:
        print(f"FAIL  {len(bad)} literal HTTP statuses in handlers")
        return 1
    print("ok    no handler writes a literal HTTP status")
    return 0


if __name__ == "__main__":
    sys.exit(main())
