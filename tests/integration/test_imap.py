"""IMAP dialogue (RFC 3501) with a raw client and imaplib: states, the
commands, literals, and the bad input of issue 8. One server for the
whole file; each test takes a user of its own."""

import base64
import imaplib
import socket
import time

import pytest

from conftest import PASSWORD
from harness import ConnectionClosed, client_tls_context
from test_imap_support import fetch_flags, message, module_imap_server


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


def test_greeting_capability_logout(imap):
    """The greeting carries the capabilities; before login STARTTLS and
    AUTH= are offered (loopback may carry passwords), after login they
    are gone; LOGOUT says BYE then OK and closes."""
    with imap.client(greet=False) as c:
        g = c.readline()
        assert g.startswith("* OK [CAPABILITY IMAP4rev1 "), g
        lines = c.ok("CAPABILITY")
        caps = lines[0].split()[2:]
        for cap in ("IMAP4rev1", "LITERAL+", "SASL-IR", "IDLE", "UIDPLUS",
                    "MOVE", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN",
                    "NAMESPACE", "ID", "ENABLE", "UNSELECT"):
            assert cap in caps, caps
        assert "LOGINDISABLED" not in caps
        r = c.login(imap.user())
        lines = c.ok("CAPABILITY")
        assert "STARTTLS" not in lines[0] and "AUTH=" not in lines[0]
        lines, st = c.tagged("LOGOUT")
        assert lines == ["* BYE Logging out"] and st.startswith("OK")
        c.expect_closed()


def test_unknown_and_wrong_state(imap):
    with imap.client() as c:
        _, st = c.tagged("FROBNICATE")
        assert st.startswith("BAD"), st
        _, st = c.tagged("SELECT INBOX")
        assert st.startswith("BAD"), st
        _, st = c.tagged("FETCH 1 FLAGS")
        assert st.startswith("BAD"), st
        c.login(imap.user())
        _, st = c.tagged("FETCH 1 FLAGS")
        assert st.startswith("BAD"), st
        _, st = c.tagged("LOGIN a b")
        assert st.startswith("BAD"), st
        # a line that is not a command at all: untagged BAD
        c.send(b"+++\r\n")
        assert c.readline().startswith("* BAD")
        c.ok("NOOP")


