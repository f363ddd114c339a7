#!/usr/bin/env python3
# Uploads the certificates of a binary keyring one by one to /pks/add and
# appends the fingerprint of each acknowledged one ("new FPR" with 200) to
# ACKED. Connection errors (the server was killed) are retried until the
# server is back, for at most RETRY seconds.   crash_upload.py URL KEYRING ACKED
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

url, keyring, acked_path = sys.argv[1:4]
data = open(keyring, "rb").read()


def certs(buf):
    """Cuts a binary keyring at each primary-key packet (new-format tag 6 or old 0x99)."""
    out, start, i = [], 0, 0
    while i < len(buf):
        b = buf[i]
        if b & 0x40:  # new format
            tag = b & 0x3F
            l1 = buf[i + 1]
            if l1 < 192:
                hl, bl = 2, l1
            elif l1 < 224:
                hl, bl = 3, ((l1 - 192) << 8) + buf[i + 2] + 192
            else:
                hl, bl = 6, int.from_bytes(buf[i + 2:i + 6], "big")
        else:
            tag = (b >> 2) & 0x0F
            lt = b & 3
            hl = 1 + [1, 2, 4][lt]
            bl = int.from_bytes(buf[i + 1:i + hl], "big")
        if tag == 6 and i > start:
            out.append(buf[start:i])
            start = i
        i += hl + bl
    out.append(buf[start:])
    return out


with open(acked_path, "a") as acked:
    for c in certs(data):
        armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
        import base64
        armored += base64.encodebytes(c).decode() + "-----END PGP PUBLIC KEY BLOCK-----\n"
        body = urllib.parse.urlencode({"keytext": armored}).encode()
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/pks/add", body, timeout=10) as r:
                    text = r.read().decode()
                    if r.status == 200:
                        for line in text.splitlines():
                            if line.startswith(("new ", "unchanged ", "updated ")):
                                acked.write(line.split()[1] + "\n")
                                acked.flush()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                if time.time() > deadline:
                    print("server did not come back:", e, file=sys.stderr)
                    sys.exit(1)
                time.sleep(0.05)
