"""MULTIAPPEND (RFC 3502): several messages in one APPEND, each with its
own flags and date, committed together with one APPENDUID and a UID
set; a refused message, a failed commit, a limit or a lost connection
leaves none of them stored. Synchronising literals, LITERAL+ and
literal8 forms.

The server here takes at most 4 messages per APPEND, 8 KiB together.
"""

import time

import pytest

from test_imap_support import message, module_imap_server


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(
        request, password_hash, tls_files,
        imap="max_append_messages 4;\n        max_message_size 8k;")


def msg(subject, size=0):
    body = "x" * size + "\n" if size else "Hello.\n"
    return message(subject, body=body).replace(b"\n", b"\r\n")


def count(imap, user, mailbox="INBOX"):
    with imap.client() as c:
        c.login(user)
        lines = c.ok("STATUS %s (MESSAGES)" % mailbox)
    return int(lines[0].rsplit("MESSAGES ", 1)[1].rstrip(")"))


def nonsync(*parts):
    """APPEND INBOX with each (options, message) as a {n+} literal."""
    out = b"a APPEND INBOX"
    for opts, m in parts:
        out += (b" " + opts if opts else b"") + b" {%d+}\r\n" % len(m) + m
    return out + b"\r\n"


def test_capability(imap):
    with imap.client() as c:
        c.login(imap.user())
        assert "MULTIAPPEND" in c.ok("CAPABILITY")[0].split()


def test_synchronising(imap):
    """Each literal waits for its "+"; flags and dates are per message;
    APPENDUID carries the UID set."""
    user = imap.user()
    one, two, three = msg("one"), msg("two"), msg("three")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX (\\Seen) {%d}\r\n" % len(one))
        assert c.readline().startswith("+")
        c.send(one + b' (\\Flagged $Work) "05-Jan-2020 10:00:00 +0100" '
               b"{%d}\r\n" % len(two))
        assert c.readline().startswith("+")
        c.send(two + b" {%d}\r\n" % len(three))
        assert c.readline().startswith("+")
        c.send(three + b"\r\n")
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
        assert line.split()[4] == "1:3]", line
        c.ok("SELECT INBOX")
        lines = c.ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK"
                     "[HEADER.FIELDS (SUBJECT)])")
        text = "\n".join(lines)
        assert "Subject: one" in text and "Subject: three" in text, lines
        f1 = [l for l in lines if l.startswith("* 1 FETCH")][0]
        f2 = [l for l in lines if l.startswith("* 2 FETCH")][0]
        assert "\\Seen" in f1 and "\\Flagged" not in f1, f1
        assert "\\Flagged" in f2 and "$Work" in f2, f2
        assert '"05-Jan-2020 10:00:00 +0100"' in f2 or \
            '"05-Jan-2020 09:00:00 +0000"' in f2, f2


def test_literal_plus_and_literal8(imap):
    """All in one write with LITERAL+, one message as a literal8."""
    user = imap.user()
    a, b = msg("plus a"), msg("plus b")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(a) + a +
               b" (\\Draft) ~{%d+}\r\n" % len(b) + b + b"\r\n")
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
        assert line.split()[4] == "1:2]", line
    assert count(imap, user) == 2


def test_single_still_works(imap):
    user = imap.user()
    m = msg("single")
    with imap.client() as c:
        c.login(user)
        c.send(nonsync((None, m)))
        line = c.readline()
        assert line.startswith("a OK [APPENDUID ") and \
            line.split()[4] == "1]", line


def test_middle_refused_nonsync(imap):
    """A bad flag on the second of three: the rest is read, nothing is
    stored, and the answer says why."""
    user = imap.user()
    with imap.client() as c:
        c.login(user)
        c.send(nonsync((None, msg("a")), (b"(\\Bogus)", msg("b")),
                       (None, msg("c"))))
        line = c.readline()
        assert line.startswith("a NO [CLIENTBUG] Invalid flag"), line
        # the session goes on
        assert c.ok("NOOP") == []
    assert count(imap, user) == 0


def test_middle_refused_sync(imap):
    """A bad date on the second: refused before its literal, at once."""
    user = imap.user()
    a = msg("a")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d}\r\n" % len(a))
        assert c.readline().startswith("+")
        c.send(a + b' "31-Foo-2020 00:00:00 +0000" {10}\r\n')
        line = c.readline()
        assert line.startswith("a NO [CLIENTBUG] Invalid date-time"), line
        assert c.ok("NOOP") == []
    assert count(imap, user) == 0


