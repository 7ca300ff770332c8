"""IMAP on pgsql storage against IMAP on maildir, for what the message
cache of schema 3 changes: ENVELOPE, BODY and BODYSTRUCTURE of the MIME
corpus (tests/mime/*.eml) byte for byte the same as maildir's on the
first FETCH (rendered, then cached) and the next (from the cache); a
body stored before the migration (no cache, no header length) and a
cache in a format not known get theirs on first FETCH; SEARCH on header
fields and SORT (which read the header alone) give maildir's answers;
the database stopped under a session gives NO [UNAVAILABLE] to FETCH
and SEARCH, and the session works again once it is back.

One private PostgreSQL (test_pgsql.Cluster) and one maildir server.
Skipped when PostgreSQL or the module is missing.
"""

import glob
import imaplib
import os
import shutil
import time

import pytest

from conftest import PASSWORD as MAILDIR_PASSWORD
from harness import Facteurd, build_config, free_port, make_test_dir
from test_pgsql import PASSWORD, Cluster, Node, have_pgsql
from test_smtp_support import make_mail_dir

pytestmark = pytest.mark.skipif(not have_pgsql(),
                                reason="no PostgreSQL or no pgsql module")

SRCDIR = os.environ.get("FACTEUR_SRCDIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
USER = "alice@example.org"
DATE = '"07-Feb-1994 21:52:25 +0000"'
ITEMS = "(ENVELOPE BODY BODYSTRUCTURE)"


def corpus():
    out = []
    for path in sorted(glob.glob(os.path.join(SRCDIR, "tests", "mime",
                                              "*.eml"))):
        with open(path, "rb") as f:
            out.append(f.read())
    assert len(out) >= 20
    return out


@pytest.fixture(scope="module")
def cluster():
    base = make_test_dir("facteur-pgimap-")
    c = Cluster(os.path.join(base, "pg"))
    yield c
    c.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(cluster):
    d = make_test_dir("facteur-pgimap-a-")
    cluster.createdb("imapcache")
    n = Node(cluster, "imapcache", d)
    n.ctl("db", "migrate")
    n.ctl("domain", "add", "example.org")
    n.ctl("user", "add", USER, "-p", PASSWORD)
    n.start()
    yield n
    n.stop()
    shutil.rmtree(d, ignore_errors=True)


class MaildirServer:
    def __init__(self, password_hash):
        self.dir = make_test_dir("facteur-pgimap-m-")
        make_mail_dir(self.dir)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("%s:%s\n" % (USER, password_hash))
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)
        self.imap_port = free_port()
        extra = ("maildir {\n    location %s/mail/%%d/%%n;\n}\n"
                 "imap {\n    listen 127.0.0.1:%d;\n}\n"
                 % (self.dir, self.imap_port))
        text = build_config(self.dir, self.imap_port,
                            settings={"state_dir": os.path.join(self.dir,
                                                                "state")},
                            load=["passwd-file", "maildir", "imap"],
                            extra=extra)
        self.srv = Facteurd(self.dir, text, port=self.imap_port)
        self.srv.start()

    def stop(self):
        self.srv.stop()
        bad = self.srv.bad_log_lines()
        assert not bad, "\n".join(bad[:20])
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def md(password_hash):
    s = MaildirServer(password_hash)
    yield s
    s.stop()


def login_pg(pg):
    m = imaplib.IMAP4("127.0.0.1", pg.imap_port, timeout=20)
    m.login(USER, PASSWORD)
    return m


def login_md(md):
    m = imaplib.IMAP4("127.0.0.1", md.imap_port, timeout=20)
    m.login(USER, MAILDIR_PASSWORD)
    return m


@pytest.fixture(scope="module")
def loaded(pg, md):
    """The corpus appended to INBOX on both servers, in the same order.
    A message a server refuses (8-bit header fields, unless the session
    enabled UTF8=ACCEPT) must be refused by both, and is left out."""
    p, m = login_pg(pg), login_md(md)
    n = 0
    for text in corpus():
        a = p.append("INBOX", None, DATE, text)
        b = m.append("INBOX", None, DATE, text)
        assert a[0] == b[0], (a, b)
        if a[0] == "OK":
            n += 1
        else:
            assert b"UTF8=ACCEPT" in a[1][-1], a
    p.logout()
    m.logout()
    assert n >= 20
    return n


