"""Mail for local users over SMTP: what ends up in the maildir (the trace
fields, the body byte for byte), refusals at RCPT, and the body's hard
cases: dot-stuffing, bare LF, NUL bytes, long lines, the size limit, a
client gone in the middle, a full mailbox, SMTPUTF8."""

import email.utils
import os
import re
import smtplib
import time

import pytest

import harness
from test_smtp_support import (ALICE, BOB, CAROL, DORA, HOSTNAME, JOERG,
                               QUEUED, crlf_to_lf, message, module_server,
                               queue_id, smtp_server, trace_fields, unique)

# smtp_server is a fixture: pytest finds it in this module by its name
__all__ = ["smtp_server"]

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, with max_message_size 64k."""
    yield from module_server(request, password_hash, tls_files,
                             smtp="max_message_size 64k;")


def smtplib_client(mx):
    s = smtplib.SMTP("127.0.0.1", mx.port, local_hostname="client.example.net",
                     timeout=10)
    s.ehlo()
    return s


def send_raw(c, sender, rcpts, data):
    """MAIL, RCPT, DATA on a client after EHLO; data is sent as it is
    and must end with the final dot line. Returns the final reply."""
    assert c.cmd("MAIL FROM:<%s>" % sender) == "250 2.1.0 Ok"
    for r in rcpts:
        assert c.cmd("RCPT TO:<%s>" % r) == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354 ")
    c.send(data)
    return c.reply()


def test_smtplib_delivery(mx):
    """smtplib sends to a local user: 250 with a queue id; facteurctl
    shows the message with Return-Path, Delivered-To and a Received
    field "from HELO ([ip]) by host (facteur) with ESMTP id ID for
    <rcpt>; date" (RFC 5321 4.4) on top of the message as sent."""
    subject = unique("smtplib")
    msg = message(subject, body="First line.\r\nSecond line.\r\n")
    s = smtplib_client(mx)
    try:
        assert s.mail("sender@example.net")[0] == 250
        assert s.rcpt(ALICE)[0] == 250
        code, text = s.data(msg)
    finally:
        s.quit()
    assert code == 250
    qid = queue_id("250 " + text.decode())
    stored = mx.fetch(ALICE, mx.uids(ALICE)[-1])
    assert ("\nSubject: %s\n" % subject).encode() in stored
    fields, rest = trace_fields(stored)
    assert fields["Return-Path"] == "<sender@example.net>"
    assert fields["Delivered-To"] == ALICE
    m = re.match(r"^from client\.example\.net \(\[127\.0\.0\.1\]\) by %s "
                 r"\(facteur\) with ESMTP id %s for <%s>; (.+)$"
                 % (re.escape(HOSTNAME), qid, re.escape(ALICE)),
                 fields["Received"])
    assert m, fields["Received"]
    date = email.utils.parsedate_to_datetime(m.group(1))
    assert abs(time.time() - date.timestamp()) < 300
    assert rest == crlf_to_lf(msg)


