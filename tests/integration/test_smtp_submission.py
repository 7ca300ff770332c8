"""Submission (RFC 6409): authentication first (RFC 4954), over
STARTTLS (RFC 3207) or implicit TLS (RFC 8314), from loopback in clear
when plaintext_auth allows it; the sender must be the user; DSN
parameters (RFC 3461). Clients: smtplib, swaks and curl."""

import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import PASSWORD
from harness import b64, client_tls_context, free_port
from test_smtp_support import (ALICE, BOB, ehlo_keywords,
                               message, module_server, queue_id, smtp_server,
                               smtps_client, trace_fields, unique)

# smtp_server is a fixture: pytest finds it in this module by its name
__all__ = ["smtp_server"]

AUTH_OK = "235 2.7.0 Authentication successful"


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, with the test certificate and an
    implicit-TLS submission listener; remote domains are routed to a
    closed port (relayed mail waits in the queue)."""
    yield from module_server(request, password_hash, tls_files, tls=True,
                             smtp="route * 127.0.0.1:%d;\nqueue_fsync no;"
                             % free_port())


def plain(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def received(mx, user, subject):
    got = mx.find(user, subject)
    assert len(got) == 1, got
    fields, _ = trace_fields(got[0])
    return fields["Received"]


def test_mail_needs_auth(mx):
    """On submission, MAIL before AUTH is refused with 530 5.7.0
    (RFC 4954 6), and RCPT then is out of sequence."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % ALICE).startswith("530 5.7.0 ")
        assert c.cmd("RCPT TO:<%s>" % BOB).startswith("503 ")


def test_smtplib_starttls_plain(mx):
    """smtplib: STARTTLS, login (AUTH PLAIN), a message to a local user;
    the Received field says ESMTPSA (RFC 3848) and which TLS was used."""
    subject = unique("starttls")
    s = smtplib.SMTP("127.0.0.1", mx.sub_port, timeout=10,
                     local_hostname="laptop.example.net")
    try:
        s.ehlo()
        assert s.has_extn("starttls")
        assert s.starttls(context=client_tls_context())[0] == 220
        s.ehlo()
        assert "PLAIN" in s.esmtp_features["auth"].split()
        assert s.login(ALICE, PASSWORD)[0] == 235
        assert s.sendmail(ALICE, [BOB], message(subject, sender=ALICE,
                                                to=BOB)) == {}
    finally:
        s.quit()
    r = received(mx, BOB, subject)
    assert " with ESMTPSA id " in r, r
    assert re.search(r"\(using TLSv1\.[23] with cipher \S+\)", r), r


def test_smtplib_login_from_loopback(mx):
    """From loopback plaintext auth is allowed by default: AUTH LOGIN
    (smtplib's auth_login, no initial response) works without TLS; the
    Received field says ESMTPA."""
    subject = unique("login")
    s = smtplib.SMTP("127.0.0.1", mx.sub_port, timeout=10)
    try:
        s.ehlo()
        s.user, s.password = ALICE, PASSWORD
        assert s.auth("LOGIN", s.auth_login, initial_response_ok=False)[0] \
            == 235
        assert s.sendmail(ALICE, [BOB], message(subject, sender=ALICE)) == {}
    finally:
        s.quit()
    assert " with ESMTPA id " in received(mx, BOB, subject)


def test_auth_plain_and_login_by_hand(mx):
    """AUTH PLAIN with an initial response, AUTH PLAIN with an empty
    challenge (334), and AUTH LOGIN with its Username:/Password:
    challenges (base64, RFC 4954 4)."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN") == "334 "
        assert c.cmd(plain(ALICE, PASSWORD)) == AUTH_OK
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH LOGIN") == "334 " + b64("Username:")
        assert c.cmd(b64(ALICE)) == "334 " + b64("Password:")
        assert c.cmd(b64(PASSWORD)) == AUTH_OK
        assert c.cmd("MAIL FROM:<%s>" % ALICE) == "250 2.1.0 Ok"


def test_wrong_password(mx):
    """A wrong password is answered 535 5.7.8 no sooner than
    auth_failure_delay (300ms here), with PLAIN and with LOGIN; the
    session goes on and the right password then works."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        t0 = time.monotonic()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, "wrong")).startswith(
            "535 5.7.8 ")
        assert time.monotonic() - t0 >= 0.29
        assert c.cmd("AUTH LOGIN " + b64(ALICE)) == "334 " + b64("Password:")
        t0 = time.monotonic()
        assert c.cmd(b64("also wrong")).startswith("535 5.7.8 ")
        assert time.monotonic() - t0 >= 0.29
        assert c.cmd("MAIL FROM:<%s>" % ALICE).startswith("530 ")
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK


