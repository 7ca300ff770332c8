"""IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855) and SEARCHRES (RFC 5182)
against a running facteurd.

A client that sends ENABLE IMAP4rev2 gets the rev2 answers: no RECENT,
no [UNSEEN n] and a LIST line at SELECT, SEARCH as ESEARCH, mailbox
names in UTF-8. ENABLE UTF8=ACCEPT gives the UTF-8 names alone. A client
that enables nothing sees what IMAP4rev1 clients always saw; the checks
at the end say so. The saved search result ("$") works for both.
"""

import re

import pytest

from test_imap_support import message, module_imap_server

CAFE = "Caf\u00e9"
CAFE_MUTF7 = "Caf&AOk-"


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


def utf8(line):
    """A line read as latin-1 (the raw client's way) back to UTF-8."""
    return line.encode("latin-1").decode("utf-8")


def session(imap, enable=None, deliver=0, flagged=()):
    """A logged-in raw client of a new user with deliver messages in
    INBOX (\\Flagged on the seqs in flagged), ENABLE enable sent."""
    user = imap.user()
    for i in range(deliver):
        imap.deliver(user, message("m%d" % (i + 1)))
    c = imap.client()
    c.login(user)
    if enable is not None:
        c.ok("ENABLE " + enable)
    if flagged:
        c.ok("SELECT INBOX")
        c.ok("STORE %s +FLAGS.SILENT (\\Flagged)"
             % ",".join(str(s) for s in flagged))
        c.ok("UNSELECT")
    return c, user


def esearch(lines):
    """The ESEARCH lines, and no SEARCH line."""
    assert not [l for l in lines if l.startswith("* SEARCH")], lines
    return [l for l in lines if l.startswith("* ESEARCH")]


def fetched(lines):
    return [int(m.group(1)) for m in
            (re.match(r"\* (\d+) FETCH", l) for l in lines) if m]


# ---------------------------------------------------------------------
# CAPABILITY and ENABLE

def test_capability_lists_rev2_utf8_searchres(imap):
    c = imap.client()
    lines = c.ok("CAPABILITY")
    caps = lines[0].split()[2:]
    for cap in ("IMAP4rev1", "IMAP4rev2", "UTF8=ACCEPT", "SEARCHRES",
                "ESEARCH", "ENABLE"):
        assert cap in caps, caps
    c.close()


def test_enable_answers_enabled(imap):
    c, _ = session(imap)
    assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    # enabled already: listed no more (RFC 5161 3), and UTF8=ACCEPT
    # came with IMAP4rev2
    assert c.ok("ENABLE IMAP4rev2 UTF8=ACCEPT") == ["* ENABLED"]
    c.close()

    c, _ = session(imap)
    assert c.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    assert c.ok("ENABLE X-UNKNOWN IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    c.close()

    c, _ = session(imap)
    assert c.ok("ENABLE utf8=accept imap4REV2 CONDSTORE") == [
        "* ENABLED UTF8=ACCEPT IMAP4rev2 CONDSTORE"]
    c.close()


# ---------------------------------------------------------------------
# SELECT, SEARCH, FETCH in rev2

def test_rev2_select(imap):
    c, _ = session(imap, "IMAP4rev2", deliver=3)
    c.ok("CREATE Other")
    lines = c.ok("SELECT INBOX")
    assert "* 3 EXISTS" in lines
    assert not [l for l in lines if "RECENT" in l], lines
    assert not [l for l in lines if "UNSEEN" in l], lines
    assert [l for l in lines if l.startswith("* LIST ")] == [
        '* LIST (\\HasNoChildren) "/" "INBOX"'], lines
    assert [l for l in lines if "[UIDVALIDITY " in l]
    # a SELECT replacing a mailbox says [CLOSED] before the new one
    lines, status = c.tagged("EXAMINE Other")
    assert status.startswith("OK [READ-ONLY]")
    assert lines[0].startswith("* OK [CLOSED]"), lines
    assert '* LIST (\\HasNoChildren) "/" "Other"' in lines
    c.ok("SELECT INBOX")
    lines = c.ok("FETCH 1:* (FLAGS)")
    assert len(lines) == 3 and not [l for l in lines if "\\Recent" in l]
    c.close()


def test_rev2_select_children_and_utf8_name(imap):
    c, _ = session(imap, "IMAP4rev2")
    c.ok('CREATE "%s/Sub"' % CAFE)
    lines = c.ok('SELECT "%s"' % CAFE)
    assert [utf8(l) for l in lines if l.startswith("* LIST ")] == [
        '* LIST (\\HasChildren) "/" "%s"' % CAFE], lines
    c.close()


def test_rev2_search_is_esearch(imap):
    c, _ = session(imap, "IMAP4rev2", deliver=4, flagged=(2, 3))
    c.ok("SELECT INBOX")
    # the tag correlator names the command
    c.send(b"s1 SEARCH FLAGGED\r\n")
    lines, status = c.until("s1")
    assert status.startswith("OK")
    assert esearch(lines) == ['* ESEARCH (TAG "s1") ALL 2:3']
    c.send(b"s2 UID SEARCH FLAGGED\r\n")
    lines, _ = c.until("s2")
    uids = c.ok("FETCH 2:3 (UID)")
    u = [int(re.search(r"UID (\d+)", l).group(1)) for l in uids]
    assert esearch(lines) == ['* ESEARCH (TAG "s2") UID ALL %d:%d'
                              % (u[0], u[1])]
    # nothing found: the correlator alone
    c.send(b"s3 SEARCH DELETED\r\n")
    lines, _ = c.until("s3")
    assert esearch(lines) == ['* ESEARCH (TAG "s3")']
    c.send(b"s4 UID SEARCH DELETED\r\n")
    lines, _ = c.until("s4")
    assert esearch(lines) == ['* ESEARCH (TAG "s4") UID']
    # RETURN options still choose
    c.send(b"s5 SEARCH RETURN (COUNT MIN) ALL\r\n")
    lines, _ = c.until("s5")
    assert esearch(lines) == ['* ESEARCH (TAG "s5") MIN 1 COUNT 4']
    c.close()


def test_rev2_status_items(imap):
    c, _ = session(imap, "IMAP4rev2", deliver=2)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("UNSELECT")
    lines = c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
                 "DELETED SIZE)")
    m = re.match(r"\* STATUS \"INBOX\" \(MESSAGES 2 UIDNEXT \d+ UIDVALIDITY "
                 r"\d+ UNSEEN 2 DELETED 1 SIZE (\d+)\)$", lines[0])
    assert m, lines
    assert int(m.group(1)) > 100
    c.close()