def test_unknown_user(mx):
    """An unknown user of a local domain is refused at RCPT with 550
    5.1.1; the transaction goes on with the others, and smtplib reports
    the refused one."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<nobody@example.org>").startswith(
            "550 5.1.1 ")
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"
    subject = unique("unknown")
    s = smtplib_client(mx)
    try:
        refused = s.sendmail("sender@example.net",
                             ["nobody@example.org", ALICE],
                             message(subject))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("sender@example.net", ["nobody@example.org"],
                       message(subject))
    finally:
        s.quit()
    assert list(refused) == ["nobody@example.org"]
    assert refused["nobody@example.org"][0] == 550
    assert len(mx.find(ALICE, subject)) == 1


def test_several_recipients(mx):
    """One message to two users: each gets one copy with its own
    Delivered-To; the Received field names no recipient then."""
    subject = unique("several")
    s = smtplib_client(mx)
    try:
        assert s.sendmail("sender@example.net", [ALICE, BOB],
                          message(subject)) == {}
    finally:
        s.quit()
    for user in (ALICE, BOB):
        got = mx.find(user, subject)
        assert len(got) == 1, user
        fields, _ = trace_fields(got[0])
        assert fields["Delivered-To"] == user
        assert " for <" not in fields["Received"]


def test_null_sender(mx):
    """The null reverse-path <> (a bounce) is taken and becomes
    Return-Path: <>."""
    subject = unique("bounce")
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "", [ALICE], message(subject) + b".\r\n")
    assert QUEUED.match(reply), reply
    fields, _ = trace_fields(mx.find(ALICE, subject)[0])
    assert fields["Return-Path"] == "<>"


def test_dot_stuffing_undone(mx):
    """Lines starting with a dot arrive as the sender wrote them: the
    client doubles the dot (RFC 5321 4.5.2), the server takes one away.
    smtplib does the stuffing itself."""
    subject = unique("dots")
    body = ".hidden\r\n..two dots\r\n.\r\n. space\r\nend.\r\n"
    msg = message(subject, body=body)
    s = smtplib_client(mx)
    try:
        assert s.sendmail("sender@example.net", [ALICE], msg) == {}
    finally:
        s.quit()
    _, rest = trace_fields(mx.find(ALICE, subject)[0])
    assert rest == crlf_to_lf(msg)


def test_bare_lf_accepted(mx):
    """A bare LF in DATA is accepted and stored as a proper line end:
    that is the module's documented choice (smtp_data.c, as Postfix
    does by default). The stored message is the same as if the client
    had sent CRLF, and the log says bare_lf=yes."""
    subject = unique("barelf")
    with mx.client() as c:
        c.ehlo()
        data = message(subject).replace(b"Hello.\r\n", b"") + \
            b"one\ntwo\r\nthree\n\r\n.\r\n"
        reply = send_raw(c, "sender@example.net", [ALICE], data)
    qid = queue_id(reply)
    _, rest = trace_fields(mx.find(ALICE, subject)[0])
    assert rest.endswith(b"\n\none\ntwo\nthree\n\n")
    assert b"\r" not in rest
    mx.wait_log(r"event=data id=%s .*bare_lf=yes" % qid)


def test_smuggled_end_of_data_is_content(mx):
    """Only CRLF "." CRLF ends DATA. "." between bare LFs, or with a
    bare LF on one side, is content (the SMTP smuggling shapes): the
    commands behind it are stored as text, not run."""
    subject = unique("smuggle")
    smuggled = (b"a\n.\nMAIL FROM:<evil@example.net>\r\n"
                b"RCPT TO:<bob@example.org>\r\nDATA\r\n"
                b"b\r\n.\nRSET\r\n"
                b"c\n.\r\nNOOP\r\n")
    data = message(subject, body="") + smuggled + b".\r\n"
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [ALICE], data)
        assert QUEUED.match(reply), reply
        # nothing else was answered: the next reply is NOOP's
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    stored = mx.find(ALICE, subject)
    assert len(stored) == 1
    _, rest = trace_fields(stored[0])
    assert b"MAIL FROM:<evil@example.net>\nRCPT TO:<bob@example.org>\n" \
        in rest
    assert rest.endswith(b"NOOP\n")
    assert "evil@example.net" not in mx.log()


def test_nul_refused(mx):
    """A message with a NUL byte is refused with 554 5.6.0 after its end
    (reject_nul, the default), nothing is stored, and the session goes
    on with the next message."""
    subject = unique("nul")
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [ALICE],
                         message(subject, body="zero\0byte\r\n") + b".\r\n")
        assert reply.startswith("554 5.6.0 "), reply
        ok = unique("after-nul")
        reply = send_raw(c, "sender@example.net", [ALICE],
                         message(ok) + b".\r\n")
        assert QUEUED.match(reply), reply
    assert mx.find(ALICE, subject) == []
    assert len(mx.find(ALICE, ok)) == 1


def test_long_line_kept(mx):
    """A body line of 5,000 bytes, five times what RFC 5321 4.5.3.1.6
    promises, is accepted and stored intact, not wrapped or cut."""
    subject = unique("longline")
    line = "".join(chr(ord("a") + i % 26) for i in range(5000))
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [ALICE],
                         message(subject, body=line + "\r\n") + b".\r\n")
    assert QUEUED.match(reply), reply
    _, rest = trace_fields(mx.find(ALICE, subject)[0])
    assert rest.endswith(b"\n\n" + line.encode() + b"\n")


def body_of_size(subject, size):
    """A message of exactly size bytes as the server counts them: lines
    of 78 characters, no line starting with a dot."""
    data = message(subject, body="")
    while size - len(data) > 82:
        data += b"y" * 78 + b"\r\n"
    data += b"z" * (size - len(data) - 2) + b"\r\n"
    assert len(data) == size
    return data


def test_size_limit_at_end_of_data(mx):
    """max_message_size is 64k: a message of exactly 65536 bytes is
    taken; one byte more is read to its end and refused with 552 5.3.4
    (RFC 5321 4.5.3.1.10), nothing is stored, and the session goes on
    with the next message. A "QUIT" inside the refused body is body."""
    fits, big, after = unique("fits"), unique("toobig"), unique("after")
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [ALICE],
                         body_of_size(fits, LIMIT) + b".\r\n")
        assert QUEUED.match(reply), reply
        data = body_of_size(big, LIMIT + 1)
        data = data[:1000] + b"QUIT\r\n" + data[1006:] + b"QUIT\r\n"
        reply = send_raw(c, "sender@example.net", [ALICE], data + b".\r\n")
        assert reply.startswith("552 5.3.4 "), reply
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        reply = send_raw(c, "sender@example.net", [ALICE],
                         message(after) + b".\r\n")
        assert QUEUED.match(reply), reply
    assert len(mx.find(ALICE, fits)) == 1
    assert mx.find(ALICE, big) == []
    assert len(mx.find(ALICE, after)) == 1


def test_size_parameter(mx):
    """MAIL's SIZE= above max_message_size is refused at once with 552
    5.3.4 (RFC 1870 6); at the limit it is taken; a bad SIZE is a
    syntax error (501)."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=%d" % (LIMIT + 1)) \
            .startswith("552 5.3.4 ")
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=99999999999999999999") \
            .startswith("552 5.3.4 ")
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=ten") \
            .startswith("501 ")
        assert c.cmd("MAIL FROM:<a@example.net> SIZE=%d" % LIMIT) == \
            "250 2.1.0 Ok"


