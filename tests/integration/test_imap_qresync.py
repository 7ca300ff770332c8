"""QRESYNC (RFC 7162 3.2): ENABLE QRESYNC, VANISHED instead of EXPUNGE,
SELECT/EXAMINE with the QRESYNC parameter, UID FETCH with VANISHED.

Two sessions at a time: one expunges and flags, the other
resynchronises. The store keeps no expunge history, so VANISHED
(EARLIER) names every UID of the client's set that does not exist now
(below UIDNEXT): the tests expect exactly that, and that a set like
1:4294967295 gives a short answer."""

import re
import time

import pytest
from test_imap_support import message, module_imap_server


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


def fill(imap, n):
    """A user with n messages in INBOX; returns (user, uidvalidity,
    [uid by seq])."""
    user = imap.user()
    got = imap.deliver(user, *[message("m%d" % i) for i in range(n)])
    return user, got[0][0], [u for _, u in got]


def highest(lines):
    for l in lines:
        m = re.search(r"\[HIGHESTMODSEQ (\d+)\]", l)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


def expunge_uids(c, uids):
    """The session c (selected) expunges these UIDs."""
    s = ",".join(str(u) for u in uids)
    c.ok("UID STORE %s +FLAGS.SILENT (\\Deleted)" % s)
    c.ok("UID EXPUNGE %s" % s)


