"""IMAP COMPRESS=DEFLATE (RFC 4978) with a raw client that compresses
with Python's zlib: the OK goes out plain and everything after it is
raw deflate both ways, over plain TCP, after STARTTLS and on IMAPS.
FETCH of many headers and of a large body, IDLE waking up on a delivery
(the server's output is flushed, not left in its compressor), a second
COMPRESS refused, a corrupt stream and a decompression bomb from the
client handled without harm to the server."""

import re
import socket
import time
import zlib

import pytest

from conftest import PASSWORD
from harness import FACTEURD, ConnectionClosed, client_tls_context, rss_kb
from test_imap_support import message, module_imap_server

HEADERS = 300


def sanitized():
    """An ASan build: its quarantine keeps freed memory resident and its
    redzones pad every block, so resident sizes say nothing there."""
    with open(FACTEURD, "rb") as f:
        return b"__asan_init" in f.read()


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


class ZClient:
    """A raw IMAP client that can switch to raw deflate; counts the
    bytes on the wire and after inflating."""

    def __init__(self, sock, timeout=20.0):
        sock.settimeout(timeout)
        self.sock = sock
        self.buf = b""
        self.tag = 0
        self.inflater = None
        self.deflater = None
        self.wire_in = 0
        self.plain_in = 0

    @classmethod
    def connect(cls, port):
        return cls(socket.create_connection(("127.0.0.1", port), timeout=20))

    def close(self):
        self.sock.close()

    def send(self, data):
        if self.deflater is not None:
            data = (self.deflater.compress(data)
                    + self.deflater.flush(zlib.Z_SYNC_FLUSH))
        self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("closed; unread %r" % self.buf[:200])
        self.wire_in += len(chunk)
        if self.inflater is not None:
            chunk = self.inflater.decompress(chunk)
        self.plain_in += len(chunk)
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def command(self, text):
        """Sends a command; returns (untagged lines, literals, tagged
        status). Literals announced at a line's end are read whole."""
        self.tag += 1
        tag = b"z%d" % self.tag
        self.send(tag + b" " + text.encode() + b"\r\n")
        lines, literals = [], []
        while True:
            line = self.readline()
            while True:
                m = re.search(rb"\{(\d+)\}$", line)
                if not m:
                    break
                literals.append(self.read_exact(int(m.group(1))))
                line += b"\0" + self.readline()
            if line.startswith(tag + b" "):
                return lines, literals, line[len(tag) + 1:].decode()
            lines.append(line)

    def ok(self, text):
        lines, literals, status = self.command(text)
        assert status.startswith("OK"), (text, status, lines[:3])
        return lines, literals

    def greet(self):
        assert self.readline().startswith(b"* OK")

    def login(self, user):
        return self.ok('LOGIN "%s" "%s"' % (user, PASSWORD))

    def compress(self):
        lines, _, status = self.command("COMPRESS DEFLATE")
        assert status.startswith("OK"), status
        # what follows the OK's CRLF is compressed
        rest, self.buf = self.buf, b""
        self.inflater = zlib.decompressobj(-15)
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.buf = self.inflater.decompress(rest)
        return lines


def capabilities(lines):
    for l in lines:
        if l.startswith(b"* CAPABILITY "):
            return l.decode().split()[2:]
    raise AssertionError(lines)


def logged_in(imap, user, compress=True):
    c = ZClient.connect(imap.port)
    c.greet()
    c.login(user)
    if compress:
        c.compress()
    return c


def test_advertised_after_login_only(imap):
    c = ZClient.connect(imap.port)
    c.greet()
    lines, _ = c.ok("CAPABILITY")
    assert "COMPRESS=DEFLATE" not in capabilities(lines)
    _, _, status = c.command("COMPRESS DEFLATE")
    assert status.startswith("BAD"), status
    c.login(imap.user())
    lines, _ = c.ok("CAPABILITY")
    assert "COMPRESS=DEFLATE" in capabilities(lines)
    c.close()


def test_arguments_and_second_compress(imap):
    c = logged_in(imap, imap.user(), compress=False)
    for bad in ("COMPRESS", "COMPRESS GZIP", "COMPRESS DEFLATE DEFLATE",
                'COMPRESS "DEFLATE"'):
        _, _, status = c.command(bad)
        assert status.startswith("BAD"), (bad, status)
    c.compress()
    _, _, status = c.command("COMPRESS DEFLATE")
    assert status.startswith("NO [COMPRESSIONACTIVE]"), status
    lines, _ = c.ok("CAPABILITY")
    assert "IMAP4rev1" in capabilities(lines)
    c.ok("LOGOUT")
    c.close()


def test_fetch_headers_and_body(imap):
    user = imap.user()
    msgs = [message("header test %d" % i, extra="X-Seq: %d\n" % i)
            for i in range(HEADERS)]
    body = b"".join(b"line %06d of a large body, compressible text\n" % i
                    for i in range(40000))
    msgs.append(message("large", body.decode()))
    imap.deliver(user, *msgs)

    plain = logged_in(imap, user, compress=False)
    plain.ok("SELECT INBOX")
    before = plain.wire_in
    _, want = plain.ok("FETCH 1:%d (BODY.PEEK[HEADER])" % HEADERS)
    plain_bytes = plain.wire_in - before

    z = logged_in(imap, user)
    z.ok("SELECT INBOX")
    wire, inflated = z.wire_in, z.plain_in
    _, got = z.ok("FETCH 1:%d (BODY.PEEK[HEADER])" % HEADERS)
    z_bytes = z.wire_in - wire
    assert got == want
    assert len(got) == HEADERS
    assert z.plain_in - inflated == plain_bytes
    print("FETCH of %d headers: %d bytes plain, %d compressed (%.1f%%, "
          "%d saved)" % (HEADERS, plain_bytes, z_bytes,
                         100.0 * z_bytes / plain_bytes,
                         plain_bytes - z_bytes))
    assert z_bytes * 3 < plain_bytes

    _, lit = z.ok("FETCH %d (BODY.PEEK[TEXT])" % (HEADERS + 1))
    assert lit == [body.replace(b"\n", b"\r\n")]
    # commands keep working after the large answer
    z.ok("NOOP")
    z.ok("LOGOUT")
    z.close()
    plain.close()