def fetch(m, items=ITEMS, what="1:*"):
    typ, data = m.fetch(what, items)
    assert typ == "OK", data
    return data


def db(pg, sql):
    return pg.cluster.psql(pg.db, sql).strip()


def test_fetch_same_as_maildir_first_and_second_time(pg, md, loaded):
    assert db(pg, "SELECT count(*) FROM bodies WHERE cache IS NOT NULL") \
        == "0"
    assert db(pg, "SELECT count(*) FROM bodies WHERE header_len IS NULL") \
        == "0", "appends record the header's length"
    m = login_md(md)
    m.select("INBOX", readonly=True)
    want = fetch(m)
    m.logout()
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    first = fetch(p)
    assert first == want
    assert db(pg, "SELECT count(*) FROM bodies WHERE cache IS NULL "
              "OR substring(cache FROM 1 FOR 6) <> 'IMAP1 '::bytea") == "0"
    second = fetch(p)
    assert second == want
    # one item at a time, and with other items and a section beside
    assert fetch(p, "(ENVELOPE)") == fetch_md(md, "(ENVELOPE)")
    assert fetch(p, "(UID BODYSTRUCTURE BODY.PEEK[HEADER])") == \
        fetch_md(md, "(UID BODYSTRUCTURE BODY.PEEK[HEADER])")
    # sections of the header alone: the header is all pgsql reads
    for items in HEADER_ITEMS:
        assert fetch(p, items) == fetch_md(md, items), items
    p.logout()


HEADER_ITEMS = [
    "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM DATE)])",
    "(ENVELOPE RFC822.HEADER)",
    "(BODY.PEEK[HEADER]<0.50>)",
    "(BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED)] BODY.PEEK[1.MIME])",
]


def fetch_md(md, items):
    m = login_md(md)
    m.select("INBOX", readonly=True)
    out = fetch(m, items)
    m.logout()
    return out


def test_header_reads_read_the_header_alone(pg, loaded):
    """Sections of the header, header SEARCH and SORT read header_len
    bytes: with a wrong length they see less (this is how it shows)."""
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    items = "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
    both = "(BODY BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
    want = fetch(p, items)
    want_both = fetch(p, both)
    found = p.search(None, "SUBJECT", "a")
    assert found[0] == "OK" and found[1][0], found
    db(pg, "UPDATE bodies SET header_len = 1")
    try:
        assert fetch(p, items) != want
        assert p.search(None, "SUBJECT", "a") == ("OK", [b""])
        # with BODY the whole message is read and parsed
        assert fetch(p, both) == want_both
    finally:
        db(pg, "UPDATE bodies SET header_len = facteur_header_len(data)")
    assert fetch(p, items) == want
    assert p.search(None, "SUBJECT", "a") == found
    p.logout()


def test_utf8_accept_sessions(pg, md, loaded):
    """The cache holds answers for sessions without UTF8=ACCEPT; a
    session with it renders its own and leaves the cache alone."""
    p = login_pg(pg)
    if "UTF8=ACCEPT" not in p.capabilities:
        p.logout()
        pytest.skip("UTF8=ACCEPT not offered")
    m = login_md(md)
    for c in (p, m):
        typ, data = c._simple_command("ENABLE", "UTF8=ACCEPT")
        assert typ == "OK", data
        c.select("INBOX", readonly=True)
    fetch(p)
    before = db(pg, "SELECT md5(string_agg(cache, '' ORDER BY hash)) "
                "FROM bodies")
    assert fetch(p) == fetch(m)
    assert db(pg, "SELECT md5(string_agg(cache, '' ORDER BY hash)) "
              "FROM bodies") == before
    p.logout()
    m.logout()