def test_login_failures_and_authenticate(imap):
    user = imap.user()
    with imap.client() as c:
        _, st = c.tagged('LOGIN "%s" "wrong"' % user)
        assert st.startswith("NO [AUTHENTICATIONFAILED]"), st
        ir = base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode())
        _, st = c.tagged("AUTHENTICATE PLAIN " + ir.decode())
        assert st.startswith("OK [CAPABILITY"), st
    with imap.client() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith("+")
        c.send(base64.b64encode(("\0%s\0%s" % (user, PASSWORD)).encode())
               + b"\r\n")
        assert c.readline().startswith("a OK")
    with imap.client() as c:
        c.send(b"a AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith("+")
        c.send(b"*\r\n")
        assert c.readline().startswith("a BAD")


def test_literals(imap):
    """A synchronising literal gets "+"; LITERAL+ needs none; a literal
    inside a command over the limit is refused before any byte."""
    user = imap.user()
    with imap.client() as c:
        c.send(b"a LOGIN {%d}\r\n" % len(user))
        assert c.readline().startswith("+ ")
        c.send(user.encode() + b" {%d+}\r\n" % len(PASSWORD)
               + PASSWORD.encode() + b"\r\n")
        assert c.readline().startswith("a OK")
        c.send(b"b SELECT {4294967296}\r\n")
        assert c.readline().startswith("b NO [TOOBIG]")
        c.ok("NOOP")


def test_huge_append_literal_refused(imap):
    """APPEND announcing 4 GB is refused before reading: NO, and the
    session carries on."""
    with imap.client() as c:
        c.login(imap.user())
        c.send(b"a APPEND INBOX {4294967296}\r\n")
        assert c.readline().startswith("a NO [TOOBIG]")
        c.ok("NOOP")


def test_nonsync_literal_over_limit_closes(imap):
    with imap.client() as c:
        c.send(b"a LOGIN {999999999+}\r\n")
        assert c.readline().startswith("a BAD [TOOBIG]")
        assert c.readline().startswith("* BYE")
        c.expect_closed()


def test_deep_parentheses(imap):
    with imap.client() as c:
        c.login(imap.user())
        c.ok("SELECT INBOX")
        c.send(b"a FETCH 1 " + b"(" * 10000 + b")" * 10000 + b"\r\n")
        assert c.readline().startswith("a BAD")
        c.send(b"b SEARCH " + b"NOT " * 10000 + b"ALL\r\n")
        assert c.readline().startswith("b BAD")
        c.ok("NOOP")


def test_sequence_sets(imap):
    user = imap.user()
    imap.deliver(user, message("one"), message("two"), message("three"))
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        lines = c.ok("UID FETCH 1:4294967295 (FLAGS)")
        assert len(lines) == 3, lines
        lines = c.ok("FETCH 2:* (UID)")
        assert [l.split()[1] for l in lines] == ["2", "3"]
        _, st = c.tagged("FETCH 1:4294967295 (FLAGS)")
        assert st.startswith("BAD"), st
        _, st = c.tagged("FETCH 0 (FLAGS)")
        assert st.startswith("BAD"), st
        # "$" with numbers is BAD; alone it is SEARCHRES's saved result,
        # empty before any SAVE (test_imap_rev2.py)
        _, st = c.tagged("FETCH 1,$ (FLAGS)")
        assert st.startswith("BAD"), st


def test_mailboxes(imap):
    """CREATE, LIST with special-use and children, RENAME, DELETE,
    SUBSCRIBE/LSUB, STATUS, and names in modified UTF-7."""
    user = imap.user()
    m = imap.imaplib(user)
    typ, data = m.list()
    assert typ == "OK"
    names = {d.decode().rsplit(" ", 1)[1].strip('"'): d.decode()
             for d in data}
    assert "INBOX" in names
    assert any("\\Sent" in v for v in names.values()), names
    assert any("\\Trash" in v for v in names.values()), names
    assert m.create("Work/Projects")[0] == "OK"
    assert m.create("Caf&AOk-")[0] == "OK"
    typ, data = m.list('""', "Work/%")
    assert typ == "OK" and len(data) == 1 and b"Work/Projects" in data[0]
    typ, data = m.list('""', "Work")
    assert b"\\HasChildren" in data[0], data
    typ, data = m.list('""', "Caf*")
    assert data == [b'(\\HasNoChildren) "/" "Caf&AOk-"'], data
    assert m.rename("Work/Projects", "Work/Old")[0] == "OK"
    assert m.subscribe("Work/Old")[0] == "OK"
    typ, data = m.lsub('""', "*")
    assert any(b"Work/Old" in d for d in data), data
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
                         "SIZE)")
    assert typ == "OK" and b"MESSAGES 0" in data[0], data
    assert m.delete("Work/Old")[0] == "OK"
    typ, data = m.delete("INBOX")
    assert typ == "NO"
    # names that would leave the user's tree
    for bad in ("../x", "a/../../b", "/etc", "a//b", "&Jjo"):
        typ, data = m.create('"%s"' % bad)
        assert typ == "NO", (bad, data)
    typ, data = m.select("Nowhere")
    assert typ == "NO"
    m.logout()


