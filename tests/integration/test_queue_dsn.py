"""Delivery status notifications beyond failures, the 8-bit downgrade,
and expiry at the start of an attempt.

The same setup as test_queue.py (its Peer, Mta and fixtures): facteurd A
with the fast queue (retry_min 1s, retry_max 2s, send_timeout 3s), and
scripted peers as next hops. Reports land in alice@example.org's INBOX,
read with facteurctl.

- NOTIFY=SUCCESS: "delivered" when the message is stored here (at DATA
  time, over LMTP, or by the queue), "relayed" when a next hop without
  DSN takes it, nothing when the next hop announces DSN (it got the
  NOTIFY); only recipients that asked are listed; never to <>.
- NOTIFY=DELAY: one "delayed" report after delay_warning, and the
  message still goes once the next hop takes it.
- A next hop without 8BITMIME gets 8-bit MIME mail as 7-bit MIME with
  the same decoded content; mail that cannot be converted is returned
  with 5.6.3.
- An entry past queue_lifetime when an attempt is due is reported at
  once, without that attempt.
"""

import os
import re
import smtplib
import time

import pytest

from conftest import PASSWORD
from harness import wait_for
from test_queue import (ALICE, BOB, delivery_report, free_port,  # noqa: F401
                        make_message, mta, parse, peer)

EVE = "eve@example.org"
FRANK = "frank@example.org"
LOCAL_USERS = {ALICE: "", EVE: "", FRANK: ""}


def reports(a):
    """Alice's INBOX, each message checked to be a report and given as
    (EmailMessage, delivery-status text, third part)."""
    return [delivery_report(m) for m in a.inbox(ALICE)]


def actions(status):
    """The (Final-Recipient, Action, Status) of each recipient block of
    a delivery-status text."""
    out = []
    for block in re.split(r"\r?\n\r?\n", status):
        rcpt = re.search(r"Final-Recipient: rfc822; ?(\S+)", block)
        if rcpt is None:
            continue
        out.append((rcpt.group(1),
                    re.search(r"Action: (\S+)", block).group(1),
                    re.search(r"Status: (\S+)", block).group(1)))
    return out


# ------------------------------------------------------------------ #
# NOTIFY=SUCCESS


def test_success_on_local_delivery_at_data_time(mta):
    """Mail stored at DATA time for a recipient with NOTIFY=SUCCESS gets
    one "delivered" report (Status 2.0.0), listing only the recipients
    that asked, with ENVID, ORCPT and the original per RET (HDRS here).
    A message whose recipients did not ask for SUCCESS gives none."""
    a = mta("a", users=LOCAL_USERS)
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(FRANK, ["NOTIFY=FAILURE"])[0] == 250
        assert s.rcpt(EVE, ["NOTIFY=DELAY"])[0] == 250
        assert s.data(make_message("nobody asked", to=EVE))[0] == 250
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE, ["RET=HDRS", "ENVID=succ+2Benv"])[0] == 250
        assert s.rcpt(EVE, ["NOTIFY=SUCCESS",
                            "ORCPT=rfc822;e+2Bv@example.org"])[0] == 250
        assert s.rcpt(FRANK)[0] == 250
        assert s.data(make_message("stored here", to=EVE,
                                   body="BODY NOT RETURNED\r\n"))[0] == 250
    assert len(a.wait_inbox(EVE, 2)) == 2
    assert len(a.wait_inbox(FRANK, 2)) == 2
    got = a.wait_inbox(ALICE, 1)
    a.wait_queue_empty()
    time.sleep(0.5)
    assert len(a.inbox(ALICE)) == 1, "a report for a recipient that did " \
        "not ask"
    msg, status, third = delivery_report(got[0])
    assert msg["Subject"] == "Successful Mail Delivery Report"
    assert msg["From"].addresses[0].addr_spec.startswith("MAILER-DAEMON@")
    assert actions(status) == [(EVE, "delivered", "2.0.0")], status
    assert re.search(r"Original-Envelope-Id: succ\+env", status), status
    assert re.search(r"Original-Recipient: rfc822; ?e\+v@example\.org",
                     status), status
    assert third.get_content_type() == "text/rfc822-headers"
    assert b"Subject: stored here" in got[0]
    assert b"BODY NOT RETURNED" not in got[0]
    assert "event=notify notify=" in a.log()


