"""SORT and THREAD (RFC 5256) over imaplib and a raw client, on one
mailbox of seven messages whose orders are worked out below.

    seq From  To    Cc  Subject                       sent      internal
    1   zoe   bob       Re: apples                    Jan 3     Jan 5
    2   adam  Carl      apples                        Jan 1     Jan 1
    3   mike  amy       =?UTF-8?Q?Fwd=3A_Bananas?=    (none)    Jan 2 00:00
    4   bea   zed   cat [list] cherries               (bad)     Jan 4
    5   Carl            Re: [list] Re: apples (fwd)   Jan 2 12h Jan 3
    6   dan             cherries                      Jan 6     Jan 6
    7   eve             Re: bananas                   Jan 7     Jan 7

Bodies of 5000, 1000, 4000, 2000, 3000, 6000 and 7000 bytes. Message
ids: 1 <2@t> References <1@t>; 2 <1@t>; 3 <3@t>; 4 <4@t> In-Reply-To
<missing@t>; 5 <5@t> References <1@t> <2@t>; 6 <6@t> In-Reply-To
<missing@t>; 7 none.
"""

import pytest

from test_imap_support import module_imap_server

MESSAGES = [
    ("Zoe <zoe@example.net>", "bob@example.org", None, "Re: apples",
     "Fri, 3 Jan 2020 10:00:00 +0000", "<2@t>", "References: <1@t>",
     "05-Jan-2020 00:00:00 +0000", 5000),
    ("adam@example.net", "Carl <carl@example.org>", None, "apples",
     "Wed, 1 Jan 2020 10:00:00 +0000", "<1@t>", None,
     "01-Jan-2020 00:00:00 +0000", 1000),
    ('"Mike" <mike@example.net>', "amy@example.org", None,
     "=?UTF-8?Q?Fwd=3A_Bananas?=", None, "<3@t>", None,
     "02-Jan-2020 00:00:00 +0000", 4000),
    ("bea@example.net", "zed@example.org", "cat@example.org",
     "[list] cherries", "someday", "<4@t>", "In-Reply-To: <missing@t>",
     "04-Jan-2020 00:00:00 +0000", 2000),
    ("Carl@example.net", None, None, "Re: [list] Re: apples (fwd)",
     "Thu, 2 Jan 2020 12:00:00 +0000", "<5@t>", "References: <1@t> <2@t>",
     "03-Jan-2020 00:00:00 +0000", 3000),
    ("dan@example.net", None, None, "cherries",
     "Mon, 6 Jan 2020 10:00:00 +0000", "<6@t>", "In-Reply-To: <missing@t>",
     "06-Jan-2020 00:00:00 +0000", 6000),
    ("eve@example.net", None, None, "Re: bananas",
     "Tue, 7 Jan 2020 09:00:00 +0100", None, None,
     "07-Jan-2020 00:00:00 +0000", 7000),
]