def test_select_fetch_store_expunge(imap):
    user = imap.user()
    imap.deliver(user, message("one"), message("two", body="x" * 100),
                 message("three"))
    with imap.client() as c:
        c.login(user)
        lines = c.ok("SELECT INBOX")
        assert "* 3 EXISTS" in lines
        assert any(l.startswith("* OK [UIDVALIDITY ") for l in lines)
        assert any(l.startswith("* OK [UIDNEXT 4]") for l in lines)
        assert any(l.startswith("* OK [PERMANENTFLAGS (") for l in lines)
        lines = c.ok("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)")
        assert len(lines) == 3 and "RFC822.SIZE" in lines[0], lines
        lines = c.ok("STORE 1 +FLAGS (\\Seen $Label1)")
        assert fetch_flags(lines) == {1: {"\\Seen", "$Label1"}}, lines
        lines = c.ok("STORE 1 -FLAGS.SILENT ($Label1)")
        assert lines == []
        lines = c.ok("UID STORE 2 FLAGS (\\Deleted)")
        assert "UID 2" in lines[0] and "\\Deleted" in lines[0], lines
        lines = c.ok("EXPUNGE")
        assert lines == ["* 2 EXPUNGE"], lines
        lines = c.ok("FETCH 1:* (UID FLAGS)")
        assert [l.split()[4] for l in lines] == ["1", "3"], lines
        _, st = c.tagged("STORE 1 +FLAGS (\\Bogus)")
        assert st.startswith("BAD")
        c.ok("UNSELECT")
        lines = c.ok("EXAMINE INBOX")
        assert "* 2 EXISTS" in lines
        _, st = c.tagged("STORE 1 +FLAGS (\\Flagged)")
        assert st.startswith("NO [READ-ONLY]"), st
        c.ok("CLOSE")


def test_fetch_bodies(imap):
    user = imap.user()
    msg = message("bodies", body="line one\nline two\n")
    imap.deliver(user, msg)
    m = imap.imaplib(user)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK"
    assert data[0][1] == msg.replace(b"\n", b"\r\n")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: bodies\r\n\r\n", data
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0], data
    typ, data = m.fetch("1", "(BODY[TEXT]<5.3>)")
    assert data[0][1] == b"one", data
    typ, data = m.fetch("1", "(ENVELOPE BODYSTRUCTURE RFC822.SIZE)")
    assert typ == "OK" and b"ENVELOPE (" in data[0], data
    assert b'"bodies"' in data[0]
    assert b'BODYSTRUCTURE ("text" "plain"' in data[0] or \
        b'BODYSTRUCTURE ("TEXT" "PLAIN"' in data[0], data
    typ, data = m.uid("FETCH", "1", "(RFC822.HEADER)")
    assert typ == "OK" and data[0][1].startswith(b"From: "), data
    m.logout()