def test_success_over_lmtp_and_never_to_null_sender(mta):
    """Over LMTP (with lmtp_dsn) a recipient with NOTIFY=SUCCESS gets a
    "delivered" report with the whole message (RET=FULL); the same from
    the null sender gives none."""
    lmtp_port = free_port()
    a = mta("a", users=LOCAL_USERS,
            smtp="listen 127.0.0.1:%d lmtp;\nlmtp_dsn yes;" % lmtp_port)
    with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=15) as s:
        s.ehlo("mx.example.org")
        assert s.has_extn("dsn")
        assert s.mail("", ["RET=FULL"])[0] == 250
        assert s.rcpt(EVE, ["NOTIFY=SUCCESS"])[0] == 250
        s.putcmd("DATA")
        assert s.getreply()[0] == 354
        s.send(make_message("from nobody", sender="x@example.com",
                            to=EVE) + b".\r\n")
        assert s.getreply()[0] == 250
        assert s.mail(ALICE, ["RET=FULL"])[0] == 250
        assert s.rcpt(EVE, ["NOTIFY=SUCCESS,FAILURE"])[0] == 250
        assert s.rcpt(FRANK, ["NOTIFY=FAILURE"])[0] == 250
        s.putcmd("DATA")
        assert s.getreply()[0] == 354
        s.send(make_message("over lmtp", to=EVE,
                            body="WHOLE BODY\r\n") + b".\r\n")
        assert s.getreply()[0] == 250
        assert s.getreply()[0] == 250
    assert len(a.wait_inbox(EVE, 2)) == 2
    got = a.wait_inbox(ALICE, 1)
    a.wait_queue_empty()
    time.sleep(0.5)
    assert len(a.inbox(ALICE)) == 1
    _, status, third = delivery_report(got[0])
    assert actions(status) == [(EVE, "delivered", "2.0.0")], status
    assert third.get_content_type() == "message/rfc822"
    assert b"WHOLE BODY" in got[0]
    assert len(re.findall("event=notify", a.log())) == 1


def test_success_when_the_queue_delivers_locally(mta):
    """Of two local recipients with NOTIFY=SUCCESS, one is stored at
    DATA time and reported then; the other's mailbox is full, so the
    queue keeps it, and its "delivered" report comes when the queue
    delivers it once there is room, not before."""
    a = mta("a", users={ALICE: "", FRANK: "", EVE: "quota=1k"})
    assert a.submit(ALICE, [FRANK, EVE], make_message(
        "big", to=EVE, body=("y" * 70 + "\r\n") * 40),
        rcpt_options=["NOTIFY=SUCCESS"]) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert actions(status) == [(FRANK, "delivered", "2.0.0")], status
    a.wait_queue(lambda q: q and q[0]["attempts"] >= 1, timeout=10,
                 what="a retry of the local delivery")
    assert len(a.messages(ALICE)) == 1
    # room for it
    with open(os.path.join(a.dir, "passwd")) as f:
        text = f.read()
    tmp = os.path.join(a.dir, "passwd.new")
    with open(tmp, "w") as f:
        f.write(text.replace("quota=1k", "quota=1M"))
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(a.dir, "passwd"))
    assert a.ctl("queue", "flush").returncode == 0
    got = a.wait_inbox(ALICE, 2)
    assert len(a.messages(EVE)) == 1
    statuses = [actions(delivery_report(m)[1]) for m in got]
    assert [(EVE, "delivered", "2.0.0")] in statuses, statuses
    a.wait_queue_empty()


def test_relayed_to_a_hop_without_dsn(mta, peer):
    """A next hop without DSN takes the message: the recipient that
    asked for SUCCESS is reported "relayed", the one that did not is
    not listed; one report for the message."""
    p = peer()
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB, "carol@example.net"],
                    make_message("relay me"),
                    rcpt_options=["NOTIFY=SUCCESS,FAILURE"]) == {}
    # smtplib gives every RCPT the same options: a second message names
    # carol without NOTIFY
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(BOB, ["NOTIFY=SUCCESS"])[0] == 250
        assert s.rcpt("carol@example.net")[0] == 250
        assert s.data(make_message("relay two"))[0] == 250
    got = a.wait_inbox(ALICE, 2)
    a.wait_queue_empty()
    assert len(p.messages) == 2
    seen = sorted(actions(delivery_report(m)[1]) for m in got)
    assert seen == sorted([
        [(BOB, "relayed", "2.0.0"), ("carol@example.net", "relayed",
                                     "2.0.0")],
        [(BOB, "relayed", "2.0.0")]]), seen
    for m in got:
        assert parse(m)["Subject"] == "Successful Mail Delivery Report"