def test_idle_wakes_up(imap):
    user = imap.user()
    imap.deliver(user, message("first"))
    c = logged_in(imap, user)
    c.ok("SELECT INBOX")
    c.tag += 1
    tag = b"z%d" % c.tag
    c.send(tag + b" IDLE\r\n")
    assert c.readline().startswith(b"+")
    imap.deliver(user, message("second"))
    # only a flushed compressor lets this line through
    c.sock.settimeout(10)
    line = c.readline()
    assert line == b"* 2 EXISTS", line
    c.send(b"DONE\r\n")
    while True:
        line = c.readline()
        if line.startswith(tag + b" "):
            break
    assert line.startswith(tag + b" OK"), line
    c.close()


def test_after_starttls(imap):
    raw = socket.create_connection(("127.0.0.1", imap.port), timeout=20)
    c = ZClient(raw)
    c.greet()
    c.ok("STARTTLS")
    c.sock = client_tls_context().wrap_socket(raw,
                                              server_hostname="localhost")
    c.login(imap.user())
    c.compress()
    lines, _ = c.ok("LIST \"\" *")
    assert any(b"INBOX" in l for l in lines), lines
    _, _, status = c.command("STARTTLS")
    assert status.startswith("BAD"), status
    c.ok("LOGOUT")
    c.close()


def test_on_imaps(imap):
    user = imap.user()
    imap.deliver(user, *[message("tls %d" % i) for i in range(50)])
    raw = socket.create_connection(("127.0.0.1", imap.imaps_port),
                                   timeout=20)
    c = ZClient(client_tls_context().wrap_socket(
        raw, server_hostname="localhost"))
    c.greet()
    c.login(user)
    c.compress()
    c.ok("SELECT INBOX")
    _, lits = c.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert [l.strip() for l in lits] == [
        b"Subject: tls %d" % i for i in range(50)]
    c.ok("LOGOUT")
    c.close()


def test_corrupt_stream_closes(imap):
    c = logged_in(imap, imap.user())
    c.ok("NOOP")
    c.send_raw(b"\xff\xff\xff\xff not deflate at all\r\n")
    with pytest.raises((ConnectionClosed, ConnectionResetError)):
        for _ in range(10):
            c.readline()
    c.close()
    imap.wait_log(r"corrupt compressed stream")
    # the server goes on serving
    d = logged_in(imap, imap.user())
    d.ok("NOOP")
    d.close()


def test_pipelined_after_compress(imap):
    """The client's first compressed bytes arrive with the command."""
    c = ZClient.connect(imap.port)
    c.greet()
    c.login(imap.user())
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    c.send_raw(b"p1 COMPRESS DEFLATE\r\n" + deflater.compress(
        b"p2 NOOP\r\n") + deflater.flush(zlib.Z_SYNC_FLUSH))
    assert c.readline().startswith(b"p1 OK")
    rest, c.buf = c.buf, b""
    c.inflater = zlib.decompressobj(-15)
    c.deflater = deflater
    c.buf = c.inflater.decompress(rest)
    assert c.readline().startswith(b"p2 OK")
    c.ok("NOOP")
    c.close()


def test_bomb_is_bounded(imap):
    """A gigantic line in a few kilobytes of input: refused as too
    long, with the worker's memory unchanged, and the session goes on."""
    c = logged_in(imap, imap.user())
    w = imap.srv.workers()[0]
    before = rss_kb(w)
    zeros = b"x" * (1 << 20)
    sent = 0
    c.send(b"b1 NOOP ")
    for _ in range(64):
        chunk = c.deflater.compress(zeros)
        sent += len(chunk)
        c.send_raw(chunk)
    tail = c.deflater.compress(b"\r\nb2 NOOP\r\n") + c.deflater.flush(
        zlib.Z_SYNC_FLUSH)
    c.send_raw(tail)
    lines = []
    while True:
        line = c.readline()
        lines.append(line)
        if line.startswith(b"b2 "):
            break
    assert any(b"BAD" in l and b"too long" in l for l in lines), lines
    assert line.startswith(b"b2 OK"), lines
    after = rss_kb(w)
    print("64 MiB line in %d compressed bytes; worker RSS %d -> %d kB"
          % (sent, before, after))
    if not sanitized():
        assert after - before < 8 * 1024, (before, after)
    c.close()


def test_memory_per_connection(imap):
    """The worker's memory for idle logged-in connections, compressed
    and not."""
    n = 40
    w = imap.srv.workers()[0]
    time.sleep(0.2)
    base = rss_kb(w)
    plain = [logged_in(imap, imap.user(), compress=False)
             for _ in range(n // 2)]
    for c in plain:
        c.ok("NOOP")
    mid = rss_kb(w)
    zs = [logged_in(imap, imap.user()) for _ in range(n // 2)]
    for c in zs:
        c.ok("NOOP")
    end = rss_kb(w)
    per_plain = (mid - base) * 1024 // (n // 2)
    per_z = (end - mid) * 1024 // (n // 2)
    print("per idle connection: %d bytes plain, %d compressed"
          % (per_plain, per_z))
    for c in plain + zs:
        c.close()
    if not sanitized():
        assert per_z < 160 * 1024, per_z
