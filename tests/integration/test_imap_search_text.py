"""SEARCH text keys on decoded text: header fields with RFC 2047 words
in several charsets, bodies in base64 and quoted-printable converted
to UTF-8, multipart messages, an attachment's encoded name, Unicode
case folding, BADCHARSET, and the SENT* keys on the Date field's own
day.

    seq  what
    1    Subject =?ISO-8859-1?Q?=C9t=E9?=; From in UTF-8 base64; plain body
    2    Subject in KOI8-R base64; body UTF-8 in base64
    3    Subject in windows-1252 Q; body ISO-8859-1 quoted-printable
    4    multipart: text/plain, text/html base64, a PDF attachment whose
         name is an RFC 2047 word and whose bytes hold "ocelot"
    5    ASCII only; Date 23:30 -0500 (the next day in UTC)
    6    a large message: 6.5 MB of text in base64, a file of 8.8 MB,
         "needle" at its end (past what SEARCH once read of a message)
"""

import base64

import pytest

from test_imap_support import module_imap_server


def b64word(charset, text):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(
        text.encode(charset)).decode())


def lines(*ls):
    return ("\r\n".join(ls) + "\r\n").encode("latin-1")


MSG1 = lines(
    "From: %s <zoe@example.net>" % b64word("UTF-8", "Zoë Ölund"),
    "To: bob@example.org",
    "Subject: =?ISO-8859-1?Q?=C9t=E9?= au lac",
    "Date: Tue, 2 Mar 2021 10:00:00 +0000",
    "",
    "We met at the lake.")