def test_append_copy_move(imap):
    user = imap.user()
    m = imap.imaplib(user)
    msg = message("appended").replace(b"\n", b"\r\n")
    typ, data = m.append("INBOX", "(\\Flagged)",
                         imaplib.Time2Internaldate(1600000000), msg)
    assert typ == "OK" and b"[APPENDUID " in data[0], data
    typ, data = m.append("Nowhere", None, None, msg)
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data
    m.select("INBOX")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"\\Flagged" in data[0][0] and b"13-Sep-2020" in data[0][0], data
    assert data[0][1] == msg
    m.create("Keep")
    typ, data = m.copy("1", "Keep")
    assert typ == "OK" and b"[COPYUID " in data[0], data
    typ, data = m.copy("1", "Nowhere")
    assert typ == "NO" and b"[TRYCREATE]" in data[0], data
    typ, data = m.uid("MOVE", "1", "Archive")
    assert typ == "OK", data
    typ, data = m.status("Keep", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    typ, data = m.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    typ, data = m.select("INBOX")
    assert data == [b"0"], data
    with pytest.raises(imaplib.IMAP4.error):
        m.copy("1", "Keep")		# no message 1 any more: BAD
    m.logout()


def test_disconnect_during_append_stores_nothing(imap):
    user = imap.user()
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {100}\r\n")
        assert c.readline().startswith("+")
        c.send(b"From: x\r\n\r\npartial")
    with imap.client() as c:
        c.login(user)
        lines = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in lines[0], lines
        # the whole literal but not the line that ends the command
        c.send(b"a APPEND INBOX {5}\r\nhello")
        assert c.readline().startswith("+")
    with imap.client() as c:
        c.login(user)
        lines = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in lines[0], lines


def test_search(imap):
    user = imap.user()
    imap.deliver(user, message("apples"), message("pears", body="ripe\n"),
                 message("plums", extra="X-Tag: blue\n"))
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        c.ok("STORE 2 +FLAGS (\\Seen)")
        assert c.ok("SEARCH ALL")[0] == "* SEARCH 1 2 3"
        assert c.ok("SEARCH SEEN")[0] == "* SEARCH 2"
        assert c.ok("SEARCH UNSEEN")[0] == "* SEARCH 1 3"
        assert c.ok("SEARCH SUBJECT PEARS")[0] == "* SEARCH 2"
        assert c.ok("SEARCH BODY ripe")[0] == "* SEARCH 2"
        assert c.ok('SEARCH HEADER X-Tag "blue"')[0] == "* SEARCH 3"
        assert c.ok("SEARCH OR 1 3")[0] == "* SEARCH 1 3"
        assert c.ok("SEARCH NOT (SEEN)")[0] == "* SEARCH 1 3"
        assert c.ok("UID SEARCH UID 2:*")[0] == "* SEARCH 2 3"
        assert c.ok("SEARCH CHARSET UTF-8 TEXT apples")[0] == "* SEARCH 1"
        assert c.ok("SEARCH SINCE 1-Jan-2000 LARGER 10")[0] == \
            "* SEARCH 1 2 3"
        _, st = c.tagged("SEARCH CHARSET KOI8-R TEXT x")
        assert st.startswith("NO [BADCHARSET"), st
        _, st = c.tagged("SEARCH FROBNICATE")
        assert st.startswith("BAD"), st


def test_two_sessions_and_idle(imap):
    """Another session's flag change and expunge reach this one at its
    next command (no EXPUNGE during FETCH); IDLE is woken by a delivery
    from another process within a second."""
    user = imap.user()
    imap.deliver(user, message("a"), message("b"))
    with imap.client() as one, imap.client() as two:
        one.login(user)
        two.login(user)
        one.ok("SELECT INBOX")
        two.ok("SELECT INBOX")
        two.ok("STORE 1 +FLAGS (\\Flagged)")
        lines = one.ok("NOOP")
        assert fetch_flags(lines) == {1: {"\\Flagged"}}, lines
        two.ok("STORE 1 +FLAGS (\\Deleted)")
        two.ok("EXPUNGE")
        lines = one.ok("FETCH 1:* (UID)")
        assert not any("EXPUNGE" in l for l in lines), lines
        lines = one.ok("NOOP")
        assert "* 1 EXPUNGE" in lines, lines
        one.send(b"i IDLE\r\n")
        assert one.readline().startswith("+ ")
        start = time.monotonic()
        imap.deliver(user, message("c"))
        line = one.readline(timeout=5)
        assert line == "* 2 EXISTS", line
        assert time.monotonic() - start < 2.5
        one.send(b"DONE\r\n")
        assert one.readline().startswith("i OK")


def test_starttls_and_imaps(imap):
    with imap.client() as c:
        c.send(b"a STARTTLS\r\n")
        assert c.readline().startswith("a OK")
        c.starttls(send_command=False)
        lines = c.ok("CAPABILITY")
        assert "STARTTLS" not in lines[0]
        c.login(imap.user())
    m = imaplib.IMAP4_SSL("127.0.0.1", imap.imaps_port,
                          ssl_context=client_tls_context())
    m.login(imap.user(), PASSWORD)
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_id_namespace_enable(imap):
    with imap.client() as c:
        lines = c.ok('ID ("name" "test")')
        assert lines[0].startswith('* ID ("name" "facteur"'), lines
        c.login(imap.user())
        assert c.ok("NAMESPACE") == ['* NAMESPACE (("" "/")) NIL NIL']
        assert c.ok("ENABLE X-UNKNOWN") == ["* ENABLED"]


def test_fetch_sections_and_binary(imap):
    """HEADER.FIELDS.NOT, MIME and part numbers of a multipart message,
    BINARY[] decoding base64 and BINARY.SIZE announcing its size."""
    user = imap.user()
    msg = (b"From: a@example.net\nSubject: parts\nX-Drop: yes\n"
           b"MIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=b1\n\n"
           b"--b1\nContent-Type: text/plain\n\nfirst part\n"
           b"--b1\nContent-Type: application/octet-stream\n"
           b"Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n"
           b"--b1--\n")
    imap.deliver(user, msg)
    m = imap.imaplib(user)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (X-DROP "
                        "CONTENT-TYPE MIME-VERSION)])")
    assert data[0][1] == b"From: a@example.net\r\nSubject: parts\r\n\r\n", \
        data
    typ, data = m.fetch("1", "(BODY.PEEK[1])")
    assert data[0][1] == b"first part", data
    typ, data = m.fetch("1", "(BODY.PEEK[2.MIME])")
    assert data[0][1].startswith(b"Content-Type: application/octet-stream"
                                 b"\r\n"), data
    typ, data = m.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    assert typ == "OK" and data[0][1] == b"hello world", data
    assert b"BINARY.SIZE[2] 11" in data[1], data
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0], data
    m.logout()