def test_8bitmime(mx):
    """BODY=8BITMIME is taken and an 8-bit body is stored byte for
    byte; an unknown BODY value is refused (555, RFC 6152)."""
    subject = unique("8bit")
    body = "Gr\u00fc\u00dfe aus K\u00f6ln, \u00e7a va \u2603\r\n"
    msg = message(subject, body=body,
                  extra="Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n")
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net> BODY=BINARYMIME") \
            .startswith("555 ")
        assert c.cmd("MAIL FROM:<a@example.net> BODY=8BITMIME") == \
            "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(msg + b".\r\n")
        assert QUEUED.match(c.reply())
    _, rest = trace_fields(mx.find(ALICE, subject)[0])
    assert rest == crlf_to_lf(msg)


def test_disconnect_mid_data(mx):
    """A client that goes away in the middle of DATA leaves nothing
    delivered: not in new/ or cur/, not half-written in tmp/, and the
    log shows no end of data or delivery for the transaction."""
    subject = unique("gone")
    sender = "%s@example.net" % subject
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % sender) == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject, body="x" * 20000 + "\r\nand more"))
        line = mx.wait_log(r"event=mail id=\S+ from=<%s>" % sender)[0]
    session = re.search(r"session=(\S+)", line).group(1)
    tid = re.search(r" id=(\S+)", line).group(1)
    mx.wait_log(r"session=%s event=disconnect" % session)
    assert mx.find(ALICE, subject) == []
    if not harness.on_pgsql():
        # maildir's half-written files would be in tmp/
        tmp = os.path.join(mx.mail, "example.org", "alice", "tmp")
        assert not os.path.isdir(tmp) or os.listdir(tmp) == []
    log = mx.log()
    assert "event=data id=%s " % tid not in log
    assert "event=deliver id=%s " % tid not in log


