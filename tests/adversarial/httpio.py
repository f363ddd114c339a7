"""One HTTP/1.1 answer read from a socket, and certificates armored for an
upload (the attacker's suite speaks raw HTTP so that it can send what no
client library would)."""
import base64


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


def crc24(data):
    """The armor checksum (RFC 9580, section 6.1)."""
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armored(binary):
    """Binary certificates as one PUBLIC KEY BLOCK."""
    b64 = base64.b64encode(binary).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big")).decode()
    return ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(lines) + "\n=" + crc +
            "\n-----END PGP PUBLIC KEY BLOCK-----\n")
