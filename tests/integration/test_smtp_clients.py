"""Everyday clients from Debian, swaks and curl, delivering over SMTP;
and what the log says about a transaction: the same id on every line
of it, and never a password."""

import os
import re
import subprocess

import pytest

from conftest import PASSWORD
from harness import b64
from test_smtp_support import (ALICE, BOB, message, module_server,
                               queue_id, trace_fields, unique)


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file, logging at level debug."""
    yield from module_server(request, password_hash, tls_files,
                             settings={"log_level": "debug"})


def test_swaks_delivery(mx):
    """swaks --server --from --to --body delivers to a local user:
    exit 0, and the body is in the stored message."""
    subject = unique("swaks")
    r = subprocess.run(["swaks", "--silent", "2", "--timeout", "20",
                        "--server", "127.0.0.1:%d" % mx.port,
                        "--from", "sender@example.net", "--to", ALICE,
                        "--header", "Subject: %s" % subject,
                        "--body", "Hello from swaks."],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = mx.find(ALICE, subject)
    assert len(got) == 1
    fields, rest = trace_fields(got[0])
    assert fields["Return-Path"] == "<sender@example.net>"
    assert b"\n\nHello from swaks.\n" in rest


def test_curl_delivery(mx, test_dir):
    """curl smtp:// --mail-from --mail-rcpt --upload-file delivers a
    file to two local users: exit 0, and the file is what is stored."""
    subject = unique("curl")
    msg = message(subject, body=".starts with a dot\r\nbye\r\n")
    path = os.path.join(test_dir, "mail.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["curl", "--silent", "--show-error", "--max-time",
                        "20", "smtp://127.0.0.1:%d" % mx.port,
                        "--mail-from", "sender@example.net",
                        "--mail-rcpt", ALICE, "--mail-rcpt", BOB,
                        "--upload-file", path],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    for user in (ALICE, BOB):
        got = mx.find(user, subject)
        assert len(got) == 1
        _, rest = trace_fields(got[0])
        assert rest == msg.replace(b"\r\n", b"\n")


def transaction_lines(log, tid):
    return [l for l in log.splitlines() if " id=%s " % tid in l]


def test_log_lines_share_the_id(mx):
    """Every line of a transaction carries the id the client got in its
    250 reply: event=mail, event=rcpt (each), event=data, event=deliver
    (each), all from the same session. The next transaction in the
    session has an id of its own."""
    ids = []
    with mx.client() as c:
        c.ehlo()
        for subject in (unique("log1"), unique("log2")):
            assert c.cmd("MAIL FROM:<sender@example.net>") == "250 2.1.0 Ok"
            assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
            assert c.cmd("RCPT TO:<%s>" % BOB) == "250 2.1.5 Ok"
            assert c.cmd("DATA").startswith("354 ")
            c.send(message(subject) + b".\r\n")
            ids.append(queue_id(c.reply()))
    assert ids[0] != ids[1]
    for tid in ids:
        mx.wait_log(r"event=deliver id=%s " % tid, count=2)
        lines = transaction_lines(mx.log(), tid)
        events = [re.search(r" event=(\S+)", l).group(1) for l in lines]
        assert events == ["mail", "rcpt", "rcpt", "data", "deliver",
                          "deliver"], lines
        sessions = {re.search(r" session=(\S+)", l).group(1) for l in lines}
        assert len(sessions) == 1, lines
        assert "from=<sender@example.net>" in lines[0]
        assert "rcpt=<%s>" % ALICE in lines[1]
        assert all("result=ok" in l for l in lines[4:])


def test_no_password_in_the_log(mx, test_dir):
    """At log level debug, after good and wrong logins with AUTH PLAIN
    and AUTH LOGIN, by hand, by swaks and by curl, no password appears
    in the log, in clear or in base64."""
    wrong = "Wr0ng-smtp-pa55word"
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, wrong))) \
            .startswith("535 ")
        assert c.cmd("AUTH LOGIN") == "334 " + b64("Username:")
        assert c.cmd(b64(ALICE)) == "334 " + b64("Password:")
        assert c.cmd(b64(wrong)).startswith("535 ")
        assert c.cmd("AUTH LOGIN " + b64(ALICE)) == "334 " + b64("Password:")
        assert c.cmd(b64(PASSWORD)).startswith("235 ")
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, PASSWORD))) \
            .startswith("235 ")
    r = subprocess.run(["swaks", "--silent", "2", "--timeout", "20",
                        "--server", "127.0.0.1:%d" % mx.sub_port,
                        "--auth", "PLAIN", "--auth-user", ALICE,
                        "--auth-password", PASSWORD, "--from", ALICE,
                        "--to", BOB, "--body", "x"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    path = os.path.join(test_dir, "m.eml")
    with open(path, "wb") as f:
        f.write(message(unique("curl-auth"), sender=ALICE))
    r = subprocess.run(["curl", "--silent", "--show-error", "--max-time",
                        "20", "smtp://127.0.0.1:%d" % mx.sub_port,
                        "--user", "%s:%s" % (ALICE, PASSWORD),
                        "--mail-from", ALICE, "--mail-rcpt", BOB,
                        "--upload-file", path],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    mx.wait_log(r"event=auth result=ok", count=4)
    mx.wait_log(r"event=auth result=fail", count=2)
    log = mx.log()
    for secret in (wrong, PASSWORD, b64(wrong), b64(PASSWORD),
                   b64("\0%s\0%s" % (ALICE, wrong)),
                   b64("\0%s\0%s" % (ALICE, PASSWORD)),
                   b64("%s\0%s\0%s" % (ALICE, ALICE, PASSWORD))):
        assert secret not in log, secret