def test_bodies_from_before_the_migration(pg, md, loaded):
    """A body stored before schema 3 has no cache and no header length:
    the first FETCH fills both and answers as maildir does."""
    db(pg, "UPDATE bodies SET cache = NULL, header_len = NULL")
    want = fetch_md(md, ITEMS)
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    # the header alone, its length computed in the database
    typ, data = p.search(None, "HEADER", "Subject", "a")
    assert typ == "OK", data
    for items in HEADER_ITEMS:
        assert fetch(p, items) == fetch_md(md, items), items
    assert fetch(p) == want
    assert db(pg, "SELECT count(*) FROM bodies WHERE cache IS NULL "
              "OR header_len IS NULL") == "0"
    assert fetch(p) == want
    p.logout()


def test_cache_in_a_format_not_known(pg, md, loaded):
    db(pg, "UPDATE bodies SET cache = 'IMAP9 whatever'::bytea")
    want = fetch_md(md, ITEMS)
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    assert fetch(p) == want
    assert db(pg, "SELECT count(*) FROM bodies WHERE "
              "substring(cache FROM 1 FOR 6) <> 'IMAP1 '::bytea") == "0"
    # a cache whose lengths do not add up is not believed either
    db(pg, "UPDATE bodies SET cache = 'IMAP1 0 5 5 5\n(NIL)'::bytea")
    assert fetch(p) == want
    p.logout()


def test_copy_shares_the_cache(pg, md, loaded):
    p = login_pg(pg)
    p.select("INBOX")
    fetch(p)
    typ, data = p.create("Copies")
    assert typ == "OK", data
    typ, data = p.copy("1:*", "Copies")
    assert typ == "OK", data
    before = db(pg, "SELECT count(*) FROM bodies")
    p.select("Copies", readonly=True)
    assert fetch(p) == fetch_md(md, ITEMS)
    assert db(pg, "SELECT count(*) FROM bodies") == before
    p.logout()


SEARCHES = [
    ("SUBJECT", "multipart"),
    ("FROM", "example"),
    ("HEADER", "Content-Type", "mixed"),
    ("HEADER", "Message-ID", '""'),
    ("NOT", "HEADER", "MIME-Version", "1.0"),
    ("SENTSINCE", "1-Jan-2000"),
    ("OR", "SUBJECT", "base64", "BODY", "attachment"),
    ("TEXT", "boundary"),
]


def test_header_search_and_sort_same_as_maildir(pg, md, loaded):
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    m = login_md(md)
    m.select("INBOX", readonly=True)
    found = 0
    for keys in SEARCHES:
        a = p.search(None, *keys)
        b = m.search(None, *keys)
        assert a[0] == "OK" and a == b, (keys, a, b)
        found += len(a[1][0].split())
    assert found > 0
    for crit in ("(SUBJECT)", "(FROM)", "(REVERSE DATE)", "(TO CC ARRIVAL)"):
        a = p.sort(crit, "UTF-8", "ALL")
        b = m.sort(crit, "UTF-8", "ALL")
        assert a[0] == "OK" and a == b, (crit, a, b)
    p.logout()
    m.logout()


def test_database_stopped_mid_session(pg, md, loaded):
    """FETCH and SEARCH that need the database answer NO [UNAVAILABLE]
    (RFC 5530) while it is down, and work again once it is back."""
    want = fetch_md(md, "(ENVELOPE)")
    p = login_pg(pg)
    p.select("INBOX", readonly=True)
    db(pg, "UPDATE bodies SET cache = NULL")
    workers = pg.srv.workers()
    pg.cluster.halt()
    try:
        typ, data = p.fetch("1:*", "(ENVELOPE)")
        assert typ == "NO" and b"[UNAVAILABLE]" in data[-1], (typ, data)
        typ, data = p.search(None, "SUBJECT", "x")
        assert typ == "NO" and b"[UNAVAILABLE]" in data[-1], (typ, data)
        # what the view alone answers still works
        typ, data = p.fetch("1", "(UID FLAGS)")
        assert typ == "OK", data
    finally:
        pg.cluster.resume()
    deadline = time.monotonic() + 10
    while True:
        typ, data = p.fetch("1:*", "(ENVELOPE)")
        if typ == "OK" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert typ == "OK", data
    assert data == want
    p.logout()
    assert pg.srv.workers() == workers
