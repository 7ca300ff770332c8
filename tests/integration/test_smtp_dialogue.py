"""The SMTP dialogue (RFC 5321) on the smtp, submission and lmtp
listeners: the greeting, what EHLO and LHLO advertise where, the simple
commands, the order of commands, and how the session survives a client's
mistakes (max_errors, over-long lines, NUL bytes)."""

import signal
import time

import pytest

from test_smtp_support import (ALICE, HOSTNAME, ehlo_keywords, module_server,
                               smtp_server, smtps_client)

# smtp_server is a fixture: pytest finds it in this module by its name
__all__ = ["smtp_server"]

BASE_KEYWORDS = {"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8",
                 "ENHANCEDSTATUSCODES", "CHUNKING"}


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, with the test certificate: STARTTLS is
    offered and there is an implicit-TLS submission listener."""
    yield from module_server(request, password_hash, tls_files, tls=True)


def test_greeting(mx):
    """The greeting is 220 with the host name first (RFC 5321 4.2), on
    every listener kind; LMTP says so."""
    with mx.client(greet=False) as c:
        assert c.reply() == "220 %s ESMTP" % HOSTNAME
    with mx.client(port=mx.sub_port, greet=False) as c:
        assert c.reply() == "220 %s ESMTP" % HOSTNAME
    with mx.client(port=mx.lmtp_port, greet=False) as c:
        assert c.reply() == "220 %s LMTP" % HOSTNAME


def test_ehlo_on_smtp(mx):
    """EHLO on the smtp listener: the host name, then PIPELINING, SIZE
    with the limit, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING,
    STARTTLS (a certificate is set) and AUTH PLAIN LOGIN (plaintext auth
    is allowed from loopback). No DSN: that is for submission."""
    with mx.client() as c:
        reply = c.cmd("EHLO client.example.net")
    lines = reply.split("\n")
    assert lines[0] == "250-%s" % HOSTNAME
    assert all(l.startswith("250-") for l in lines[:-1]), reply
    assert lines[-1].startswith("250 "), reply
    kw = ehlo_keywords(reply)
    assert set(kw) == BASE_KEYWORDS | {"STARTTLS", "AUTH"}, reply
    assert kw["SIZE"] == "52428800"
    assert kw["AUTH"].split() == ["PLAIN", "LOGIN"]


def test_ehlo_on_submission(mx):
    """Submission adds DSN (RFC 3461) to the same list."""
    with mx.client(port=mx.sub_port) as c:
        kw = ehlo_keywords(c.ehlo())
    assert set(kw) == BASE_KEYWORDS | {"STARTTLS", "AUTH", "DSN"}


def test_lhlo_on_lmtp(mx):
    """LHLO (RFC 2033) gets the base list; no AUTH and no DSN on LMTP."""
    with mx.client(port=mx.lmtp_port) as c:
        reply = c.cmd("LHLO client.example.net")
    assert reply.split("\n")[0] == "250-%s" % HOSTNAME
    kw = ehlo_keywords(reply)
    assert "AUTH" not in kw and "DSN" not in kw
    assert BASE_KEYWORDS <= set(kw)


def test_ehlo_after_starttls(mx):
    """Once TLS is on, STARTTLS is no longer offered and is refused;
    AUTH still is offered."""
    with mx.client() as c:
        c.ehlo()
        c.starttls()
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" not in kw
        assert "AUTH" in kw
        assert c.cmd("STARTTLS").startswith("503 5.5.1 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_ehlo_on_implicit_tls(mx):
    """On a `tls submission` listener the connection is encrypted from
    the start: no STARTTLS, AUTH and DSN offered."""
    with smtps_client(mx.smtps_port) as c:
        assert c.reply() == "220 %s ESMTP" % HOSTNAME
        kw = ehlo_keywords(c.ehlo())
    assert "STARTTLS" not in kw
    assert "AUTH" in kw and "DSN" in kw


def test_no_certificate_no_starttls(smtp_server):
    """Without a certificate STARTTLS is neither offered nor accepted
    (454, RFC 3207 4, or 502 for a command not offered); SIZE follows
    max_message_size."""
    srv = smtp_server(smtp="max_message_size 64k;")
    with srv.client() as c:
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" not in kw
        assert kw["SIZE"] == "65536"
        assert c.cmd("STARTTLS")[:4] in ("454 ", "502 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_helo(mx):
    """HELO answers 250 with the host name and opens the session for
    mail; HELO and EHLO need an argument (501)."""
    with mx.client() as c:
        assert c.cmd("HELO").startswith("501 5.5.4 ")
        assert c.cmd("EHLO").startswith("501 5.5.4 ")
        assert c.cmd("HELO client.example.net") == "250 %s" % HOSTNAME
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_rset_noop_quit(mx):
    """RSET and NOOP (with or without an argument) answer 250; QUIT
    answers 221 and the server closes the connection."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("NOOP anything at all") == "250 2.0.0 Ok"
        assert c.cmd("QUIT").startswith("221 2.0.0")
        assert c.expect_closed() == []