def test_no_report_when_the_next_hop_does_dsn(mta, peer):
    """A next hop that announces DSN gets NOTIFY=SUCCESS and reports
    itself: no report is made here."""
    p = peer(dsn=True)
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB], make_message("dsn hop"),
                    rcpt_options=["NOTIFY=SUCCESS"]) == {}
    a.wait_log(r"smtp-queue id=\w+ event=done")
    rcpt = [c for c in p.commands if c.startswith("RCPT")]
    assert rcpt == ["RCPT TO:<%s> NOTIFY=SUCCESS" % BOB], rcpt
    assert "event=notify" not in a.log()
    assert a.queue() == []
    assert a.messages(ALICE) == []


# ------------------------------------------------------------------ #
# NOTIFY=DELAY


def test_delay_report_once_then_delivered(mta, peer):
    """With delay_warning 1s and a next hop that defers, the recipient
    with NOTIFY=DELAY gets one "delayed" report (Status 4.x.x of the
    last attempt, Will-Retry-Until); the one without NOTIFY is not
    listed; the message stays queued, is sent once the hop takes it,
    and no second report follows."""
    p = peer(rcpt_default="451 4.3.2 come back later")
    a = mta("a", route=[("example.net", p.port)],
            smtp="delay_warning 1s;")
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(BOB, ["NOTIFY=DELAY,FAILURE"])[0] == 250
        assert s.rcpt("carol@example.net")[0] == 250
        assert s.data(make_message("slow hop"))[0] == 250
    t0 = time.monotonic()
    got = a.wait_inbox(ALICE, 1, timeout=15)
    assert time.monotonic() - t0 < 10
    msg, status, third = delivery_report(got[0])
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    assert actions(status) == [(BOB, "delayed", "4.3.2")], status
    assert "Will-Retry-Until: " in status
    assert "come back later" in status
    assert third.get_content()["Subject"] == "slow hop"
    q = a.queue()
    assert len(q) == 1 and all(r[0] == "pending" for r in q[0]["rcpts"])
    # still retried after the report, and not reported again
    n = len(p.rcpt_log)
    wait_for(lambda: len(p.rcpt_log) >= n + 2, 10, what="another retry")
    p.rcpt_default = "250 2.1.5 Ok"
    wait_for(lambda: p.messages, 10, what="the message to be sent")
    a.wait_queue_empty()
    assert sorted(p.messages[0]["rcpts"]) == [BOB, "carol@example.net"]
    assert len(a.inbox(ALICE)) == 1
    assert len(re.findall("event=notify", a.log())) == 1


def test_delay_warning_default_and_off(mta, peer):
    """delay_warning_default yes: a recipient given without NOTIFY is
    warned too, one with NOTIFY=FAILURE is not. delay_warning 0 on a
    second server: no warning however long the wait."""
    p = peer(rcpt_default="451 4.4.1 not now")
    a = mta("a", route=[("example.net", p.port)],
            smtp="delay_warning 1s;\ndelay_warning_default yes;")
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(BOB)[0] == 250
        assert s.rcpt("carol@example.net", ["NOTIFY=FAILURE"])[0] == 250
        assert s.data(make_message("default warned"))[0] == 250
    got = a.wait_inbox(ALICE, 1, timeout=15)
    _, status, _ = delivery_report(got[0])
    assert actions(status) == [(BOB, "delayed", "4.4.1")], status

    off = mta("a2", route=[("example.net", p.port)],
              smtp="delay_warning 0;\ndelay_warning_default yes;")
    assert off.submit(ALICE, [BOB], make_message("never warned"),
                      rcpt_options=["NOTIFY=DELAY,FAILURE"]) == {}
    off.wait_queue(lambda q: q and q[0]["attempts"] >= 3, timeout=15,
                   what="three attempts")
    assert off.messages(ALICE) == []
    assert "event=notify" not in off.log()


# ------------------------------------------------------------------ #
# 8BITMIME