def test_rev2_lsub_still_answers(imap):
    # RFC 9051 deprecates LSUB for LIST (SUBSCRIBED) without taking it
    # from servers that serve rev1 clients too: it answers, in UTF-8
    c, _ = session(imap, "IMAP4rev2")
    c.ok('CREATE "%s"' % CAFE)
    c.ok('SUBSCRIBE "%s"' % CAFE)
    lines = c.ok('LSUB "" "Caf*"')
    assert [utf8(l) for l in lines] == ['* LSUB () "/" "%s"' % CAFE]
    lines = c.ok('LIST (SUBSCRIBED) "" "Caf*"')
    assert [utf8(l) for l in lines] == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "%s"' % CAFE]
    c.close()


def test_rev2_delete_haschildren(imap):
    c, user = session(imap, "IMAP4rev2")
    c.ok("CREATE a/b")
    c.ok("DELETE a")        # a selectable parent goes; its level stays
    lines = c.ok('LIST "" "a*"')
    assert '* LIST (\\Noselect \\HasChildren) "/" "a"' in lines, lines
    _, status = c.tagged("DELETE a")
    assert status.startswith("NO [HASCHILDREN]"), status
    _, status = c.tagged("DELETE nosuch")
    assert status.startswith("NO [NONEXISTENT]"), status
    c.close()
    # IMAP4rev1 has no HASCHILDREN: the answer it always had
    c = imap.client()
    c.login(user)
    _, status = c.tagged("DELETE a")
    assert status.startswith("NO [NONEXISTENT]"), status
    c.close()


# ---------------------------------------------------------------------
# Mailbox names in UTF-8

