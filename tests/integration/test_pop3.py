"""POP3 dialogue (RFC 1939, RFC 2449, RFC 5034) with a raw client: states,
every command, byte-exact RETR and TOP, UIDL, the maildrop lock, and the
bad input and faults of issue 7. One server for the whole file."""

import base64
import socket
import struct
import time

import pytest

from conftest import PASSWORD
from harness import ConnectionClosed, client_tls_context, wait_for
from test_pop3_support import (crlf, message, module_pop3_server,
                               pop3s_client)


@pytest.fixture(scope="module")
def pop3(request, password_hash, tls_files):
    yield from module_pop3_server(request, password_hash, tls_files)


def login_when_unlocked(srv, user, timeout=10.0):
    """A logged-in client, once an earlier session of the user has
    really ended (the server notices a dropped connection a little
    later)."""
    deadline = time.monotonic() + timeout
    while True:
        c = srv.client()
        assert c.cmd("USER " + user).startswith("+OK")
        r = c.cmd("PASS " + PASSWORD)
        if r.startswith("+OK"):
            return c
        c.close()
        assert "[IN-USE]" in r, r
        assert time.monotonic() < deadline, "still locked"
        time.sleep(0.05)


def capa(c):
    assert c.cmd("CAPA") == "+OK Capability list follows"
    return c.lines()


def test_greeting_and_capa(pop3):
    """The greeting is +OK; CAPA before login offers USER, SASL PLAIN
    LOGIN (loopback may carry passwords) and STLS; after login those
    three are gone, and what was not configured is never shown."""
    user = pop3.user()
    with pop3.client() as c:
        before = capa(c)
        for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                    "PIPELINING", "USER", "SASL PLAIN LOGIN", "STLS"):
            assert cap in before, before
        assert not any(l.startswith(("EXPIRE", "LOGIN-DELAY", "APOP"))
                       for l in before)
        c.login(user, PASSWORD)
        after = capa(c)
        assert "TOP" in after and "UIDL" in after
        assert not any(l.startswith(("USER", "SASL", "STLS"))
                       for l in after), after
        assert c.cmd("QUIT") == "+OK Bye"


MESSAGES = [
    message("plain", b"one line\n"),
    # dot-stuffing: a lone ".", "..", ".x" lines, and one at the end
    message("dots", b".\n..\n.x\nmiddle . dot\n.\n"),
    # 8-bit, a NUL, a bare CR inside a line
    message("binary", b"caf\xc3\xa9 \xff\xfe\x00 nul\nbare\rcr\n"),
    # no line end at the very end
    message("no final newline", b"last line without end"),
    # CRLF as delivered by some agents, and long lines
    message("crlf", b"a\r\nb\r\n" + b"x" * 5000 + b"\r\n"),
]


def test_retr_is_byte_exact(pop3):
    """RETR gives each stored message back byte for byte with CRLF line
    ends; lines starting with "." are stuffed on the wire; LIST and STAT
    sizes are the octets RETR sends (with CRLF, before stuffing)."""
    user = pop3.user()
    pop3.deliver(user, *MESSAGES)
    with pop3.client() as c:
        c.login(user, PASSWORD)
        total = sum(len(crlf(m)) for m in MESSAGES)
        assert c.cmd("STAT") == "+OK %d %d" % (len(MESSAGES), total)
        assert c.cmd("LIST").startswith("+OK 5 messages")
        sizes = c.lines()
        for i, m in enumerate(MESSAGES, 1):
            assert sizes[i - 1] == "%d %d" % (i, len(crlf(m)))
            r = c.cmd("RETR %d" % i)
            assert r == "+OK %d octets" % len(crlf(m)), r
            if not m.endswith(b"\n"):
                # the answer ends the last line before the "."
                assert c.body() == crlf(m) + b"\r\n"
            else:
                assert c.body() == crlf(m)
        c.send("RETR 2\r\n")
        assert c.readline().startswith("+OK")
        raw = c.raw_multiline()
        assert b"\r\n..\r\n...\r\n..x\r\nmiddle . dot\r\n..\r\n.\r\n" \
            in raw, raw
        assert c.cmd("QUIT") == "+OK Bye"


def test_top(pop3):
    """TOP n 0 is the header and the empty line; TOP n k adds k body
    lines (stuffed like RETR); more lines than the body has is the whole
    message; TOP marks nothing \\Seen."""
    user = pop3.user()
    body = b"b1\n.b2\nb3\n"
    m = message("top", body, extra=b"X-Long: a\n continued\n")
    pop3.deliver(user, m)
    head = crlf(m.split(b"\n\n", 1)[0] + b"\n\n")
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("TOP 1 0") == "+OK"
        assert c.body() == head
        assert c.cmd("TOP 1 2") == "+OK"
        assert c.body() == head + b"b1\r\n.b2\r\n"
        assert c.cmd("TOP 1 1000") == "+OK"
        assert c.body() == crlf(m)
        assert c.cmd("QUIT") == "+OK Bye"
    assert pop3.messages(user)[0][1] == "()"