def vanished(lines, earlier):
    """The UIDs of the VANISHED lines of one kind, as a sorted list."""
    prefix = "* VANISHED (EARLIER) " if earlier else "* VANISHED "
    out = []
    for l in lines:
        if not l.startswith(prefix):
            continue
        rest = l[len(prefix):]
        if not earlier and rest.startswith("("):
            continue
        for part in rest.split(","):
            lo, _, hi = part.partition(":")
            out.extend(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def fetches(lines):
    """{uid: line} of the untagged FETCH lines."""
    out = {}
    for l in lines:
        m = re.match(r"\* \d+ FETCH \(.*UID (\d+)", l)
        if m:
            out[int(m.group(1))] = l
    return out


def test_enable(imap):
    """QRESYNC is advertised; ENABLE QRESYNC says so once, and brings
    CONDSTORE: FETCH answers carry MODSEQ."""
    user, _, _ = fill(imap, 2)
    with imap.client() as c:
        c.login(user)
        assert "QRESYNC" in c.ok("CAPABILITY")[0].split()
        assert c.ok("ENABLE QRESYNC") == ["* ENABLED QRESYNC"]
        assert c.ok("ENABLE QRESYNC") == ["* ENABLED"]
        c.ok("SELECT INBOX")
        lines = c.ok("FETCH 1:* (FLAGS)")
        assert len(lines) == 2 and all("MODSEQ (" in l for l in lines), \
            lines


def test_refused_without_enable(imap):
    """The QRESYNC parameter and the VANISHED modifier need ENABLE
    QRESYNC first; VANISHED needs UID FETCH and CHANGEDSINCE."""
    user, uv, _ = fill(imap, 2)
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        _, st = c.tagged("SELECT INBOX (QRESYNC (%d 1))" % uv)
        assert st.startswith("BAD"), st
        # a refused SELECT leaves the mailbox as it was
        assert len(c.ok("FETCH 1:* (FLAGS)")) == 2
        _, st = c.tagged("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        assert st.startswith("BAD"), st
        c.ok("ENABLE QRESYNC")
        _, st = c.tagged("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
        assert st.startswith("BAD"), st
        _, st = c.tagged("UID FETCH 1:* (FLAGS) (VANISHED)")
        assert st.startswith("BAD"), st
        _, st = c.tagged("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED "
                         "VANISHED)")
        assert st.startswith("BAD"), st
        for bad in ["(QRESYNC (0 1))", "(QRESYNC (%d))" % uv,
                    "(QRESYNC (%d 1 (1:2 3)))" % uv, "(QRESYNC)",
                    "(FOO)"]:
            _, st = c.tagged("SELECT INBOX %s" % bad)
            assert st.startswith("BAD"), (bad, st)


def test_vanished_instead_of_expunge(imap):
    """Once QRESYNC is on, expunges are told as VANISHED (UIDs), at the
    moments EXPUNGE would be: never during FETCH, STORE or SEARCH; and
    for the session's own EXPUNGE, UID EXPUNGE and MOVE. A session
    without QRESYNC still hears EXPUNGE."""
    user, _, uids = fill(imap, 8)
    with imap.client() as q, imap.client() as plain, \
            imap.client() as other:
        for c in (q, plain, other):
            c.login(user)
        q.ok("ENABLE QRESYNC")
        for c in (q, plain, other):
            c.ok("SELECT INBOX")
        expunge_uids(other, [uids[1], uids[2], uids[5]])
        # held back during FETCH; the ghost keeps its modseq, not 0
        lines = q.ok("FETCH 1:* (FLAGS)")
        assert not any("VANISHED" in l or "EXPUNGE" in l for l in lines), \
            lines
        assert len(lines) == 8, lines
        assert all(not re.search(r"MODSEQ \(0\)", l) for l in lines), lines
        assert not any("VANISHED" in l for l in q.ok("SEARCH ALL"))
        lines = q.ok("NOOP")
        assert vanished(lines, False) == [uids[1], uids[2], uids[5]], lines
        assert not any("EXPUNGE" in l or "EARLIER" in l for l in lines), \
            lines
        lines = plain.ok("NOOP")
        assert sorted(l for l in lines if l.endswith(" EXPUNGE")) == \
            ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 4 EXPUNGE"], lines
        assert not any("VANISHED" in l for l in lines), lines

        # its own EXPUNGE and UID EXPUNGE
        q.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[0])
        lines = q.ok("EXPUNGE")
        assert lines == ["* VANISHED %d" % uids[0]], lines
        q.ok("UID STORE %d,%d +FLAGS.SILENT (\\Deleted)"
             % (uids[3], uids[4]))
        lines = q.ok("UID EXPUNGE %d:%d" % (uids[3], uids[4]))
        assert lines == ["* VANISHED %d:%d" % (uids[3], uids[4])], lines
        # MOVE
        q.ok("CREATE Moved")
        lines = q.ok("UID MOVE %d Moved" % uids[6])
        assert "* VANISHED %d" % uids[6] in lines, lines
        assert not any(l.endswith("EXPUNGE") for l in lines), lines
        # CLOSE says nothing of what it removes, QRESYNC or not
        q.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[7])
        assert q.ok("CLOSE") == []
        lines = other.ok("NOOP")
        assert len([l for l in lines if l.endswith("EXPUNGE")]) == 5, lines


def test_select_qresync(imap):
    """SELECT (QRESYNC (uidvalidity modseq)): VANISHED (EARLIER) for the
    UIDs gone, FETCH (UID FLAGS MODSEQ) for what changed since modseq,
    after the usual answers; [CLOSED] first when a mailbox was
    selected; nothing more with another UIDVALIDITY."""
    user, uv, uids = fill(imap, 10)
    with imap.client() as old:
        old.login(user)
        high = highest(old.ok("SELECT INBOX"))
    with imap.client() as other:
        other.login(user)
        other.ok("SELECT INBOX")
        expunge_uids(other, [uids[1], uids[6]])
        other.ok("UID STORE %d +FLAGS (\\Flagged)" % uids[3])
    with imap.client() as c:
        c.login(user)
        c.ok("ENABLE QRESYNC")
        c.ok("CREATE Other")
        c.ok("SELECT Other")
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (uv, high))
        assert lines[0].startswith("* OK [CLOSED]"), lines
        # no expunge history: every UID missing below UIDNEXT
        assert vanished(lines, True) == \
            list(range(1, uids[0])) + [uids[1], uids[6]], lines
        got = fetches(lines)
        assert list(got) == [uids[3]], lines
        assert "\\Flagged" in got[uids[3]] and "MODSEQ (" in got[uids[3]]
        # after the usual answers, in that order
        hm = [i for i, l in enumerate(lines) if "HIGHESTMODSEQ" in l][0]
        va = [i for i, l in enumerate(lines) if "VANISHED" in l][0]
        fe = [i for i, l in enumerate(lines) if " FETCH " in l][0]
        assert hm < va < fe, lines
        assert "* 8 EXISTS" in lines

        # known UIDs: only those are reported
        lines = c.ok("EXAMINE INBOX (QRESYNC (%d %d %d:%d))"
                     % (uv, high, uids[0], uids[4]))
        assert vanished(lines, True) == [uids[1]], lines
        assert list(fetches(lines)) == [uids[3]], lines

        # modseq 0: every message is sent
        lines = c.ok("EXAMINE INBOX (QRESYNC (%d 0))" % uv)
        assert len(fetches(lines)) == 8, lines

        # another UIDVALIDITY: a plain SELECT
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d 1:*))" % (uv + 1, high))
        assert not any("VANISHED" in l or " FETCH " in l for l in lines), \
            lines
        assert "* 8 EXISTS" in lines

        # nothing changed since now: nothing to say
        now = highest(lines)
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d %d:%d))"
                     % (uv, now, uids[2], uids[5]))
        assert not any("VANISHED" in l or " FETCH " in l for l in lines), \
            lines


