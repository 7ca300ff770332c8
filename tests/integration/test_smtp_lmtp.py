"""LMTP (RFC 2033): delivery into this store with one reply per
recipient after the message, so a full mailbox or any other failure
touches only its own recipient. RFC 2033 4.2: after the final dot (or
BDAT LAST) there is one reply for each RCPT that was accepted, in RCPT
order; a RCPT refused at once (an unknown user) has had its reply."""

import smtplib

import pytest

from test_smtp_support import (ALICE, BOB, CAROL, DORA, HOSTNAME, message,
                               module_server, trace_fields, unique)

ALIASES = "team@example.org alice@example.org, bob@example.org\n" \
    "crew@example.org alice@example.org, carol@example.org\n" \
    "desk@example.org alice@example.org, dora@example.org\n" \
    "fwd@example.org someone@example.net\n"


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, with an alias to two users."""
    yield from module_server(request, password_hash, tls_files,
                             files={"aliases": ALIASES},
                             smtp="aliases {dir}/aliases;")


def lmtp_client(mx):
    c = mx.client(port=mx.lmtp_port)
    c.ehlo(verb="LHLO")
    return c


def test_smtplib_lmtp_per_recipient(mx):
    """smtplib.LMTP with three recipients, one unknown: RCPT answers
    250, 550 5.1.1, 250; after DATA come two replies, one for alice and
    one for bob, each 250 naming its recipient; each gets its copy with
    a Received field "with LMTP ... for <rcpt>"."""
    subject = unique("lmtp")
    lmtp = smtplib.LMTP("127.0.0.1", mx.lmtp_port, timeout=10,
                        local_hostname="client.example.net")
    try:
        assert lmtp.ehlo()[0] == 250
        assert lmtp.mail("sender@example.net")[0] == 250
        assert lmtp.rcpt(ALICE)[0] == 250
        code, text = lmtp.rcpt("nobody@example.org")
        assert code == 550 and text.startswith(b"5.1.1 ")
        assert lmtp.rcpt(BOB)[0] == 250
        first = lmtp.data(message(subject))
        second = lmtp.getreply()
        assert lmtp.noop()[0] == 250
    finally:
        lmtp.quit()
    assert first == (250, b"2.0.0 <alice@example.org> Ok")
    assert second == (250, b"2.0.0 <bob@example.org> Ok")
    for user in (ALICE, BOB):
        got = mx.find(user, subject)
        assert len(got) == 1
        fields, _ = trace_fields(got[0])
        assert " with LMTP id " in fields["Received"]
        assert fields["Received"].startswith(
            "from client.example.net ([127.0.0.1]) by %s " % HOSTNAME)
        assert " for <%s>;" % user in fields["Received"]


def test_over_quota_only_its_recipient(mx):
    """carol (quota 2k) cannot take a 3k message: her reply is 452 4.2.2
    while alice and bob, before and after her, get 250; nothing is
    stored for carol."""
    subject = unique("lmtp-quota")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        for r in (ALICE, CAROL, BOB):
            assert c.cmd("RCPT TO:<%s>" % r) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject, body="q" * 3000 + "\r\n") + b".\r\n")
        replies = c.replies(3)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert replies[0].startswith("250 2.0.0 <%s>" % ALICE)
    assert replies[1].startswith("452 4.2.2 <%s>" % CAROL)
    assert replies[2].startswith("250 2.0.0 <%s>" % BOB)
    assert len(mx.find(ALICE, subject)) == 1
    assert len(mx.find(BOB, subject)) == 1
    assert mx.find(CAROL, subject) == []


def test_alias_gets_one_reply(mx):
    """A RCPT that names an alias of two users is one recipient for the
    client: after DATA there is one reply for it and one for carol,
    no more, so the client's next command gets its own reply."""
    subject = unique("lmtp-alias")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<team@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<%s>" % CAROL) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject) + b".\r\n")
        replies = c.replies(2)
        assert all(r.startswith("250 ") for r in replies), replies
        assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert len(mx.find(ALICE, subject)) == 1
    assert len(mx.find(BOB, subject)) == 1
    assert len(mx.find(CAROL, subject)) == 1


def test_same_user_twice_one_reply_per_rcpt(mx):
    """alice by her own address and again through team: two RCPTs, so
    two replies after the message, each naming its RCPT; alice gets one
    copy, bob one."""
    subject = unique("lmtp-twice")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<team@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject) + b".\r\n")
        replies = c.replies(2)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert replies[0].startswith("250 2.0.0 <%s>" % ALICE)
    assert replies[1].startswith("250 2.0.0 <team@example.org>")
    assert len(mx.find(ALICE, subject)) == 1
    assert len(mx.find(BOB, subject)) == 1


def test_alias_with_a_full_mailbox(mx):
    """crew is alice and carol (quota 2k). A 3k message: the one reply
    for crew is 452 4.2.2, since carol could not take it (the client
    will try crew again); bob's is 250."""
    subject = unique("lmtp-crew")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<crew@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject, body="q" * 3000 + "\r\n") + b".\r\n")
        replies = c.replies(2)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert replies[0].startswith("452 4.2.2 <crew@example.org>"), replies
    assert replies[1].startswith("250 2.0.0 <%s>" % BOB), replies
    assert mx.find(CAROL, subject) == []
    assert len(mx.find(BOB, subject)) == 1


def test_full_mailbox_at_rcpt(mx):
    """dora's quota is one message. Once she has it, a RCPT for her, or
    for desk (alice and dora), is 452 4.2.2 at once: LMTP would answer
    452 for the whole alias after the message anyway."""
    subject = unique("lmtp-dora")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % DORA) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject) + b".\r\n")
        assert c.reply().startswith("250 2.0.0 <%s>" % DORA)
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % DORA).startswith("452 4.2.2 ")
        assert c.cmd("RCPT TO:<desk@example.org>").startswith("452 4.2.2 ")
        assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert len(mx.find(DORA, subject)) == 1


def test_only_local_recipients(mx):
    """LMTP delivers here only: a remote address, or an alias that
    forwards away, is refused at RCPT (550), even from a trusted
    network."""
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<friend@example.net>").startswith("550 ")
        assert c.cmd("RCPT TO:<fwd@example.org>").startswith("550 ")
        assert c.cmd("DATA")[:4] in ("503 ", "554 ")


def test_refusal_repeated_per_recipient(mx):
    """A message refused as a whole (a NUL byte) is refused once per
    recipient over LMTP (554 5.6.0 twice); nothing is stored."""
    subject = unique("lmtp-nul")
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject, body="nul\0\r\n") + b".\r\n")
        replies = c.replies(2)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert all(r.startswith("554 5.6.0 ") for r in replies), replies
    assert mx.find(ALICE, subject) == [] and mx.find(BOB, subject) == []


def test_bdat_over_lmtp(mx):
    """BDAT LAST over LMTP gets a reply per recipient too."""
    subject = unique("lmtp-bdat")
    msg = message(subject)
    with lmtp_client(mx) as c:
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        replies = c.replies(2)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert replies[0].startswith("250 2.0.0 <%s>" % ALICE)
    assert replies[1].startswith("250 2.0.0 <%s>" % BOB)
    assert len(mx.find(ALICE, subject)) == 1