def test_uidl_stable_across_sessions(pop3):
    """UIDL is UID then UIDVALIDITY in hex, the same in every session;
    after a deletion the numbers close up but each message keeps its
    UIDL."""
    user = pop3.user()
    ids = pop3.deliver(user, *(message("u%d" % i) for i in range(4)))
    want = ["%08X%08X" % (uid, v) for v, uid in ids]
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("UIDL") == "+OK"
        assert c.lines() == ["%d %s" % (i, u) for i, u in
                             enumerate(want, 1)]
        assert c.cmd("UIDL 3") == "+OK 3 %s" % want[2]
        assert c.cmd("DELE 1").startswith("+OK")
        assert c.cmd("QUIT") == "+OK Bye, deleted 1"
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("UIDL") == "+OK"
        assert c.lines() == ["%d %s" % (i, u) for i, u in
                             enumerate(want[1:], 1)]
        c.cmd("QUIT")


def test_dele_rset_and_quit(pop3):
    """DELE hides a message from STAT, LIST, UIDL, RETR and a second
    DELE; RSET brings everything back; QUIT removes what is marked
    then."""
    user = pop3.user()
    msgs = [message("d%d" % i) for i in range(3)]
    pop3.deliver(user, *msgs)
    size = len(crlf(msgs[0]))
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("DELE 1") == "+OK Message 1 marked for deletion"
        assert c.cmd("STAT") == "+OK 2 %d" % (2 * size)
        for cmd in ("RETR 1", "LIST 1", "UIDL 1", "TOP 1 0", "DELE 1"):
            assert c.cmd(cmd) == "-ERR Message 1 is deleted", cmd
        assert c.cmd("LIST").startswith("+OK 2 messages")
        assert c.lines() == ["2 %d" % size, "3 %d" % size]
        assert c.cmd("RSET") == "+OK 3 messages (%d octets)" % (3 * size)
        assert c.cmd("STAT") == "+OK 3 %d" % (3 * size)
        assert c.cmd("DELE 2").startswith("+OK")
        # nothing changes in the store before QUIT
        assert len(pop3.messages(user)) == 3
        assert c.cmd("QUIT") == "+OK Bye, deleted 1"
    left = pop3.messages(user)
    assert len(left) == 2
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("RETR 2").startswith("+OK")
        assert c.body() == crlf(msgs[2])
        c.cmd("QUIT")


def test_dropped_connection_deletes_nothing(pop3):
    """A client that DELEs everything and goes away without QUIT (a
    reset, mid-answer) deletes nothing; the lock goes with it."""
    user = pop3.user()
    pop3.deliver(user, *(message("drop%d" % i) for i in range(3)))
    c = pop3.client()
    c.login(user, PASSWORD)
    for i in (1, 2, 3):
        assert c.cmd("DELE %d" % i).startswith("+OK")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()
    c = login_when_unlocked(pop3, user)
    assert c.cmd("STAT").startswith("+OK 3 ")
    c.cmd("QUIT")
    c.close()
    assert len(pop3.messages(user)) == 3
    pop3.wait_log(r"event=abort deleted=0 undone=3")


def test_commands_in_the_wrong_state(pop3):
    """Transaction commands before login, PASS without USER, APOP, and
    login commands after login are refused; the session goes on."""
    user = pop3.user()
    with pop3.client() as c:
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 0",
                    "RSET", "NOOP"):
            assert c.cmd(cmd) == "-ERR Not allowed before logging in", cmd
        assert c.cmd("PASS " + PASSWORD) == "-ERR USER first"
        assert c.cmd("APOP %s 0123456789abcdef" % user) == \
            "-ERR APOP is not offered"
        c.login(user, PASSWORD)
        for cmd in ("USER x", "PASS y", "AUTH PLAIN", "STLS", "APOP x y"):
            assert c.cmd(cmd) == "-ERR Already logged in", cmd
        assert c.cmd("NOOP") == "+OK"
        assert c.cmd("QUIT") == "+OK Bye"