def test_select_seq_match(imap):
    """(seq-match uid-match): a message number still paired with the
    UID the client knew shows nothing below it went, so only the UIDs
    above are reported."""
    user, uv, uids = fill(imap, 10)
    with imap.client() as other:
        other.login(user)
        other.ok("SELECT INBOX")
        expunge_uids(other, [uids[1]])          # the client saw this one
        with imap.client() as old:
            old.login(user)
            high = highest(old.ok("SELECT INBOX"))
        expunge_uids(other, [uids[6]])          # and not this one
    with imap.client() as c:
        c.login(user)
        c.ok("ENABLE QRESYNC")
        known = "%d:%d" % (uids[0], uids[9])
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d %s))" % (uv, high, known))
        assert vanished(lines, True) == [uids[1], uids[6]], lines
        # seq 2 is still uids[2]: nothing at or below it went
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d %s (1,2 %d,%d)))"
                     % (uv, high, known, uids[0], uids[2]))
        assert vanished(lines, True) == [uids[6]], lines
        # a pair that no longer holds (seq 7 was uids[7]) proves nothing
        # more; the ones that hold still count
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d %s (2,7 %d,%d)))"
                     % (uv, high, known, uids[2], uids[7]))
        assert vanished(lines, True) == [uids[6]], lines
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d %s (7 %d)))"
                     % (uv, high, known, uids[7]))
        assert vanished(lines, True) == [uids[1], uids[6]], lines
        # without known-uids, pairs over a whole run
        lines = c.ok("SELECT INBOX (QRESYNC (%d %d (1:6 %d,%d:%d)))"
                     % (uv, high, uids[0], uids[2], uids[6]))
        assert vanished(lines, True) == [uids[6]], lines


def test_uid_fetch_vanished(imap):
    """UID FETCH set items (CHANGEDSINCE modseq VANISHED): VANISHED
    (EARLIER) for the UIDs of the set that are gone, then the messages
    changed since modseq."""
    user, uv, uids = fill(imap, 6)
    with imap.client() as c, imap.client() as other:
        c.login(user)
        other.login(user)
        c.ok("ENABLE QRESYNC")
        high = highest(c.ok("SELECT INBOX"))
        other.ok("SELECT INBOX")
        expunge_uids(other, [uids[2], uids[4]])
        other.ok("UID STORE %d +FLAGS (\\Seen)" % uids[5])
        lines = c.ok("NOOP")
        assert vanished(lines, False) == [uids[2], uids[4]], lines
        lines = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)"
                     % high)
        assert lines[0] == "* VANISHED (EARLIER) %d,%d" % (uids[2],
                                                           uids[4]), lines
        got = fetches(lines)
        assert list(got) == [uids[5]] and "\\Seen" in got[uids[5]], lines
        # only the set's own UIDs; the modifiers in either order
        lines = c.ok("UID FETCH %d:%d (FLAGS) (VANISHED CHANGEDSINCE %d)"
                     % (uids[0], uids[3], high))
        assert lines == ["* VANISHED (EARLIER) %d" % uids[2]], lines
        # UIDs past UIDNEXT never existed: not reported
        lines = c.ok("UID FETCH %d:%d (FLAGS) (CHANGEDSINCE %d VANISHED)"
                     % (uids[5] + 1, uids[5] + 100, high))
        assert lines == [], lines


def test_huge_sets_stay_bounded(imap):
    """A set of four billion UIDs gives an answer the size of the
    mailbox's holes, at once."""
    user, uv, uids = fill(imap, 40)
    with imap.client() as c, imap.client() as other:
        c.login(user)
        other.login(user)
        c.ok("ENABLE QRESYNC")
        c.ok("SELECT INBOX")
        other.ok("SELECT INBOX")
        gone = uids[1::2]
        expunge_uids(other, gone)
        assert vanished(c.ok("NOOP"), False) == gone
        start = time.monotonic()
        lines = c.ok("UID FETCH 1:4294967295 (FLAGS) (CHANGEDSINCE 1 "
                     "VANISHED)")
        early = [l for l in lines if l.startswith("* VANISHED")]
        assert len(early) == 1 and len(early[0]) < 400, early
        want = list(range(1, uids[0])) + gone
        assert vanished(lines, True) == want, lines
        lines = c.ok("SELECT INBOX (QRESYNC (%d 1 1:4294967295,1:* "
                     "(1:4294967295 4294967295:1)))" % uv)
        early = [l for l in lines if l.startswith("* VANISHED")]
        assert len(early) <= 1 and all(len(l) < 400 for l in early), early
        lines = c.ok("SELECT INBOX (QRESYNC (%d 1 4294967295,1:4294967295"
                     "))" % uv)
        assert vanished(lines, True) == want, lines
        assert time.monotonic() - start < 5