MSG2 = lines(
    "From: ivan@example.net",
    "Subject: %s" % b64word("KOI8-R", "Привет из Москвы"),
    "Date: Tue, 2 Mar 2021 11:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    base64.b64encode("Grüße aus München, STRAẞE\r\n".encode()).decode())

MSG3 = lines(
    "From: marie@example.net",
    "Subject: =?windows-1252?Q?=93caf=E9=94?=",
    "Date: Tue, 2 Mar 2021 12:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=ISO-8859-1",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Le g=E2teau est pr=EAt, la cr=E8me aus=",
    "si.")

MSG4 = lines(
    "From: alice@example.net",
    "Subject: report",
    "Date: Tue, 2 Mar 2021 13:00:00 +0000",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"',
    "",
    "preamble zebra",
    "--b1",
    "Content-Type: multipart/alternative; boundary=\"b2\"",
    "",
    "--b2",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "plain words here",
    "--b2",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    base64.b64encode("<p>Une <b>fête</b> réussie</p>".encode()).decode(),
    "--b2--",
    "--b1",
    'Content-Type: application/pdf; name="%s"'
    % b64word("UTF-8", "Rapport-Zèbre.pdf"),
    "Content-Disposition: attachment",
    "Content-Transfer-Encoding: base64",
    "",
    base64.b64encode(b"%PDF-1.4 ocelot").decode(),
    "--b1--")

MSG5 = lines(
    "From: late@example.net",
    "Subject: late evening",
    "Date: Mon, 1 Mar 2021 23:30:00 -0500",
    "",
    "plain")


def big():
    text = ("lorem ipsum dolor sit amet " * 3) + "\r\n"
    body = text * (6500 * 1024 // len(text)) + "the NEEDLE\r\n"
    enc = base64.encodebytes(body.encode()).replace(b"\n", b"\r\n")
    return lines("From: big@example.net", "Subject: big",
                 "Date: Tue, 2 Mar 2021 14:00:00 +0000",
                 "Content-Type: text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: base64", "") + enc


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


@pytest.fixture(scope="module")
def box(imap):
    """A client on a mailbox holding the six messages above."""
    user = imap.user()
    imap.deliver(user, MSG1, MSG2, MSG3, MSG4, MSG5, big())
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        yield c


def search(c, key, text):
    """SEARCH CHARSET UTF-8 key text, the text as a literal (LITERAL+):
    the numbers found."""
    data = text.encode()
    c.send(b"s SEARCH CHARSET UTF-8 " + key.encode() +
           b" {%d+}\r\n" % len(data) + data + b"\r\n")
    lines, st = c.until("s")
    assert st.startswith("OK"), (key, text, st)
    found = [l for l in lines if l.startswith("* SEARCH")]
    assert len(found) == 1, lines
    return [int(n) for n in found[0].split()[2:]]


@pytest.mark.parametrize("key,text,want", [
    # RFC 2047 words in ISO-8859-1, UTF-8, KOI8-R, windows-1252
    ("SUBJECT", "été", [1]),
    ("SUBJECT", "ÉTÉ AU LAC", [1]),
    ("FROM", "zoë ölund", [1]),
    ("FROM", "ZOË ÖLUND <zoe@", [1]),
    ("SUBJECT", "привет", [2]),
    ("SUBJECT", "ИЗ МОСКВЫ", [2]),
    ("SUBJECT", "“Café”", [3]),
    ("TEXT", "café", [3]),
    # bodies: base64 UTF-8, quoted-printable ISO-8859-1 with a soft break
    ("BODY", "grüße aus münchen", [2]),
    ("BODY", "strasse", []),
    ("BODY", "straße", [2]),
    ("BODY", "GÂTEAU EST PRÊT", [3]),
    ("BODY", "la crème aussi", [3]),
    # multipart: each text part, nothing of the others
    ("BODY", "plain words", [4]),
    ("BODY", "FÊTE</B> RÉUSSIE", [4]),
    ("BODY", "ocelot", []),
    ("TEXT", "ocelot", []),
    ("BODY", "zebra", []),
    # the attachment's name, an RFC 2047 word: in TEXT, not in BODY
    ("TEXT", "zèbre.pdf", [4]),
    ("BODY", "zèbre", []),
    # the raw forms no longer match
    ("SUBJECT", "=C9t=E9", []),
    ("BODY", "R3LDvMOfZ", []),
    ("TEXT", "g=E2teau", []),
    # header names are whole; TEXT covers headers
    ("HEADER SUBJECT", "lac", [1]),
    ("HEADER X-Missing", "lac", []),
    ("TEXT", "subject: été", [1]),
    ("BODY", "subject", []),
    # a large message, read in pieces to its end
    ("BODY", "the needle", [6]),
])
def test_text_keys(box, key, text, want):
    assert search(box, key, text) == want


def test_quoted_and_atoms(box):
    """ASCII strings as atoms and quoted strings; US-ASCII is fine."""
    assert box.ok("SEARCH BODY LAKE")[0] == "* SEARCH 1"
    assert box.ok('SEARCH CHARSET US-ASCII TEXT "plain words"')[0] == \
        "* SEARCH 4"
    assert box.ok('SEARCH OR SUBJECT report BODY lake')[0] == \
        "* SEARCH 1 4"
    assert box.ok('SEARCH NOT TEXT "e"')[0] == "* SEARCH"
    assert box.ok('SEARCH BODY ""')[0] == "* SEARCH 1 2 3 4 5 6"
    # the top header only: message 4 has the field in its parts
    assert box.ok('SEARCH HEADER Content-Transfer-Encoding ""')[0] == \
        "* SEARCH 2 3 6"


def test_utf8_quoted(box):
    """8-bit UTF-8 in a quoted string, as the RFC 3501 example has it."""
    assert box.ok('SEARCH CHARSET UTF-8 SUBJECT "été"')[0] == "* SEARCH 1"
    assert box.ok('SEARCH CHARSET UTF-8 BODY "MÜNCHEN"')[0] == \
        "* SEARCH 2"


def test_imaplib_literal(imap, box):
    """imaplib sends a non-ASCII string as a synchronising literal."""
    user = imap.user()
    imap.deliver(user, MSG3)
    m = imap.imaplib(user)
    try:
        typ, _ = m.select("INBOX", readonly=True)
        assert typ == "OK"
        m.literal = "CRÈME".encode()
        typ, data = m.search("UTF-8", "BODY")
        assert typ == "OK" and data == [b"1"], (typ, data)
    finally:
        m.logout()


def test_combined_keys_one_reading(box):
    """Several text keys on one message, some in the header, some in
    the body, with flags: all must hold."""
    box.ok("STORE 3 +FLAGS (\\Flagged)")
    data = "prêt".encode()
    box.send(b"s SEARCH CHARSET UTF-8 FLAGGED SUBJECT caf BODY {%d+}\r\n"
             % len(data) + data + b" FROM marie\r\n")
    lines, st = box.until("s")
    assert st.startswith("OK"), st
    assert lines == ["* SEARCH 3"], lines
    box.ok("STORE 3 -FLAGS (\\Flagged)")


def test_badcharset(box):
    _, st = box.tagged("SEARCH CHARSET ISO-8859-1 BODY lake")
    assert st.startswith("NO [BADCHARSET ("), st
    assert "UTF-8" in st and "US-ASCII" in st, st
    _, st = box.tagged("SEARCH CHARSET KOI8-R SUBJECT x")
    assert st.startswith("NO [BADCHARSET"), st


def test_sent_dates(box):
    """SENT* use the Date field's day as written in its own zone:
    message 5 was sent on 1 March at 23:30 -0500, 2 March in UTC; its
    internal date (the delivery) plays no part."""
    assert box.ok("SEARCH SENTON 1-Mar-2021")[0] == "* SEARCH 5"
    assert box.ok("SEARCH SENTON 2-Mar-2021")[0] == "* SEARCH 1 2 3 4 6"
    assert box.ok("SEARCH SENTBEFORE 2-Mar-2021")[0] == "* SEARCH 5"
    assert box.ok("SEARCH SENTSINCE 2-Mar-2021")[0] == "* SEARCH 1 2 3 4 6"
    assert box.ok("SEARCH SENTSINCE 3-Mar-2021")[0] == "* SEARCH"
    assert box.ok("SEARCH SINCE 3-Mar-2021")[0] == "* SEARCH 1 2 3 4 5 6"


def test_uid_search_and_esearch(box):
    lines = box.ok("UID SEARCH RETURN (COUNT) CHARSET UTF-8 BODY plain")
    assert lines[0].endswith("UID COUNT 2"), lines