def test_bad_message_numbers(pop3):
    """Missing, zero, out of range, not a number, signed, too big for 32
    bits, or too many arguments: -ERR, and the session goes on."""
    user = pop3.user()
    pop3.deliver(user, message("n1"), message("n2"))
    with pop3.client() as c:
        c.login(user, PASSWORD)
        cases = {
            "RETR": "-ERR RETR message",
            "RETR 0": "-ERR There is no message 0",
            "RETR 3": "-ERR There is no message 3",
            "RETR abc": "-ERR Invalid message number",
            "RETR -1": "-ERR Invalid message number",
            "RETR +1": "-ERR Invalid message number",
            "RETR 0x1": "-ERR Invalid message number",
            "RETR 4294967296": "-ERR Invalid message number",
            "LIST 4294967295": "-ERR There is no message 4294967295",
            "RETR 1 2 3": "-ERR Too many arguments",
            "TOP 1": "-ERR TOP message lines",
            "TOP 1 x": "-ERR Invalid number of lines",
            "DELE": "-ERR DELE message",
            "UIDL 1 2": "-ERR Too many arguments",
        }
        for cmd, want in cases.items():
            assert c.cmd(cmd) == want, cmd
        # runs of spaces and any case are fine
        assert c.cmd("list   2 ") == "+OK 2 %d" % len(crlf(message("n2")))
        assert c.cmd("STAT") == "+OK 2 %d" % (
            len(crlf(message("n1"))) + len(crlf(message("n2"))))
        assert c.cmd("QUIT") == "+OK Bye"


def test_unknown_commands_and_too_many_errors(pop3):
    """Unknown commands, a NUL and an empty line are errors; the
    twentieth error (max_errors) ends the session."""
    with pop3.client() as c:
        assert c.cmd("XYZZY") == "-ERR Unknown command"
        assert c.cmd("RETRX 1") == "-ERR Unknown command"
        assert c.cmd("NO\x00OP") == "-ERR NUL in command"
        assert c.cmd("") == "-ERR Empty command"
        for _ in range(15):
            assert c.cmd("BOGUS") == "-ERR Unknown command"
        c.send("BOGUS\r\n")
        assert c.expect_closed() == [
            "-ERR Unknown command",
            "-ERR Too many errors, closing the connection"]


def test_overlong_line(pop3):
    """A line past max_line_length (4k) is answered -ERR and skipped,
    with no memory growth; the session goes on."""
    user = pop3.user()
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("NOOP " + "x" * 100000) == "-ERR Line too long"
        assert c.cmd("NOOP") == "+OK"
        assert c.cmd("QUIT") == "+OK Bye"


def test_wrong_password_is_delayed(pop3):
    """A wrong password is answered -ERR [AUTH] after the core's failure
    delay (300 ms in the tests); the right one then works in the same
    connection."""
    user = pop3.user()
    with pop3.client() as c:
        assert c.cmd("USER " + user) == "+OK"
        t0 = time.monotonic()
        assert c.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed"
        assert time.monotonic() - t0 >= 0.25
        # an unknown user looks the same
        assert c.cmd("USER nobody@example.org") == "+OK"
        t0 = time.monotonic()
        assert c.cmd("PASS " + PASSWORD) == \
            "-ERR [AUTH] Authentication failed"
        assert time.monotonic() - t0 >= 0.25
        c.login(user, PASSWORD)
        assert c.cmd("QUIT") == "+OK Bye"


def test_maildrop_lock(pop3):
    """A second POP3 login to a maildrop in use gets -ERR [IN-USE] (and
    may try again); delivery and the storage tools keep working; the
    first session's view stays as it was; after QUIT the second login
    works and sees the new mail."""
    user = pop3.user()
    pop3.deliver(user, message("first"))
    first = pop3.client()
    first.login(user, PASSWORD)
    with pop3.client() as second:
        assert second.cmd("USER " + user) == "+OK"
        r = second.cmd("PASS " + PASSWORD)
        assert r == "-ERR [IN-USE] Mailbox is locked by another POP3 " \
            "session", r
        assert second.cmd("STAT") == "-ERR Not allowed before logging in"
        pop3.deliver(user, message("while locked"))
        assert len(pop3.messages(user)) == 2
        assert first.cmd("STAT").startswith("+OK 1 ")
        assert first.cmd("QUIT") == "+OK Bye"
        first.close()
        second.login(user, PASSWORD)
        assert second.cmd("STAT").startswith("+OK 2 ")
        assert second.cmd("QUIT") == "+OK Bye"


def test_message_expunged_by_another_session(pop3):
    """A message expunged from outside while POP3 has the maildrop
    open: RETR and TOP of it give -ERR, the numbers and LIST stay as
    they were, the other messages are still served, and DELE of it plus
    QUIT is fine."""
    user = pop3.user()
    msgs = [message("x%d" % i) for i in range(3)]
    ids = pop3.deliver(user, *msgs)
    with pop3.client() as c:
        c.login(user, PASSWORD)
        pop3.ctl("mailbox", "expunge", user, "INBOX", str(ids[1][1]))
        assert c.cmd("RETR 2") == \
            "-ERR Message 2 was removed by another session"
        assert c.cmd("TOP 2 0") == \
            "-ERR Message 2 was removed by another session"
        assert c.cmd("LIST 2") == "+OK 2 %d" % len(crlf(msgs[1]))
        assert c.cmd("RETR 3").startswith("+OK")
        assert c.body() == crlf(msgs[2])
        assert c.cmd("DELE 2").startswith("+OK")
        assert c.cmd("DELE 1").startswith("+OK")
        assert c.cmd("QUIT") == "+OK Bye, deleted 2"
    assert [m[0] for m in pop3.messages(user)] == [ids[2][1]]