def test_rset_forgets_the_transaction(mx):
    """After RSET the sender and recipients are gone: RCPT and DATA are
    out of sequence again."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE).startswith("503 5.5.1 ")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_ehlo_resets_the_transaction(mx):
    """A second EHLO in a transaction is like RSET (RFC 5321 4.1.4)."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        c.ehlo("again.example.net")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_vrfy_252(mx):
    """VRFY is off by default: 252 for a user that exists and for one
    that does not, so it tells nothing (RFC 5321 3.5.3)."""
    with mx.client() as c:
        c.ehlo()
        known = c.cmd("VRFY %s" % ALICE)
        unknown = c.cmd("VRFY nobody@example.org")
        assert known.startswith("252 2.0.0 ")
        assert unknown == known


def test_help_and_expn(mx):
    """HELP answers 214; EXPN is not implemented (502)."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("HELP").startswith("214 ")
        assert c.cmd("HELP MAIL").startswith("214 ")
        assert c.cmd("EXPN staff").startswith("502 5.5.1 ")


def test_unknown_command(mx):
    """An unknown command is 500 5.5.2; commands are not case-sensitive
    (RFC 5321 2.4)."""
    with mx.client() as c:
        assert c.cmd("FROB nicate").startswith("500 5.5.2 ")
        assert c.cmd("ehlo client.example.net").startswith("250-")
        assert c.cmd("mail from:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("rcpt to:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("rset") == "250 2.0.0 Ok"


def test_commands_out_of_order(mx):
    """MAIL before HELO, RCPT before MAIL, DATA before RCPT and a nested
    MAIL are bad sequences (503 5.5.1); DATA when every RCPT was refused
    is 503 or 554 (RFC 5321 3.3)."""
    with mx.client() as c:
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 5.5.1 ")
        c.ehlo()
        assert c.cmd("RCPT TO:<%s>" % ALICE).startswith("503 5.5.1 ")
        assert c.cmd("DATA").startswith("503 5.5.1 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("MAIL FROM:<b@example.net>").startswith("503 5.5.1 ")
        assert c.cmd("RCPT TO:<nobody@example.org>").startswith("550 ")
        assert c.cmd("DATA")[:4] in ("503 ", "554 ")
        # the transaction is still there
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"


def test_max_errors(mx):
    """Nine mistakes are answered one by one and the session goes on;
    the tenth (max_errors is 10 for smtp) is answered, then the server
    says 421 with its name and closes (RFC 5321 3.8)."""
    with mx.client() as c:
        c.ehlo()
        for i in range(9):
            assert c.cmd("BOGUS%d" % i).startswith("500 5.5.2 ")
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        assert c.cmd("BOGUS9").startswith("500 5.5.2 ")
        assert c.reply().startswith("421 4.7.0 %s " % HOSTNAME)
        assert c.expect_closed() == []


def test_overlong_line(mx):
    """A command line over max_line_length (2k for smtp) is answered 500
    5.5.2 and skipped to its end, even when its end comes in a later
    segment; the session and the transaction go on. A long line under
    the limit is an ordinary command."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("NOOP " + "x" * 1900) == "250 2.0.0 Ok"
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<" + "a" * 3000 + "@example.org>") \
            .startswith("500 5.5.2 ")
        # the line's end, QUIT, arrives later and is part of the line
        c.send("NOOP " + "y" * 3000)
        time.sleep(0.1)
        c.send(" QUIT\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        c.send("Z" * 2048 + "QUIT\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"


def test_nul_in_command(mx):
    """A NUL byte in a command line is refused (500 5.5.2) rather than
    cutting the command short."""
    with mx.client() as c:
        c.ehlo()
        c.send(b"MAIL FROM:<a@example.net>\0 junk\r\n")
        assert c.reply().startswith("500 5.5.2 ")
        assert c.cmd("RCPT TO:<%s>" % ALICE).startswith("503 ")


def test_lhlo_refused_on_smtp(mx):
    """LHLO belongs to LMTP: the smtp and submission listeners refuse it
    and still take EHLO."""
    for port in (mx.port, mx.sub_port):
        with mx.client(port=port) as c:
            assert c.cmd("LHLO client.example.net")[:4] in ("500 ", "502 ")
            assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 ")
            c.ehlo()


def test_ehlo_and_helo_refused_on_lmtp(mx):
    """On LMTP, HELO and EHLO are replaced by LHLO (RFC 2033 4.1): both
    are refused and do not open the session; AUTH is not there."""
    with mx.client(port=mx.lmtp_port) as c:
        assert c.cmd("EHLO client.example.net")[:4] in ("500 ", "502 ")
        assert c.cmd("HELO client.example.net")[:4] in ("500 ", "502 ")
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 ")
        c.ehlo(verb="LHLO")
        assert c.cmd("AUTH PLAIN AGFsaWNlAHg=").startswith("502 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_idle_timeout(smtp_server):
    """A client silent for idle_timeout (1s here) in the middle of a
    command, or of a message, gets 421 4.4.2 with the host name and is
    disconnected (RFC 5321 4.5.3.2); the half message is not stored."""
    srv = smtp_server(smtp="idle_timeout 1s;")
    with srv.client() as c:
        c.ehlo()
        c.send("NOOP")
        t0 = time.monotonic()
        assert c.reply(5).startswith("421 4.4.2 %s " % HOSTNAME)
        assert 0.9 <= time.monotonic() - t0 < 4
        assert c.expect_closed() == []
    with srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send("Subject: half a message\r\n\r\nand then nothing")
        assert c.reply(5).startswith("421 4.4.2 ")
        assert c.expect_closed() == []
    assert srv.find(ALICE, "half a message") == []


def test_shutdown_lets_a_message_finish(smtp_server):
    """On SIGTERM an idle session is told 421 4.3.2 and closed (RFC 5321
    3.8); a session in the middle of DATA may finish its message, which
    is taken (250) and stored, and is told 421 after it."""
    srv = smtp_server()
    idle, busy = srv.client(), srv.client()
    try:
        idle.ehlo()
        busy.ehlo()
        assert busy.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert busy.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert busy.cmd("DATA").startswith("354 ")
        busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        srv.srv.signal(signal.SIGTERM)
        assert idle.reply(5).startswith("421 4.3.2 %s " % HOSTNAME)
        assert idle.expect_closed() == []
        busy.send(b"second half\r\n.\r\n")
        assert busy.reply(5).startswith("250 2.0.0 Ok: queued as ")
        assert busy.reply(5).startswith("421 4.3.2 ")
        assert busy.expect_closed() == []
    finally:
        idle.close()
        busy.close()
    assert srv.srv.proc.wait(15) == 0
    assert len(srv.find(ALICE, "in flight")) == 1