@pytest.mark.parametrize("enable", ["UTF8=ACCEPT", "IMAP4rev2"])
def test_utf8_names(imap, enable):
    c, user = session(imap, enable)
    c.ok('CREATE "%s"' % CAFE)
    lines = c.ok('LIST "" "*"')
    assert '* LIST (\\HasNoChildren) "/" "%s"' % CAFE in [
        utf8(l) for l in lines], lines
    # modified UTF-7 is no longer decoded: "&AOk-" is a name of its own
    c.ok('CREATE "%s"' % CAFE_MUTF7)
    lines = [utf8(l) for l in c.ok('LIST "" "Caf*"')]
    assert sorted(lines) == sorted([
        '* LIST (\\HasNoChildren) "/" "%s"' % CAFE,
        '* LIST (\\HasNoChildren) "/" "%s"' % CAFE_MUTF7]), lines
    lines = c.ok('STATUS "%s" (MESSAGES)' % CAFE)
    assert utf8(lines[0]) == '* STATUS "%s" (MESSAGES 0)' % CAFE
    # a literal holding UTF-8 is a name too
    raw = "Bo\u00eete".encode()
    c.send(b"l1 CREATE {%d+}\r\n" % len(raw) + raw + b"\r\n")
    _, status = c.until("l1")
    assert status.startswith("OK"), status
    # invalid UTF-8: refused, nothing created
    for bad in (b"\xc3(", b"\xff", b"\xed\xa0\x80", b"\xc0\xaf"):
        c.send(b'b1 CREATE "x' + bad + b'"\r\n')
        _, status = c.until("b1")
        assert status.startswith("NO [CANNOT]"), (bad, status)
        c.send(b'b2 SELECT "x' + bad + b'"\r\n')
        _, status = c.until("b2")
        assert status.startswith("NO [CANNOT]"), (bad, status)
    c.send(b'b3 LIST "" "x\xff*"\r\n')
    _, status = c.until("b3")
    assert status.startswith("BAD"), status
    c.close()

    # a client that enables nothing sees the same names in modified
    # UTF-7, and the one it created as "&AOk-" is the same as the other
    c = imap.client()
    c.login(user)
    lines = c.ok('LIST "" "Caf*"')
    assert sorted(lines) == sorted([
        '* LIST (\\HasNoChildren) "/" "%s"' % CAFE_MUTF7,
        '* LIST (\\HasNoChildren) "/" "Caf&-AOk-"']), lines
    c.close()


# ---------------------------------------------------------------------
# SEARCHRES

def test_searchres_save_and_use(imap):
    c, _ = session(imap, None, deliver=5, flagged=(2, 4))
    c.ok("CREATE Copies")
    c.ok("SELECT INBOX")
    # empty before any SAVE: valid, matching nothing
    assert c.ok("FETCH $ (UID)") == []
    assert c.ok("SEARCH $") == ["* SEARCH"]
    # SAVE alone: no ESEARCH, no SEARCH
    lines, status = c.tagged("SEARCH RETURN (SAVE) FLAGGED")
    assert lines == [] and status.startswith("OK"), (lines, status)
    assert fetched(c.ok("FETCH $ (FLAGS)")) == [2, 4]
    uids = [int(re.search(r"UID (\d+)", l).group(1))
            for l in c.ok("FETCH 1:* (UID)")]
    lines = c.ok("UID FETCH $ (FLAGS)")
    assert [int(re.search(r"UID (\d+)", l).group(1)) for l in lines] == [
        uids[1], uids[3]]
    assert c.ok("SEARCH $") == ["* SEARCH 2 4"]
    assert c.ok("SEARCH UID $") == ["* SEARCH 2 4"]
    assert c.ok("UID SEARCH NOT $") == ["* SEARCH %d %d %d" % (
        uids[0], uids[2], uids[4])]
    lines = c.ok("STORE $ +FLAGS (\\Seen)")
    assert fetched(lines) == [2, 4]
    _, status = c.tagged("COPY $ Copies")
    assert status.startswith("OK [COPYUID ") and " %d,%d " % (
        uids[1], uids[3]) in status, status
    # the result is messages, not numbers: an expunge keeps it right
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXPUNGE")
    assert fetched(c.ok("FETCH $ (UID)")) == [1, 3]
    # "$" with numbers is refused
    _, status = c.tagged("FETCH 1,$ (UID)")
    assert status.startswith("BAD"), status
    c.close()


def test_searchres_min_max_count(imap):
    c, _ = session(imap, None, deliver=5, flagged=(2, 3, 5))
    c.ok("SELECT INBOX")
    c.send(b"x1 SEARCH RETURN (SAVE MIN) FLAGGED\r\n")
    lines, _ = c.until("x1")
    assert lines == ['* ESEARCH (TAG "x1") MIN 2']
    assert fetched(c.ok("FETCH $ (UID)")) == [2]
    c.send(b"x2 SEARCH RETURN (MAX SAVE) FLAGGED\r\n")
    lines, _ = c.until("x2")
    assert lines == ['* ESEARCH (TAG "x2") MAX 5']
    assert fetched(c.ok("FETCH $ (UID)")) == [5]
    c.ok("SEARCH RETURN (SAVE MIN MAX) FLAGGED")
    assert fetched(c.ok("FETCH $ (UID)")) == [2, 5]
    c.send(b"x3 SEARCH RETURN (SAVE COUNT MIN) FLAGGED\r\n")
    lines, _ = c.until("x3")
    assert lines == ['* ESEARCH (TAG "x3") MIN 2 COUNT 3']
    assert fetched(c.ok("FETCH $ (UID)")) == [2, 3, 5]
    c.ok("UID SEARCH RETURN (SAVE ALL) 1:2")
    assert fetched(c.ok("FETCH $ (UID)")) == [1, 2]
    # a search on "$" saving its result: the old result is the input
    c.ok("SEARCH RETURN (SAVE) $ FLAGGED")
    assert fetched(c.ok("FETCH $ (UID)")) == [2]
    c.close()


