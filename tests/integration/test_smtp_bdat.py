"""CHUNKING (RFC 3030): messages sent with BDAT. A chunk is exactly as
many bytes as announced, whatever they look like; BDAT and DATA do not
mix; the size limit holds across chunks; and a chunk is always read, so
its bytes are never taken for commands."""

import pytest

from test_smtp_support import (ALICE, BOB, QUEUED, message, module_server,
                               queue_id, unique)

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, with max_message_size 64k."""
    yield from module_server(request, password_hash, tls_files,
                             smtp="max_message_size 64k;")


def envelope(c, rcpts=(ALICE,)):
    assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
    for r in rcpts:
        assert c.cmd("RCPT TO:<%s>" % r) == "250 2.1.5 Ok"


def bdat(c, chunk, last=False):
    """One BDAT command with its chunk in the same write; the reply."""
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") +
           chunk)
    return c.reply()


def stored_body(mx, user, subject):
    got = mx.find(user, subject)
    assert len(got) == 1, got
    # the message starts at its From: field, after the trace fields
    return got[0][got[0].index(b"\nFrom: ") + 1:]


def test_chunks_then_last(mx):
    """Two chunks, each answered 250, then BDAT 0 LAST: the message is
    the two chunks end to end, byte for byte (no dot-stuffing with
    BDAT: a line ".." stays ".."), delivered to both recipients."""
    subject = unique("chunks")
    msg = message(subject, body="..not stuffed\r\n.\r\nend\r\n")
    one, two = msg[:50], msg[50:]
    with mx.client() as c:
        c.ehlo()
        envelope(c, (ALICE, BOB))
        assert bdat(c, one).startswith("250 2.0.0 ")
        assert bdat(c, two).startswith("250 2.0.0 ")
        queue_id(bdat(c, b"", last=True))
    for user in (ALICE, BOB):
        assert stored_body(mx, user, subject) == msg.replace(b"\r\n", b"\n")


def test_nul_in_an_early_chunk_refused(mx):
    """A NUL byte in the first of two chunks is refused with 554 5.6.0
    at BDAT LAST (reject_nul, the default), as with DATA; nothing is
    stored and the session goes on."""
    subject = unique("bdatnul")
    msg = message(subject, body="zero\0byte\r\nmore\r\n")
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert bdat(c, msg[:-8]).startswith("250 2.0.0 ")
        reply = bdat(c, msg[-8:], last=True)
        assert reply.startswith("554 5.6.0 "), reply
        ok = unique("after-bdat-nul")
        envelope(c)
        queue_id(bdat(c, message(ok), last=True))
    assert mx.find(ALICE, subject) == []
    assert len(mx.find(ALICE, ok)) == 1


def test_single_chunk_last(mx):
    """A whole message in one BDAT ... LAST."""
    subject = unique("onechunk")
    msg = message(subject)
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        queue_id(bdat(c, msg, last=True))
    assert stored_body(mx, ALICE, subject) == msg.replace(b"\r\n", b"\n")


def test_chunk_size_is_exact(mx):
    """A chunk holding CRLF "." CRLF and command lines is data, not an
    end or commands; a chunk may end in the middle of a line and of a
    CRLF; the session goes on after LAST."""
    subject = unique("exact")
    msg = message(subject, body="a\r\n.\r\nQUIT\r\nRSET\r\nb\r\n")
    cut = msg.index(b"QUIT") + 2
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert bdat(c, msg[:cut]).startswith("250 2.0.0 ")
        # cut between CR and LF
        cr = msg.index(b"\r\n", cut) + 1
        assert bdat(c, msg[cut:cr]).startswith("250 2.0.0 ")
        queue_id(bdat(c, msg[cr:], last=True))
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert stored_body(mx, ALICE, subject) == msg.replace(b"\r\n", b"\n")


def test_pipelined_bdat_transaction(mx):
    """MAIL, RCPT and BDAT LAST in one write (allowed with PIPELINING
    and CHUNKING, RFC 3030 4.2), then the next transaction."""
    subject = unique("pipebdat")
    msg = message(subject)
    with mx.client() as c:
        c.ehlo()
        c.send(b"MAIL FROM:<sender@example.net>\r\n"
               b"RCPT TO:<alice@example.org>\r\n"
               b"BDAT %d LAST\r\n" % len(msg) + msg + b"NOOP\r\n")
        assert c.replies(2) == ["250 2.1.0 Ok", "250 2.1.5 Ok"]
        queue_id(c.reply())
        assert c.reply() == "250 2.0.0 Ok"
    assert len(mx.find(ALICE, subject)) == 1


def test_too_big_in_one_chunk(mx):
    """A chunk over max_message_size is read through (its "QUIT" and
    "RSET" lines are data) and refused with 552 5.3.4; nothing is
    stored and the session goes on with the next message."""
    subject = unique("bigchunk")
    msg = message(subject, body="QUIT\r\nRSET\r\n" + "b" * LIMIT + "\r\n")
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert bdat(c, msg, last=True).startswith("552 5.3.4 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        ok = unique("after-big")
        envelope(c)
        queue_id(bdat(c, message(ok), last=True))
    assert mx.find(ALICE, subject) == []
    assert len(mx.find(ALICE, ok)) == 1


def test_too_big_across_chunks(mx):
    """Chunks that fit one by one but not together: the first is
    answered 250, the last is refused with 552 5.3.4, nothing is
    stored."""
    subject = unique("bigsum")
    msg = message(subject, body="c" * (LIMIT - 100) + "\r\n")
    half = len(msg) // 2
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert bdat(c, msg[:half]).startswith("250 ")
        assert bdat(c, msg[half:] + b"c" * 200, last=True) \
            .startswith("552 5.3.4 ")
        assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert mx.find(ALICE, subject) == []


def test_data_after_bdat(mx):
    """DATA after BDAT in the same transaction is a bad sequence (503,
    RFC 3030 2); RSET clears the transaction, and DATA works in the
    next one."""
    subject = unique("mixed")
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert bdat(c, b"Subject: x\r\n").startswith("250 ")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        envelope(c)
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject) + b".\r\n")
        assert QUEUED.match(c.reply())
    assert len(mx.find(ALICE, subject)) == 1


def test_bdat_out_of_sequence(mx):
    """BDAT before MAIL is 503; after MAIL with every RCPT refused it is
    503 or 554 (RFC 3030, RFC 5321 3.3). Each time the announced chunk
    is still read and thrown away, because the client sends it right
    behind the command (RFC 3030 2, and with PIPELINING it cannot know
    the RCPTs failed): the lines inside must not run as commands."""
    chunk = b"HELP\r\nHELP\r\nRSET\r\n"
    with mx.client() as c:
        c.ehlo()
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
        assert c.reply().startswith("503 ")
        assert c.reply() == "250 2.0.0 Ok", "the chunk ran as commands"
        c.send(b"MAIL FROM:<sender@example.net>\r\n"
               b"RCPT TO:<nobody@example.org>\r\n"
               b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
        assert c.reply() == "250 2.1.0 Ok"
        assert c.reply().startswith("550 5.1.1 ")
        assert c.reply()[:4] in ("503 ", "554 ")
        assert c.reply() == "250 2.0.0 Ok", "the chunk ran as commands"


def test_bad_bdat_with_a_size_skips_its_chunk(mx):
    """A BDAT whose size reads well but whose rest does not (BDAT 18
    FIRST) is 501, and its 18 bytes are still read and dropped; a size
    that is no number cannot be skipped, so only that line is refused."""
    chunk = b"HELP\r\nHELP\r\nRSET\r\n"
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        c.send(b"BDAT %d FIRST\r\n" % len(chunk) + chunk + b"NOOP\r\n")
        assert c.reply().startswith("501 ")
        assert c.reply() == "250 2.0.0 Ok", "the chunk ran as commands"
        assert c.cmd("BDAT 12x").startswith("501 ")
        assert c.cmd("BDAT 99999999999999999999999").startswith("501 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_bdat_syntax(mx):
    """BDAT needs a size, and only LAST may follow it (501)."""
    with mx.client() as c:
        c.ehlo()
        envelope(c)
        assert c.cmd("BDAT").startswith("501 ")
        assert c.cmd("BDAT x").startswith("501 ")
        assert c.cmd("BDAT 0 FIRST").startswith("501 ")
        assert c.cmd("RSET") == "250 2.0.0 Ok"