def test_pipelining(pop3):
    """A whole session sent in one write is answered in order
    (PIPELINING)."""
    user = pop3.user()
    msgs = [message("p1", b"x\n" * 3000), message("p2")]
    pop3.deliver(user, *msgs)
    with pop3.client() as c:
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nLIST\r\nRETR 2\r\n"
               "UIDL 2\r\nNOOP\r\nQUIT\r\n" % (user, PASSWORD))
        assert c.readline() == "+OK"
        assert c.readline().startswith("+OK Logged in, 2 messages")
        assert c.readline().startswith("+OK 2 ")
        assert c.readline().startswith("+OK")
        assert c.body() == crlf(msgs[0])
        assert c.readline().startswith("+OK 2 messages")
        assert len(c.lines()) == 2
        assert c.readline().startswith("+OK")
        assert c.body() == crlf(msgs[1])
        assert c.readline().startswith("+OK 2 ")
        assert c.readline() == "+OK"
        assert c.expect_closed() == ["+OK Bye"]


def test_retr_marks_seen(pop3):
    """A message RETR'd whole is \\Seen after QUIT (what IMAP shows);
    others are not."""
    user = pop3.user()
    pop3.deliver(user, message("s1"), message("s2"), message("s3"))
    with pop3.client() as c:
        c.login(user, PASSWORD)
        assert c.cmd("RETR 2").startswith("+OK")
        c.body()
        assert c.cmd("TOP 3 1").startswith("+OK")
        c.body()
        assert c.cmd("QUIT") == "+OK Bye"
    assert [m[1] for m in pop3.messages(user)] == ["()", "(\\Seen)", "()"]


def test_auth_sasl(pop3):
    """AUTH (RFC 5034): PLAIN with an initial response, PLAIN with an
    empty challenge, LOGIN's two challenges, "*" cancels, bad base64 is
    -ERR [AUTH], a bare AUTH lists the mechanisms."""
    user = pop3.user()
    plain = base64.b64encode(b"\0%s\0%s" % (user.encode(),
                                            PASSWORD.encode())).decode()
    with pop3.client() as c:
        assert c.cmd("AUTH") == "+OK"
        assert c.lines() == ["PLAIN", "LOGIN"]
        assert c.cmd("AUTH CRAM-MD5") == \
            "-ERR [AUTH] unsupported authentication mechanism"
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd("*") == "-ERR Authentication cancelled"
        assert c.cmd("AUTH PLAIN !!!notbase64") == \
            "-ERR [AUTH] invalid base64 in the response"
        assert c.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6"
        assert c.cmd(base64.b64encode(user.encode()).decode()) == \
            "+ UGFzc3dvcmQ6"
        assert c.cmd(base64.b64encode(b"wrong").decode()) == \
            "-ERR [AUTH] Authentication failed"
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd(plain).startswith("+OK Logged in")
        assert c.cmd("QUIT") == "+OK Bye"
    with pop3.client() as c:
        assert c.cmd("AUTH PLAIN " + plain).startswith("+OK Logged in")
        c.cmd("QUIT")


def test_stls(pop3):
    """STLS: +OK, the handshake on the same connection, input sent with
    STLS thrown away, CAPA without STLS afterwards, a second STLS
    refused; POP3S refuses STLS."""
    user = pop3.user()
    c = pop3.client()
    c.send("STLS\r\nNOOP\r\n")
    assert c.readline() == "+OK Begin TLS negotiation now"
    assert c.buf == b""
    c.sock = client_tls_context().wrap_socket(c.sock,
                                              server_hostname="localhost")
    c.sock.settimeout(c.timeout)
    caps = capa(c)
    assert "STLS" not in caps and "USER" in caps
    assert c.cmd("STLS") == "-ERR TLS is already active"
    c.login(user, PASSWORD)
    assert c.cmd("QUIT") == "+OK Bye"
    c.close()
    with pop3s_client(pop3.pop3s_port) as s:
        s.greet()
        assert "STLS" not in capa(s)
        assert s.cmd("STLS") == "-ERR TLS is already active"


def test_quit_before_login(pop3):
    with pop3.client() as c:
        c.send("QUIT\r\n")
        assert c.expect_closed() == ["+OK Bye"]