def test_auth_sequence_rules(mx):
    """AUTH before EHLO is 503; an unknown mechanism is 504; "*" cancels
    with 501 (RFC 4954 4); AUTH once logged in is 503, and so is AUTH
    during a mail transaction (RFC 4954 4)."""
    with mx.client(port=mx.sub_port) as c:
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)).startswith(
            "503 ")
        c.ehlo()
        assert c.cmd("AUTH CRAM-MD5").startswith("504 ")
        assert c.cmd("AUTH LOGIN") == "334 " + b64("Username:")
        assert c.cmd("*").startswith("501 ")
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)).startswith(
            "503 ")
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)).startswith(
            "503 ")


def test_sender_must_be_the_user(mx):
    """sender_login_match (the default): once logged in as alice, MAIL
    FROM another address, or the null sender, is refused with 553
    5.7.1; her own address is taken in any case."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
        assert c.cmd("MAIL FROM:<%s>" % BOB).startswith("553 5.7.1 ")
        assert c.cmd("MAIL FROM:<>").startswith("553 5.7.1 ")
        assert c.cmd("MAIL FROM:<ALICE@Example.ORG> AUTH=<>") == \
            "250 2.1.0 Ok"


def test_submission_relays(mx):
    """An authenticated user sends anywhere: a remote recipient is
    taken and the message queued."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
        assert c.cmd("MAIL FROM:<%s>" % ALICE) == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<friend@example.net>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(unique("out"), sender=ALICE,
                       to="friend@example.net") + b".\r\n")
        qid = queue_id(c.reply())
    mx.wait_log(r"event=queued id=%s rcpts=1" % qid)