def test_search_dates_keywords(imap):
    user = imap.user()
    imap.deliver(user, message("old"), message(
        "new", extra="").replace(b"Mon, 7 Feb 1994", b"Tue, 1 Mar 2022"))
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS ($Work)")
        assert c.ok("SEARCH KEYWORD $Work")[0] == "* SEARCH 1"
        assert c.ok("SEARCH UNKEYWORD $Work")[0] == "* SEARCH 2"
        assert c.ok("SEARCH SENTBEFORE 1-Jan-2000")[0] == "* SEARCH 1"
        assert c.ok("SEARCH SENTSINCE 1-Jan-2000")[0] == "* SEARCH 2"
        assert c.ok("SEARCH SENTON 7-Feb-1994")[0] == "* SEARCH 1"
        assert c.ok("SEARCH FROM sender@example.net")[0] == \
            "* SEARCH 1 2"
        assert c.ok("SEARCH BEFORE 1-Jan-2000")[0] == "* SEARCH"
        assert c.ok("SEARCH NEW")[0] == "* SEARCH"
        _, st = c.tagged("SEARCH SINCE 32-Foo-2000")
        assert st.startswith("BAD"), st


def test_line_too_long_and_errors(imap):
    with imap.client() as c:
        c.send(b"a NOOP " + b"x" * 70000 + b"\r\n")
        assert c.readline() == "* BAD Line too long"
        c.ok("NOOP")


def test_append_nonsync_literal(imap):
    """LITERAL+ for the message: no "+" wait, APPENDUID at the end."""
    user = imap.user()
    msg = message("plus").replace(b"\n", b"\r\n")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX (\\Seen) {%d+}\r\n" % len(msg) + msg + b"\r\n")
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
        lines = c.ok("STATUS INBOX (MESSAGES UNSEEN)")
        assert "MESSAGES 1 UNSEEN 0" in lines[0], lines


def test_list_extended_and_status(imap):
    """LIST-EXTENDED selection and return options (RFC 5258) and
    LIST-STATUS (RFC 5819)."""
    user = imap.user()
    imap.deliver(user, message("x"), message("y"))
    with imap.client() as c:
        c.login(user)
        c.ok("CREATE Lists/A")
        c.ok("CREATE Lists/B")
        c.ok("SUBSCRIBE Lists/B")
        c.ok("SUBSCRIBE Gone")
        lines = c.ok('LIST (SUBSCRIBED) "" "*"')
        assert '* LIST (\\NonExistent \\Subscribed) "/" "Gone"' in lines, \
            lines
        assert '* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/B"' in \
            lines, lines
        assert not any("Lists/A" in l for l in lines), lines
        lines = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        assert any(l.endswith('"Lists" ("CHILDINFO" ("SUBSCRIBED"))')
                   for l in lines), lines
        lines = c.ok('LIST (SPECIAL-USE) "" "*"')
        assert lines and all("\\Sent" in l or "\\Trash" in l or
                             "\\Drafts" in l or "\\Junk" in l or
                             "\\Archive" in l for l in lines), lines
        lines = c.ok('LIST "" ("INBOX" "Lists/*") RETURN (SUBSCRIBED '
                     'STATUS (MESSAGES UNSEEN))')
        assert '* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)' in lines, lines
        assert '* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/B"' in \
            lines, lines
        assert '* STATUS "Lists/A" (MESSAGES 0 UNSEEN 0)' in lines, lines
        _, st = c.tagged('LIST (RECURSIVEMATCH) "" "*"')
        assert st.startswith("BAD"), st
        _, st = c.tagged('LIST "" "*" RETURN (BOGUS)')
        assert st.startswith("BAD"), st
        caps = c.ok("CAPABILITY")[0].split()
        assert "LIST-EXTENDED" in caps and "LIST-STATUS" in caps


