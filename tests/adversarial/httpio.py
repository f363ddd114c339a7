"""One HTTP/1.1 answer read from a socket (the attacker's suite speaks raw HTTP
so that it can send what no client library would)."""


def read_response(sock):
    """(head, body) of one answer with a Content-Length; OSError if the
    connection closes first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise OSError("connection closed")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        d = sock.recv(65536)
        if not d:
            raise OSError("connection closed")
        body += d
    return head, body


def read_to_end(sock):
    """Every octet until the server closes the connection."""
    out = b""
    while True:
        d = sock.recv(65536)
        if not d:
            return out
        out += d