def test_dsn_parameters(mx):
    """Submission takes RET, ENVID, NOTIFY and ORCPT (RFC 3461 4) and
    refuses bad values (501); the smtp listener, which does not offer
    DSN, refuses them as unknown parameters (555, RFC 5321 4.1.1.11)."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
        assert c.cmd("MAIL FROM:<%s> RET=BOGUS" % ALICE).startswith("501 ")
        assert c.cmd("MAIL FROM:<%s> RET=HDRS ENVID=QQ+2B1" % ALICE) == \
            "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE "
                     "ORCPT=rfc822;bob+40example.org" % BOB) == \
            "250 2.1.5 Ok"
        assert c.cmd("RCPT TO:<%s> NOTIFY=NEVER,SUCCESS" % BOB) \
            .startswith("501 ")
        assert c.cmd("RCPT TO:<%s> NOTIFY=SOMETIMES" % BOB).startswith(
            "501 ")
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net> RET=HDRS").startswith(
            "555 ")
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s> NOTIFY=NEVER" % ALICE).startswith("555 ")


def test_starttls_injection(mx):
    """Commands sent in clear behind STARTTLS, in the same packet, are
    thrown away (RFC 3207 5, CVE-2011-0411): after the handshake the
    first reply is for the first command sent over TLS."""
    with mx.client(port=mx.sub_port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<injected@example.net>\r\n"
               b"RCPT TO:<bob@example.org>\r\n")
        assert c.reply() == "220 2.0.0 Ready to start TLS"
        assert c.buf == b""
        c.sock = client_tls_context().wrap_socket(
            c.sock, server_hostname="localhost")
        c.sock.settimeout(c.timeout)
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" not in kw
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
    assert "injected@example.net" not in mx.log()


def test_starttls_forgets_the_session(mx):
    """After STARTTLS the client must say EHLO again (RFC 3207 4.2):
    MAIL before it is out of sequence."""
    with mx.client() as c:
        c.ehlo()
        c.starttls()
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("503 ")
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"


def test_plaintext_auth_no(smtp_server):
    """With plaintext_auth no, AUTH is not offered before STARTTLS, and
    AUTH then is refused with 538 5.7.11 (RFC 4954 6); after STARTTLS it
    is offered and works."""
    srv = smtp_server(smtp="plaintext_auth no;", tls=True)
    with srv.client(port=srv.sub_port) as c:
        kw = ehlo_keywords(c.ehlo())
        assert "AUTH" not in kw and "STARTTLS" in kw
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)).startswith(
            "538 5.7.11 ")
        assert c.cmd("MAIL FROM:<%s>" % ALICE).startswith("530 ")
        c.starttls()
        kw = ehlo_keywords(c.ehlo())
        assert kw["AUTH"].split() == ["PLAIN", "LOGIN"]
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK
        assert c.cmd("MAIL FROM:<%s>" % ALICE) == "250 2.1.0 Ok"
    with smtps_client(srv.smtps_port) as c:
        c.greet()
        assert "AUTH" in ehlo_keywords(c.ehlo())
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == AUTH_OK


def test_implicit_tls_smtplib(mx):
    """smtplib.SMTP_SSL on the `tls submission` listener: login and a
    message; the Received field says ESMTPSA."""
    subject = unique("smtps")
    s = smtplib.SMTP_SSL("127.0.0.1", mx.smtps_port, timeout=10,
                         context=client_tls_context())
    try:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert s.login(ALICE, PASSWORD)[0] == 235
        assert s.sendmail(ALICE, [BOB], message(subject, sender=ALICE)) == {}
    finally:
        s.quit()
    assert " with ESMTPSA id " in received(mx, BOB, subject)


def test_implicit_tls_curl(mx, test_dir):
    """curl smtps:// with a login sends a file to a local user; curl
    exits 0 and the file is the message stored."""
    subject = unique("curl-smtps")
    msg = message(subject, sender=ALICE, to=BOB)
    path = os.path.join(test_dir, "mail.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(
        ["curl", "--silent", "--show-error", "--insecure",
         "--max-time", "20", "smtps://127.0.0.1:%d" % mx.smtps_port,
         "--user", "%s:%s" % (ALICE, PASSWORD),
         "--mail-from", ALICE, "--mail-rcpt", BOB, "--upload-file", path],
        capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got = mx.find(BOB, subject)
    assert len(got) == 1
    _, rest = trace_fields(got[0])
    assert rest == msg.replace(b"\r\n", b"\n")


def swaks_has_tls():
    r = subprocess.run(["swaks", "--support"], capture_output=True,
                       text=True)
    return "TLS supported" in r.stdout + r.stderr


def run_swaks(args):
    return subprocess.run(["swaks", "--silent", "2", "--timeout", "20"] +
                          args, capture_output=True, text=True, timeout=60)


def test_swaks_auth_login(mx):
    """swaks with AUTH LOGIN on submission from loopback: exit 0 and
    the message stored."""
    subject = unique("swaks-auth")
    r = run_swaks(["--server", "127.0.0.1:%d" % mx.sub_port,
                   "--auth", "LOGIN", "--auth-user", ALICE,
                   "--auth-password", PASSWORD,
                   "--from", ALICE, "--to", BOB,
                   "--header", "Subject: %s" % subject,
                   "--body", "sent by swaks"])
    assert r.returncode == 0, r.stdout + r.stderr
    got = mx.find(BOB, subject)
    assert len(got) == 1
    # swaks ends its body with two empty lines of its own
    assert got[0].endswith(b"\n\nsent by swaks\n\n\n")


@pytest.mark.skipif(not swaks_has_tls(),
                    reason="swaks without TLS (install libnet-ssleay-perl)")
def test_swaks_starttls_auth_plain(mx):
    """swaks with STARTTLS and AUTH PLAIN on submission: exit 0 and the
    message stored."""
    subject = unique("swaks-tls")
    r = run_swaks(["--server", "127.0.0.1:%d" % mx.sub_port, "--tls",
                   "--auth", "PLAIN", "--auth-user", ALICE,
                   "--auth-password", PASSWORD,
                   "--from", ALICE, "--to", BOB,
                   "--header", "Subject: %s" % subject,
                   "--body", "sent by swaks over TLS"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert " with ESMTPSA id " in received(mx, BOB, subject)
