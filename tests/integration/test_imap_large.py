"""Large answers over IMAP: a 30 MB BODY[] and a FETCH of 400
messages of 8 KB stream through the core's back-pressure (the worker's memory
does not grow while the client reads nothing), arrive byte-exactly, and
a client vanishing in the middle harms nothing."""

import hashlib
import re
import socket
import struct
import time

import pytest

from conftest import PASSWORD
from harness import rss_kb
from test_imap_support import message, module_imap_server
from test_smtp_support import SMALL_QUARANTINE

SIZE = 30 * 1024 * 1024
COUNT = 400


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files,
                                  env=SMALL_QUARANTINE)


@pytest.fixture(scope="module")
def big():
    line = b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\xc3\xa9z\n"
    return message("big", (line * (SIZE // len(line) + 1)).decode(
        "utf-8"))


def login_raw(imap, user):
    s = socket.create_connection(("127.0.0.1", imap.port), timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\n'
              % (user.encode(), PASSWORD.encode()))
    while not f.readline().startswith(b"b OK"):
        pass
    return s, f


def test_big_body_streams(imap, big):
    user = imap.user()
    imap.deliver(user, big)
    want = big.replace(b"\n", b"\r\n")
    w = imap.srv.workers()[0]
    s, f = login_raw(imap, user)
    before = rss_kb(w)
    s.sendall(b"c FETCH 1 (BODY.PEEK[])\r\n")
    time.sleep(1.0)
    stalled = rss_kb(w)
    assert stalled - before < 16 * 1024, (before, stalled)
    head = f.readline()
    m = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n$", head)
    assert m and int(m.group(1)) == len(want), head
    h = hashlib.sha256()
    t0 = time.monotonic()
    left = len(want)
    while left > 0:
        chunk = f.read1(min(left, 1 << 20))
        assert chunk, "closed with %d bytes left" % left
        h.update(chunk)
        left -= len(chunk)
    assert h.hexdigest() == hashlib.sha256(want).hexdigest()
    assert f.readline() == b")\r\n"
    assert f.readline().startswith(b"c OK")
    after = rss_kb(w)
    assert after - before < 24 * 1024, (before, after)
    print("30 MB BODY[] in %.2f s, worker RSS %d -> %d -> %d KiB"
          % (time.monotonic() - t0, before, stalled, after))
    # vanish in the middle of a second copy: the server carries on
    s.sendall(b"d FETCH 1 (BODY.PEEK[])\r\n")
    got = 0
    while got < 4 * 1024 * 1024:
        got += len(f.read1(1 << 20))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    f.close()
    s.close()
    with imap.client() as c:
        c.login(user)
        lines = c.ok("STATUS INBOX (MESSAGES UNSEEN)")
        assert "MESSAGES 1 UNSEEN 1" in lines[0], lines


def test_many_messages_stream(imap):
    user = imap.user()
    imap.deliver(user, *[message("n%d" % i, body="z" * 8000 + "\n")
                         for i in range(COUNT)])
    w = imap.srv.workers()[0]
    s, f = login_raw(imap, user)
    before = rss_kb(w)
    s.sendall(b"c FETCH 1:* (UID FLAGS RFC822.SIZE "
              b"BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])\r\n")
    time.sleep(0.5)
    stalled = rss_kb(w)
    assert stalled - before < 16 * 1024, (before, stalled)
    seen = 0
    while True:
        line = f.readline()
        if line.startswith(b"c "):
            assert line.startswith(b"c OK"), line
            break
        m = re.match(rb"\* (\d+) FETCH .*\{(\d+)\}\r\n$", line)
        if m:
            body = f.read(int(m.group(2)))
            assert body == b"Subject: n%d\r\n\r\n" % (int(m.group(1)) - 1)
            line = f.readline()
            assert line == b" BODY[TEXT] {8002}\r\n", line
            assert f.read(8002) == b"z" * 8000 + b"\r\n"
            assert f.readline() == b")\r\n"
            seen += 1
    assert seen == COUNT
    after = rss_kb(w)
    assert after - before < 16 * 1024, (before, after)
    s.close()