def test_searchres_errors_and_reset(imap):
    c, _ = session(imap, "IMAP4rev2", deliver=3, flagged=(1, 3))
    c.ok("CREATE Moved")
    c.ok("SELECT INBOX")
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    assert fetched(c.ok("FETCH $ (UID)")) == [1, 3]
    # a BAD leaves "$" as it was
    _, status = c.tagged("SEARCH RETURN (SAVE) NOSUCHKEY")
    assert status.startswith("BAD"), status
    assert fetched(c.ok("FETCH $ (UID)")) == [1, 3]
    # a NO empties it
    _, status = c.tagged("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL")
    assert status.startswith("NO [BADCHARSET"), status
    assert c.ok("FETCH $ (UID)") == []
    # an empty saved result: commands succeed on nothing
    c.ok("SEARCH RETURN (SAVE) DELETED")
    assert c.ok("STORE $ +FLAGS (\\Seen)") == []
    _, status = c.tagged("COPY $ Moved")
    assert status.startswith("OK"), status
    # SELECT empties it, even of the same mailbox
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    c.ok("SELECT INBOX")
    assert c.ok("FETCH $ (UID)") == []
    # MOVE and UID EXPUNGE take it too
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    lines = c.ok("MOVE $ Moved")
    assert len([l for l in lines if l.endswith(" EXPUNGE")]) == 2, lines
    c.ok("SELECT Moved")
    c.ok("SEARCH RETURN (SAVE) ALL")
    c.ok("STORE $ +FLAGS.SILENT (\\Deleted)")
    lines = c.ok("UID EXPUNGE $")
    assert len([l for l in lines if l.endswith(" EXPUNGE")]) == 2, lines
    c.close()


def test_searchres_in_sort(imap):
    c, _ = session(imap, None, deliver=4, flagged=(1, 4))
    c.ok("SELECT INBOX")
    c.ok("SEARCH RETURN (SAVE) FLAGGED")
    # subjects m1..m4 differ; arrival times may tie within a second,
    # and ties keep mailbox order (RFC 5256), so sort on the subject
    assert c.ok("SORT (REVERSE SUBJECT) UTF-8 $") == ["* SORT 4 1"]
    c.close()


# ---------------------------------------------------------------------
# APPEND with UTF-8

UTF8_MSG = ("From: Ren\u00e9e <renee@example.org>\r\n"
            "To: someone@example.org\r\n"
            "Subject: Caf\u00e9 cr\u00e8me\r\n"
            "\r\n"
            "Bonjour.\r\n").encode()


def append(c, tag, head, msg, tail=b""):
    c.send(b"%s APPEND %s{%d+}\r\n" % (tag, head, len(msg)) + msg + tail
           + b"\r\n")
    return c.until(tag.decode())


@pytest.mark.parametrize("enable", ["UTF8=ACCEPT", "IMAP4rev2"])
def test_append_utf8_data(imap, enable):
    c, _ = session(imap, enable)
    _, status = append(c, b"a1", b"INBOX UTF8 (~", UTF8_MSG, b")")
    assert status.startswith("OK [APPENDUID "), status
    # a plain literal with 8-bit header fields is fine once enabled
    _, status = append(c, b"a2", b"INBOX (\\Seen) ", UTF8_MSG)
    assert status.startswith("OK [APPENDUID "), status
    c.ok("SELECT INBOX")
    # both stored as sent, byte for byte
    for seq in (1, 2):
        lines = c.ok("FETCH %d (RFC822.SIZE BODY.PEEK[])" % seq)
        assert lines[0].startswith("* %d FETCH (RFC822.SIZE %d BODY[] {%d}"
                                   % (seq, len(UTF8_MSG), len(UTF8_MSG)))
        got = "\r\n".join(lines[1:-1]).encode("latin-1") + b"\r\n"
        assert got == UTF8_MSG, got
    # UTF8 ( without its ")" is refused, nothing stored
    _, status = append(c, b"a3", b"INBOX UTF8 (~", UTF8_MSG, b"")
    assert status.startswith("BAD"), status
    _, status = append(c, b"a4", b"INBOX UTF8 (~", UTF8_MSG, b") x")
    assert status.startswith("BAD"), status
    lines = c.ok("NOOP")
    assert not [l for l in lines if "EXISTS" in l], lines
    c.close()


