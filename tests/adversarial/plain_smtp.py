#!/usr/bin/env python3
"""A plain-text SMTP server that never offers STARTTLS but offers AUTH, for
tests/adversarial/secrets.sh: it writes every command line it receives to
LOG (so a test can see whether a client sent its login in clear text) and
accepts any login and mail.   plain_smtp.py PORTFILE LOG"""
import socket
import sys
import threading

portfile, log_path = sys.argv[1], sys.argv[2]
log_lock = threading.Lock()


def log(line):
    with log_lock, open(log_path, "a") as f:
        f.write(line + "\n")


def serve(conn):
    conn.settimeout(30)
    f = conn.makefile("rb")

    def send(text):
        conn.sendall(text.encode() + b"\r\n")

    send("220 plain.test ESMTP (no TLS here)")
    try:
        while True:
            raw = f.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log(line)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                send("250-plain.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME")
            elif verb == "HELO":
                send("250 plain.test")
            elif verb == "AUTH":
                parts = line.split(" ")
                if len(parts) >= 3 or (len(parts) == 2 and parts[1].upper() == "PLAIN"):
                    if len(parts) == 2:
                        send("334 ")
                        log(f.readline(4096).decode("utf-8", "replace").rstrip("\r\n"))
                    send("235 2.7.0 accepted")
                else:  # LOGIN: user, then password
                    send("334 VXNlcm5hbWU6")
                    log(f.readline(4096).decode("utf-8", "replace").rstrip("\r\n"))
                    send("334 UGFzc3dvcmQ6")
                    log(f.readline(4096).decode("utf-8", "replace").rstrip("\r\n"))
                    send("235 2.7.0 accepted")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                send("250 ok")
            elif verb == "DATA":
                send("354 go on")
                while True:
                    d = f.readline(65536)
                    if not d or d.rstrip(b"\r\n") == b".":
                        break
                log("(message received)")
                send("250 queued")
            elif verb == "QUIT":
                send("221 bye")
                return
            elif verb == "STARTTLS":
                send("502 5.5.1 no TLS here")
            else:
                send("502 unknown command")
    except (OSError, ValueError):
        return
    finally:
        conn.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(portfile + ".tmp", "w") as p:
    p.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
