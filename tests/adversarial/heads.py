"""Answer heads read from a socket until it ends (answers to HEAD have no
body, so each ends at its blank line): how many, and the last one."""


class Heads:
    def __init__(self):
        self.count = 0
        self.last = b""
        self.buf = b""

    def read_until_end(self, s, chunk=1 << 16):
        """Reads until the end of the stream or a reset."""
        while True:
            try:
                d = s.recv(chunk)
            except OSError:
                d = b""
            if not d:
                return
            self.buf += d
            while b"\r\n\r\n" in self.buf:
                self.last, _, self.buf = self.buf.partition(b"\r\n\r\n")
                self.count += 1