def test_append_8bit_header_needs_enable(imap):
    # RFC 6855 4: a client that did not enable UTF8=ACCEPT may not
    # store 8-bit header fields
    c, _ = session(imap)
    _, status = append(c, b"a1", b"INBOX ", UTF8_MSG)
    assert status.startswith("NO"), status
    _, status = append(c, b"a2", b"INBOX UTF8 (~", UTF8_MSG, b")")
    assert status.startswith("NO"), status
    # 8-bit bytes in the body are its business
    body8 = b"Subject: plain\r\n\r\nCaf\xc3\xa9\r\n"
    _, status = append(c, b"a3", b"INBOX ", body8)
    assert status.startswith("OK [APPENDUID "), status
    # no header at all, 8-bit body
    _, status = append(c, b"a4", b"INBOX ", b"\r\nCaf\xc3\xa9\r\n")
    assert status.startswith("OK [APPENDUID "), status
    lines = c.ok("STATUS INBOX (MESSAGES)")
    assert lines == ['* STATUS "INBOX" (MESSAGES 2)']
    c.close()


def test_multiappend_utf8_data(imap):
    # MULTIAPPEND (RFC 3502) with each message in either form
    c, _ = session(imap, "UTF8=ACCEPT")
    plain = b"Subject: plain\r\n\r\nhello\r\n"
    c.send(b"a1 APPEND INBOX {%d+}\r\n%s UTF8 (~{%d+}\r\n%s) (\\Seen) "
           b"UTF8 (~{%d+}\r\n%s)\r\n"
           % (len(plain), plain, len(UTF8_MSG), UTF8_MSG, len(UTF8_MSG),
              UTF8_MSG))
    _, status = c.until("a1")
    assert re.match(r"OK \[APPENDUID \d+ 1:3\]", status), status
    # the last message's ")" is missing: BAD, and the first message of
    # the command is not kept either
    c.send(b"a2 APPEND INBOX {%d+}\r\n%s UTF8 (~{%d+}\r\n%s\r\n"
           % (len(plain), plain, len(UTF8_MSG), UTF8_MSG))
    _, status = c.until("a2")
    assert status.startswith("BAD"), status
    lines = c.ok("STATUS INBOX (MESSAGES)")
    assert lines == ['* STATUS "INBOX" (MESSAGES 3)']
    c.close()


def test_multiappend_8bit_header_refuses_all(imap):
    # the second message's 8-bit header, without UTF8=ACCEPT: the
    # whole command is refused and the first message is not kept
    c, _ = session(imap)
    plain = b"Subject: plain\r\n\r\nhello\r\n"
    c.send(b"a1 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s\r\n"
           % (len(plain), plain, len(UTF8_MSG), UTF8_MSG))
    _, status = c.until("a1")
    assert status.startswith("NO"), status
    lines = c.ok("STATUS INBOX (MESSAGES)")
    assert lines == ['* STATUS "INBOX" (MESSAGES 0)']
    c.close()


# ---------------------------------------------------------------------
# A client that enables nothing: IMAP4rev1 as before

def test_rev1_unchanged(imap):
    c, _ = session(imap, None, deliver=3)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    c.ok('CREATE "%s"' % CAFE_MUTF7)
    lines = c.ok("SELECT INBOX")
    assert "* 0 RECENT" in lines
    assert "* OK [UNSEEN 2] First unseen" in lines
    assert not [l for l in lines if l.startswith("* LIST")], lines
    assert c.ok("SEARCH UNSEEN") == ["* SEARCH 2 3"]
    lines = c.ok('LIST "" "Caf*"')
    assert lines == ['* LIST (\\HasNoChildren) "/" "%s"' % CAFE_MUTF7]
    lines = c.ok("ENABLE CONDSTORE")
    assert lines == ["* ENABLED CONDSTORE"]
    # UTF-8 in a name from a client that did not enable it is refused
    c.send(('n1 CREATE "%s"\r\n' % CAFE).encode())
    _, status = c.until("n1")
    assert status.startswith("NO [CANNOT]"), status
    c.close()