EIGHT_BIT = (
    "From: <%s>\r\nTo: <%s>\r\nSubject: eight bits\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"xyz\"\r\n"
    "\r\n"
    "--xyz\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\u00fc\u00dfe aus K\u00f6ln = 100 \u20ac \r\n"
    ".a line with a dot\r\n"
    "%s\r\n"
    "--xyz\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n" % (ALICE, BOB, "\u00e9" * 300)).encode() + \
    bytes(range(128, 256)) + (
    "\r\n--xyz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "seven bits, left alone\r\n"
    "--xyz--\r\n").encode()


def test_8bit_to_a_hop_without_8bitmime_is_converted(mta, peer):
    """A next hop without 8BITMIME gets the 8-bit message as 7-bit MIME:
    no byte over 127, no line over 998 bytes, text parts in
    quoted-printable and the binary one in base64, and each part
    decodes to the original; MAIL has no BODY=8BITMIME. A 7-bit
    message goes byte for byte as it was."""
    p = peer(eightbit=False)
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB], EIGHT_BIT,
                    mail_options=["BODY=8BITMIME"]) == {}
    wait_for(lambda: p.messages, 10, what="the message to be sent")
    data = p.messages[0]["data"]
    assert max(data) < 128
    assert all(len(l) <= 1000 for l in data.split(b"\n"))
    mail = [c for c in p.commands if c.startswith("MAIL")][0]
    assert "BODY=" not in mail, mail
    sent, orig = parse(data), parse(EIGHT_BIT)
    sent_parts, orig_parts = list(sent.iter_parts()), list(orig.iter_parts())
    assert len(sent_parts) == len(orig_parts) == 3
    assert sent_parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert sent_parts[1]["Content-Transfer-Encoding"] == "base64"
    assert sent_parts[2]["Content-Transfer-Encoding"] is None
    for s, o in zip(sent_parts, orig_parts):
        assert s.get_content_type() == o.get_content_type()
        assert s.get_payload(decode=True) == o.get_payload(decode=True)
    assert b"\r\n\r\nseven bits, left alone\r\n--xyz--" in data
    a.wait_log(r"smtp-queue id=\w+ event=7bit")

    seven = make_message("plain ascii", body="-- \r\n.dot\r\nend\r\n")
    assert a.submit(ALICE, [BOB], seven) == {}
    wait_for(lambda: len(p.messages) == 2, 10, what="the second message")
    assert p.messages[1]["data"].endswith(seven)
    a.wait_queue_empty()
    assert a.messages(ALICE) == []


def test_8bit_that_cannot_be_converted_is_returned_with_5_6_3(mta, peer):
    """8-bit bytes in a header field cannot be made 7-bit: the next hop
    without 8BITMIME never gets the message, and the sender gets a
    failure report with Status 5.6.3."""
    p = peer(eightbit=False)
    a = mta("a", route=[("example.net", p.port)])
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: caf\u00e9\r\n"
           "MIME-Version: 1.0\r\n\r\nbody\r\n" % (ALICE, BOB)).encode()
    assert a.submit(ALICE, [BOB], msg, mail_options=["BODY=8BITMIME"]) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert actions(status) == [(BOB, "failed", "5.6.3")], status
    assert "8BITMIME" in status and "header" in status
    a.wait_queue_empty()
    assert p.messages == []
    assert not any(c.startswith("DATA") for c in p.commands)


# ------------------------------------------------------------------ #
# Expiry


def test_expiry_is_checked_when_an_attempt_starts(mta, peer):
    """An attempt due after queue_lifetime is not made: the message is
    reported expired at once. The next hop defers the first attempt and
    then hangs (send_timeout 6s); with queue_lifetime 2s the retry falls
    on the expiry, so the report comes 2 to 4 s after the message and
    the hop sees one connection, where one more attempt would have
    taken 6 s more."""
    p = peer(rcpt_default="451 4.3.2 later")
    a = mta("a", route=[("example.net", p.port)], fast=False,
            smtp="retry_min 1m;\nretry_max 1h;\nsend_timeout 6s;\n"
                 "queue_lifetime 2s;")
    t0 = time.monotonic()
    assert a.submit(ALICE, [BOB], make_message("expires at start")) == {}
    wait_for(lambda: p.rcpt_log, 10, what="the first attempt")
    p.silent = True
    got = a.wait_inbox(ALICE, 1, timeout=20)
    assert time.monotonic() - t0 < 7.5
    _, status, _ = delivery_report(got[0])
    assert "delivery time expired" in status
    assert "4.3.2 later" in status
    assert p.connections == 1
    a.wait_queue_empty()
