"""A 50 MB message over POP3: RETR streams it byte-exactly through the
core's output back-pressure (the worker's memory does not grow with the
message, even when the client stops reading), TOP of it reads only the
head, and a client that vanishes in the middle of it deletes nothing."""

import hashlib
import socket
import struct
import time

import pytest

from conftest import PASSWORD
from harness import rss_kb
from test_pop3_support import crlf, message, module_pop3_server
from test_smtp_support import SMALL_QUARANTINE

SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def pop3(request, password_hash, tls_files):
    yield from module_pop3_server(request, password_hash, tls_files,
                                  env=SMALL_QUARANTINE)


@pytest.fixture(scope="module")
def big():
    """About 50 MB in 76-byte lines, some starting with "." (stuffed on
    the wire), 8-bit bytes in places."""
    line = b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\xc3\xa9z\n"
    lines = []
    total = 0
    i = 0
    while total < SIZE:
        l = (b"." + line[1:]) if i % 1000 == 0 else line
        lines.append(l)
        total += len(l)
        i += 1
    return message("big", b"".join(lines))


def worker(pop3):
    return pop3.srv.workers()[0]


def read_retr(sock):
    """Reads a whole RETR answer from a raw socket: (status line, sha256
    of the message with stuffing undone, bytes on the wire)."""
    buf = bytearray()
    while b"\r\n" not in buf:
        buf += sock.recv(65536)
    cut = buf.index(b"\r\n")
    status, data = bytes(buf[:cut]), bytearray(buf[cut + 2:])
    while not data.endswith(b"\r\n.\r\n"):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise AssertionError("closed after %d bytes" % len(data))
        data += chunk
    lines = bytes(data[:-3]).split(b"\r\n")[:-1]
    h = hashlib.sha256()
    for l in lines:
        h.update((l[1:] if l.startswith(b".") else l) + b"\r\n")
    return status, h.hexdigest(), len(data)


def login_raw(pop3, user):
    s = socket.create_connection(("127.0.0.1", pop3.port), timeout=30)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(), PASSWORD.encode()))
    assert f.readline().startswith(b"+OK")
    r = f.readline()
    assert r.startswith(b"+OK Logged in"), r
    return s, f


def test_50mb_retr_streams_with_back_pressure(pop3, big):
    """RETR of a 50 MB message: the client first reads nothing for a
    second and the worker's memory stays flat (the answer waits for the
    socket to drain); then the whole message arrives byte for byte, with
    the size LIST announced."""
    user = pop3.user()
    pop3.deliver(user, big)
    want = crlf(big)
    w = worker(pop3)
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("LIST 1") == "+OK 1 %d" % len(want)
        before = rss_kb(w)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send("RETR 1\r\n")
        time.sleep(1.0)
        stalled = rss_kb(w)
        assert stalled - before < 16 * 1024, (before, stalled)
        assert c.buf == b""
        t0 = time.monotonic()
        status, digest, wire = read_retr(c.sock)
        elapsed = time.monotonic() - t0
        assert status == b"+OK %d octets" % len(want)
        assert digest == hashlib.sha256(want).hexdigest()
        assert wire > len(want)           # stuffed lines and the "."
        after = rss_kb(w)
        assert after - before < 24 * 1024, (before, after)
        print("50 MB RETR in %.2f s, worker RSS %d -> %d -> %d KiB"
              % (elapsed, before, stalled, after))
        assert c.cmd("TOP 1 3") == "+OK"
        top = c.body()
        head = crlf(big.split(b"\n\n", 1)[0] + b"\n\n")
        assert top == head + b"\r\n".join(want[len(head):].split(
            b"\r\n")[:3]) + b"\r\n"
        assert c.cmd("QUIT") == "+OK Bye"


def test_client_vanishes_mid_retr(pop3, big):
    """A client that DELEs one message and resets the connection in the
    middle of a 50 MB RETR: nothing is deleted, the message is not
    \\Seen, and the maildrop can be opened again."""
    user = pop3.user()
    pop3.deliver(user, message("small"), big)
    s, f = login_raw(pop3, user)
    s.sendall(b"DELE 1\r\nRETR 2\r\n")
    assert f.readline().startswith(b"+OK")
    assert f.readline().startswith(b"+OK")
    got = 0
    while got < 4 * 1024 * 1024:
        got += len(f.read1(1 << 20))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    f.close()
    s.close()
    pop3.wait_log(r"event=abort deleted=0 undone=1")
    assert [m[1] for m in pop3.messages(user)] == ["()", "()"]
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("STAT").startswith("+OK 2 ")
        assert c.cmd("QUIT") == "+OK Bye"