def build(frm, to, cc, subject, date, msgid, refs, body_len):
    h = ["From: " + frm]
    if to:
        h.append("To: " + to)
    if cc:
        h.append("Cc: " + cc)
    h.append("Subject: " + subject)
    if date:
        h.append("Date: " + date)
    if msgid:
        h.append("Message-ID: " + msgid)
    if refs:
        h.append(refs)
    body = ("x" * 99 + "\r\n") * (body_len // 101)
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


@pytest.fixture(scope="module")
def box(imap):
    """(server, user, uids by seq) with the seven messages in INBOX,
    and an imaplib client on it."""
    user = imap.user()
    m = imap.imaplib(user)
    for frm, to, cc, subj, date, mid, refs, internal, size in MESSAGES:
        typ, _ = m.append("INBOX", None, '"%s"' % internal,
                          build(frm, to, cc, subj, date, mid, refs, size))
        assert typ == "OK"
    typ, _ = m.select("INBOX", readonly=True)
    assert typ == "OK"
    typ, data = m.fetch("1:*", "(UID)")
    assert typ == "OK"
    uids = [int(d.split()[2].rstrip(b")")) for d in data]
    assert len(uids) == 7
    yield imap, user, m, uids
    m.logout()


def sort(m, keys, *criteria):
    typ, data = m.sort(keys, "UTF-8", *(criteria or ("ALL",)))
    assert typ == "OK", data
    return [int(x) for x in data[0].split()]


def test_capability(box):
    _, _, m, _ = box
    typ, data = m.capability()
    caps = data[0].decode().split()
    assert "SORT" in caps
    assert "THREAD=ORDEREDSUBJECT" in caps
    assert "THREAD=REFERENCES" in caps


@pytest.mark.parametrize("keys,want", [
    ("DATE", [2, 3, 5, 1, 4, 6, 7]),
    ("SUBJECT", [1, 2, 5, 3, 7, 4, 6]),
    ("SUBJECT DATE", [2, 5, 1, 3, 7, 4, 6]),
    ("REVERSE SUBJECT DATE", [4, 6, 3, 7, 2, 5, 1]),
    ("FROM", [2, 4, 5, 6, 7, 3, 1]),
    ("TO", [5, 6, 7, 3, 1, 2, 4]),
    ("CC", [1, 2, 3, 5, 6, 7, 4]),
    ("ARRIVAL", [2, 3, 5, 4, 1, 6, 7]),
    ("REVERSE ARRIVAL", [7, 6, 1, 4, 5, 3, 2]),
    ("SIZE", [2, 4, 5, 3, 1, 6, 7]),
    ("REVERSE SIZE", [7, 6, 1, 3, 5, 4, 2]),
])
def test_sort_keys(box, keys, want):
    _, _, m, _ = box
    assert sort(m, "(%s)" % keys) == want


def test_sort_with_search(box):
    _, _, m, uids = box
    assert sort(m, "(DATE)", "SUBJECT", "apples") == [2, 5, 1]
    assert sort(m, "(REVERSE DATE)", "OR", "FROM", "zoe",
                "LARGER", "5500") == [7, 6, 1]
    typ, data = m.uid("SORT", "(SUBJECT DATE)", "UTF-8", "ALL")
    assert typ == "OK"
    assert [int(x) for x in data[0].split()] == \
        [uids[s - 1] for s in [2, 5, 1, 3, 7, 4, 6]]


def test_thread_orderedsubject(box):
    _, _, m, uids = box
    typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    assert typ == "OK"
    assert data[0] == b"(2 (5)(1))(3 7)(4 6)"
    typ, data = m.uid("THREAD", "ORDEREDSUBJECT", "US-ASCII", "ALL")
    assert typ == "OK"
    u = uids
    assert data[0].decode() == "(%d (%d)(%d))(%d %d)(%d %d)" % (
        u[1], u[4], u[0], u[2], u[6], u[3], u[5])


def test_thread_references(box):
    _, _, m, uids = box
    typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    # 2 <- 1 <- 5 by their ids; 3 ("Fwd: Bananas") and 7 ("Re:
    # bananas") by their subject, both replies: side by side under a
    # dummy; 4 and 6 under the missing <missing@t>
    assert data[0] == b"(2 1 5)((3)(7))((4)(6))"
    # without message 1, 5 hangs from 2 through the missing <2@t>
    typ, data = m.thread("REFERENCES", "UTF-8", "NOT", "FROM", "zoe")
    assert typ == "OK"
    assert data[0] == b"(2 5)((3)(7))((4)(6))"
    typ, data = m.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    u = uids
    assert data[0].decode() == "(%d %d %d)((%d)(%d))((%d)(%d))" % (
        u[1], u[0], u[4], u[2], u[6], u[3], u[5])


def test_errors_and_empty(box):
    imap, user, _, _ = box
    c = imap.client()
    try:
        c.login(user)
        c.ok("EXAMINE INBOX")
        lines = c.ok("SORT (DATE) UTF-8 SUBJECT nothing-matches")
        assert "* SORT" in lines
        lines = c.ok("THREAD REFERENCES UTF-8 SUBJECT nothing-matches")
        assert "* THREAD" in lines
        _, st = c.tagged("SORT (DATE) KOI8-R ALL")
        assert st.startswith("NO [BADCHARSET"), st
        _, st = c.tagged("THREAD REFERENCES KOI8-R ALL")
        assert st.startswith("NO [BADCHARSET"), st
        for bad in ["SORT (FOO) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                    "SORT () UTF-8 ALL", "SORT DATE UTF-8 ALL",
                    "SORT (DATE) UTF-8", "SORT (DATE) UTF-8 NOSUCHKEY",
                    "THREAD FOO UTF-8 ALL", "THREAD REFERENCES UTF-8",
                    "UID SORT (DATE)", "THREAD"]:
            _, st = c.tagged(bad)
            assert st.startswith("BAD"), (bad, st)
        c.ok("UNSELECT")
        _, st = c.tagged("SORT (DATE) UTF-8 ALL")
        assert st.startswith("BAD"), st
    finally:
        c.close()