def test_over_quota(mx):
    """carol's quota is 2k. A message that fits is stored; one that
    does not is answered 452 4.2.2 (RFC 3463: mailbox full) after its
    end and nothing is stored: the sending server keeps the message and
    tries again later, and no bounce goes to a sender who may be
    forged."""
    small, big = unique("fits-quota"), unique("over-quota")
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [CAROL],
                         message(small) + b".\r\n")
        assert QUEUED.match(reply), reply
        reply = send_raw(c, "sender@example.net", [CAROL],
                         message(big, body="q" * 3000 + "\r\n") + b".\r\n")
        assert reply.startswith("452 4.2.2 "), reply
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert len(mx.find(CAROL, small)) == 1
    assert mx.find(CAROL, big) == []


def test_over_quota_at_rcpt(mx):
    """dora's quota is one message. The first is stored; once her
    mailbox is full, her RCPT is answered 452 4.2.2 at once (the client
    keeps the message), while alice's in the same transaction is 250."""
    subject = unique("fills-dora")
    with mx.client() as c:
        c.ehlo()
        reply = send_raw(c, "sender@example.net", [DORA],
                         message(subject) + b".\r\n")
        assert QUEUED.match(reply), reply
        assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % DORA).startswith("452 4.2.2 ")
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert len(mx.find(DORA, subject)) == 1


def test_smtputf8_needed_for_utf8_address(mx):
    """A UTF-8 address without SMTPUTF8 on MAIL is refused with 553
    5.6.7 (RFC 6531 3.5), as a recipient and as a sender."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        c.send(("RCPT TO:<%s>\r\n" % JOERG).encode("utf-8"))
        assert c.reply().startswith("553 5.6.7 ")
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        c.send(("MAIL FROM:<%s>\r\n" % JOERG).encode("utf-8"))
        assert c.reply().startswith("553 5.6.7 ")


def test_smtputf8_delivery(mx):
    """With SMTPUTF8 (smtplib's mail_options) a UTF-8 recipient that
    exists gets the message, with UTF-8 in its header fields; one that
    does not exist is 550 5.1.1."""
    subject = unique("utf8")
    msg = ("From: J\u00f6rg <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n"
           "\u00c4rger? Nein.\r\n" % (JOERG, JOERG, subject)).encode()
    s = smtplib_client(mx)
    try:
        assert s.has_extn("smtputf8")
        assert s.sendmail(JOERG, [JOERG], msg,
                          mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(JOERG, ["n\u00f6body@example.org"], msg,
                       mail_options=["SMTPUTF8"])
    finally:
        s.quit()
    assert list(e.value.recipients.values())[0][0] == 550
    got = mx.find(JOERG, subject)
    assert len(got) == 1
    fields, rest = trace_fields(got[0])
    assert fields["Delivered-To"] == JOERG
    assert fields["Return-Path"] == "<%s>" % JOERG
    assert rest == crlf_to_lf(msg)


def test_many_messages_one_session(mx):
    """Twenty messages in one session each get their own queue id and
    are all stored."""
    subjects = [unique("seq%d" % i) for i in range(20)]
    ids = set()
    with mx.client() as c:
        c.ehlo()
        for subject in subjects:
            reply = send_raw(c, "sender@example.net", [BOB],
                             message(subject) + b".\r\n")
            ids.add(queue_id(reply))
    assert len(ids) == 20
    for subject in subjects:
        assert len(mx.find(BOB, subject)) == 1
