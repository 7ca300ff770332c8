"""PIPELINING (RFC 2920): a whole transaction in one write, the same
bytes cut at every place, 10,000 recipients in one go, and a long
session whose memory must not grow with the number of transactions."""

import re
import threading
import time

import pytest

from harness import rss_kb
from test_smtp_support import (ALICE, BOB, HOSTNAME, SMALL_QUARANTINE,
                               message, module_server, queue_id, unique)

MAX_RECIPIENTS = 100


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file: max_recipients 100, ASan's quarantine
    small enough for the memory test."""
    yield from module_server(request, password_hash, tls_files,
                             smtp="max_recipients %d;" % MAX_RECIPIENTS,
                             env=SMALL_QUARANTINE)


def pipelined_transaction(subject):
    """EHLO, MAIL, three RCPT (the middle one unknown), DATA, a short
    dot-stuffed body, QUIT: as bytes, and the replies expected, each as
    a predicate on the reply."""
    body = message(subject, body="..dot\r\nx\r\n")
    data = (b"EHLO client.example.net\r\n"
            b"MAIL FROM:<sender@example.net>\r\n"
            b"RCPT TO:<alice@example.org>\r\n"
            b"RCPT TO:<nobody@example.org>\r\n"
            b"RCPT TO:<bob@example.org>\r\n"
            b"DATA\r\n" + body + b".\r\nQUIT\r\n")
    expected = [
        lambda r: r.startswith("250-%s\n" % HOSTNAME),
        lambda r: r == "250 2.1.0 Ok",
        lambda r: r == "250 2.1.5 Ok",
        lambda r: r.startswith("550 5.1.1 "),
        lambda r: r == "250 2.1.5 Ok",
        lambda r: r.startswith("354 "),
        lambda r: queue_id(r) is not None,
        lambda r: r.startswith("221 "),
    ]
    return data, expected


def check_replies(c, expected, what):
    got = []
    for want in expected:
        r = c.reply()
        got.append(r)
        assert want(r), "%s: reply %d is %r; all: %r" % (what, len(got),
                                                          r, got)
    assert c.expect_closed() == [], what


def test_whole_transaction_in_one_write(mx):
    """EHLO through QUIT sent in one write get every reply, right and in
    order, and the message reaches both known recipients once."""
    subject = unique("onewrite")
    data, expected = pipelined_transaction(subject)
    with mx.client() as c:
        c.send(data)
        check_replies(c, expected, "one write")
    for user in (ALICE, BOB):
        got = mx.find(user, subject)
        assert len(got) == 1
        assert got[0].endswith(b"\n.dot\nx\n")


def test_split_at_every_byte(mx):
    """The same transaction cut in two at every byte boundary (two
    writes with a pause between): the replies never depend on where
    the cut falls, and every message arrives whole."""
    subject = unique("split")
    data, expected = pipelined_transaction(subject)
    for cut in range(1, len(data)):
        with mx.client() as c:
            c.send(data[:cut])
            time.sleep(0.002)
            c.send(data[cut:])
            check_replies(c, expected, "cut at %d" % cut)
    for user in (ALICE, BOB):
        got = mx.find(user, subject)
        assert len(got) == len(data) - 1, user
        assert all(m.endswith(b"\n.dot\nx\n") for m in got)


def test_ten_thousand_recipients(mx):
    """10,000 RCPT commands pipelined in one session: the first
    max_recipients (100) are accepted, the rest get 452 4.5.3 (RFC 5321
    4.5.3.1.10) without counting as errors; the session lives on and
    the next message is delivered."""
    n = 10000
    batch = b"RCPT TO:<alice@example.org>\r\n" * n
    with mx.client(timeout=60) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        sender = threading.Thread(target=c.send, args=(batch,))
        sender.start()
        try:
            replies = [c.reply(30) for _ in range(n)]
        finally:
            sender.join(60)
        assert replies[:MAX_RECIPIENTS] == ["250 2.1.5 Ok"] * MAX_RECIPIENTS
        late = replies[MAX_RECIPIENTS:]
        assert all(r.startswith("452 4.5.3 ") for r in late), \
            sorted(set(late))[:5]
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        subject = unique("after-10k")
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject) + b".\r\n")
        queue_id(c.reply())
    assert len(mx.find(BOB, subject)) == 1


def run_transactions(c, n):
    """n times MAIL, RCPT, RSET, pipelined from a thread; every reply
    checked."""
    batch = (b"MAIL FROM:<sender@example.net>\r\n"
             b"RCPT TO:<alice@example.org>\r\nRSET\r\n") * n
    sender = threading.Thread(target=c.send, args=(batch,))
    sender.start()
    try:
        for i in range(n):
            assert c.reply(30) == "250 2.1.0 Ok", i
            assert c.reply(30) == "250 2.1.5 Ok", i
            assert c.reply(30) == "250 2.0.0 Ok", i
    finally:
        sender.join(60)


def worker_of(mx, pattern):
    """The pid of the process that logged the last line matching
    pattern ("facteurd[PID]: ...")."""
    line = mx.wait_log(pattern)[-1]
    return int(re.search(r"facteurd\[(\d+)\]", line).group(1))


def test_long_session_memory_bounded(mx):
    """A session that runs 30,000 transactions (MAIL, RCPT, RSET) holds
    no more memory at the end than after the first thousand: what a
    transaction allocates is freed when it ends, so one client cannot
    grow a worker without bound (STYLE 8.6, command arena)."""
    with mx.client(timeout=60) as c:
        c.ehlo()
        run_transactions(c, 1000)
        worker = worker_of(mx, "event=rcpt")
        before = rss_kb(worker)
        run_transactions(c, 30000)
        after = rss_kb(worker)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert after - before < 4 * 1024, \
        "worker RSS grew from %d kB to %d kB over 30,000 transactions" % (
            before, after)