def test_esearch(imap):
    """SEARCH RETURN (RFC 4731): MIN, MAX, COUNT, ALL as a set, the tag
    in the answer, UID for UID SEARCH, and nothing for no match."""
    user = imap.user()
    imap.deliver(user, *[message("m%d" % i) for i in range(1, 7)])
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        c.ok("STORE 2,5 +FLAGS (\\Seen)")
        lines, st = c.tagged("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
        assert st.startswith("OK")
        tag = st and lines[0].split('"')[1]
        assert lines[0] == ('* ESEARCH (TAG "%s") MIN 1 MAX 6 COUNT 4 '
                            'ALL 1,3:4,6' % tag), lines
        lines = c.ok("UID SEARCH RETURN () SEEN")
        assert lines[0].endswith(") UID ALL 2,5"), lines
        lines = c.ok("SEARCH RETURN (COUNT) CHARSET UTF-8 SUBJECT nothing")
        assert lines[0].endswith(") COUNT 0"), lines
        _, st = c.tagged("SEARCH RETURN (SAVE FOO) ALL")
        assert st.startswith("BAD"), st
        assert "ESEARCH" in c.ok("CAPABILITY")[0].split()


def test_condstore(imap):
    """CONDSTORE (RFC 7162): HIGHESTMODSEQ in SELECT and STATUS, MODSEQ
    in FETCH once enabled, CHANGEDSINCE, STORE UNCHANGEDSINCE with
    [MODIFIED], SEARCH MODSEQ."""
    import re
    user = imap.user()
    imap.deliver(user, message("a"), message("b"), message("c"))
    with imap.client() as c, imap.client() as other:
        c.login(user)
        other.login(user)
        assert c.ok("ENABLE CONDSTORE") == ["* ENABLED CONDSTORE"]
        lines = c.ok("SELECT INBOX")
        hms = [l for l in lines if "[HIGHESTMODSEQ " in l]
        assert hms, lines
        high = int(re.search(r"HIGHESTMODSEQ (\d+)", hms[0]).group(1))
        lines = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
        assert "HIGHESTMODSEQ %d" % high in lines[0], lines
        lines = c.ok("FETCH 1:* (FLAGS)")
        mods = [int(re.search(r"MODSEQ \((\d+)\)", l).group(1))
                for l in lines]
        assert len(mods) == 3 and max(mods) <= high, lines
        lines = c.ok("STORE 2 +FLAGS (\\Flagged)")
        m2 = int(re.search(r"MODSEQ \((\d+)\)", lines[0]).group(1))
        assert m2 > high, lines
        lines = c.ok("FETCH 1:* (UID) (CHANGEDSINCE %d)" % high)
        assert len(lines) == 1 and lines[0].startswith("* 2 FETCH"), lines
        assert c.ok("SEARCH MODSEQ %d" % m2)[0] == \
            "* SEARCH 2 (MODSEQ %d)" % m2
        other.ok("SELECT INBOX")
        other.ok("STORE 3 +FLAGS (\\Seen)")
        lines, st = c.tagged("STORE 1,3 (UNCHANGEDSINCE %d) +FLAGS "
                             "(\\Answered)" % high)
        assert st.startswith("OK [MODIFIED 3]"), (lines, st)
        assert any(l.startswith("* 1 FETCH") and "\\Answered" in l
                   for l in lines), lines
        # the other session's change, with its MODSEQ
        assert any(l.startswith("* 3 FETCH") and "MODSEQ" in l
                   and "\\Seen" in l for l in lines), lines
        assert "CONDSTORE" in c.ok("CAPABILITY")[0].split()


def test_quota(imap):
    """QUOTA (RFC 9208): the one root "" with the user's limits; a user
    without limits has no root; SETQUOTA is refused; STATUS
    DELETED-STORAGE counts \\Deleted messages in KiB."""
    user = imap.quota_user()
    imap.deliver(user, message("q1", body="x" * 3000 + "\n"),
                 message("q2"))
    with imap.client() as c:
        c.login(user)
        lines = c.ok("GETQUOTAROOT INBOX")
        assert lines[0] == '* QUOTAROOT "INBOX" ""', lines
        assert lines[1].startswith('* QUOTA "" (STORAGE '), lines
        assert lines[1].endswith(" 1024 MESSAGE 2 5)"), lines
        assert c.ok('GETQUOTA ""') == lines[1:]
        _, st = c.tagged('SETQUOTA "" (STORAGE 10)')
        assert st.startswith("NO"), st
        c.ok("SELECT INBOX")
        c.ok("STORE 1 +FLAGS (\\Deleted)")
        lines = c.ok("STATUS INBOX (DELETED DELETED-STORAGE)")
        assert "DELETED 1 DELETED-STORAGE 4)" in lines[0], lines
    with imap.client() as c:
        c.login(imap.user())
        assert c.ok("GETQUOTAROOT INBOX") == ['* QUOTAROOT "INBOX"']
        _, st = c.tagged('GETQUOTA ""')
        assert st.startswith("NO"), st
        caps = c.ok("CAPABILITY")[0].split()
        assert "QUOTA" in caps and "QUOTA=RES-STORAGE" in caps


def test_append_refused_nonsync(imap):
    """A non-synchronising APPEND that cannot be stored: the message is
    read and dropped, and the answer at its end says why."""
    user = imap.user()
    msg = message("lost").replace(b"\n", b"\r\n")
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND Nowhere {%d+}\r\n" % len(msg) + msg + b"\r\n")
        line = c.readline()
        assert line.startswith("a NO [TRYCREATE]"), line
        c.send(b"b APPEND INBOX (\\Bogus) {%d+}\r\n" % len(msg) + msg +
               b"\r\n")
        line = c.readline()
        assert line.startswith("b NO [CLIENTBUG] Invalid flag"), line
        lines = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in lines[0], lines
        _, st = c.tagged('LIST "" (' + " ".join(['"%s"' % ("*" * 100)] * 20)
                         + ")")
        assert st.startswith("BAD"), st


def test_new_keyword_announced(imap):
    """A keyword new to the mailbox is announced with FLAGS and
    PERMANENTFLAGS before the FETCH that shows it, to this session and
    to another one at its next command."""
    user = imap.user()
    imap.deliver(user, message("k"))
    with imap.client() as one, imap.client() as two:
        one.login(user)
        two.login(user)
        one.ok("SELECT INBOX")
        two.ok("SELECT INBOX")
        lines = one.ok("STORE 1 +FLAGS ($Fresh)")
        assert lines[0].startswith("* FLAGS (") and "$Fresh" in lines[0], \
            lines
        assert lines[1].startswith("* OK [PERMANENTFLAGS (") and \
            "$Fresh" in lines[1], lines
        assert lines[2].startswith("* 1 FETCH"), lines
        lines = two.ok("NOOP")
        assert lines[0].startswith("* FLAGS (") and "$Fresh" in lines[0], \
            lines
        assert fetch_flags(lines) == {1: {"$Fresh"}}, lines