def test_commit_failure_rolls_back(imap):
    """The quota user may have 5 messages: with 2 there, the fourth of
    four fails at commit, and the three before it are taken out
    again; the quota then counts only what is there."""
    user = imap.quota_user()
    with imap.client() as c:
        c.login(user)
        c.send(nonsync(*[(None, msg("q%d" % i)) for i in range(2)]))
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
        c.send(nonsync(*[(None, msg("r%d" % i)) for i in range(4)]))
        line = c.readline()
        assert line.startswith("a NO [OVERQUOTA]"), line
        assert count(imap, user) == 2
        c.send(nonsync(*[(None, msg("s%d" % i)) for i in range(3)]))
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
    assert count(imap, user) == 5


def test_count_limit(imap):
    """A fifth message: NO [LIMIT] before its literal, nothing stored;
    without waiting for "+", BAD and the end of the connection."""
    user = imap.user()
    m = msg("m")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(m) +
               (m + b" {%d+}\r\n" % len(m)) * 3 + m + b" {%d}\r\n" % len(m))
        line = c.readline()
        assert line.startswith("a NO [LIMIT]"), line
        assert c.ok("NOOP") == []
    assert count(imap, user) == 0
    with imap.client() as c:
        c.login(user)
        c.send(nonsync(*[(None, m)] * 5))
        line = c.readline()
        assert line.startswith("a BAD [LIMIT]"), line
        assert c.readline().startswith("* BYE"), line
    assert count(imap, user) == 0


def test_size_limit_together(imap):
    """8 KiB for the messages together: the third of 3 KiB is refused."""
    user = imap.user()
    big = msg("big", 3000)
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(big) + big +
               b" {%d+}\r\n" % len(big) + big + b" {%d}\r\n" % len(big))
        line = c.readline()
        assert line.startswith("a NO [TOOBIG]"), line
        assert c.ok("NOOP") == []
    assert count(imap, user) == 0


def test_no_literal_after_message(imap):
    user = imap.user()
    m = msg("m")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(m) + m + b" (\\Seen)\r\n")
        line = c.readline()
        assert line.startswith("a BAD"), line
        assert c.ok("NOOP") == []
    assert count(imap, user) == 0


def test_disconnect_in_the_middle(imap):
    """Two messages whole, the third cut: none stays."""
    user = imap.user()
    m = msg("m")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(m) + m +
               b" {%d+}\r\n" % len(m) + m + b" {%d+}\r\n" % len(m) + m[:10])
    # the server sees the end of the connection on its own time
    deadline = time.time() + 5
    while time.time() < deadline and count(imap, user) != 0:
        time.sleep(0.1)
    assert count(imap, user) == 0


def test_missing_mailbox(imap):
    user = imap.user()
    m = msg("m")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND Nowhere {%d+}\r\n" % len(m) + m +
               b" {%d+}\r\n" % len(m) + m + b"\r\n")
        line = c.readline()
        assert line.startswith("a NO [TRYCREATE]"), line
        assert c.ok("NOOP") == []


def test_selected_mailbox_sees_them(imap):
    """Appending to the selected mailbox: EXISTS before the OK."""
    user = imap.user()
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        c.send(nonsync((None, msg("s1")), (None, msg("s2"))))
        lines, st = c.until("a")
        assert st.startswith("OK [APPENDUID"), st
        assert "* 2 EXISTS" in lines, lines


def test_size_limit_nonsync_closes(imap):
    """Too large without waiting for "+" (or a size no number holds):
    BAD, BYE and the end of the connection; nothing stored."""
    user = imap.user()
    m = msg("m")
    for marker in (b"{9000+}", b"{99999999999999999999+}"):
        with imap.client() as c:
            c.login(user)
            c.send(b"a APPEND INBOX {%d+}\r\n" % len(m) + m + b" " +
                   marker + b"\r\n")
            line = c.readline()
            assert line.startswith("a BAD [TOOBIG]"), line
            assert c.readline().startswith("* BYE"), line
        assert count(imap, user) == 0
