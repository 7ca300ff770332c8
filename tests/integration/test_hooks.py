"""Filter hooks as the SMTP module runs them: every verdict a filter can
give at every point (connect, HELO, MAIL, RCPT, end of data, delivered),
including answers given later from the event loop. The filter is
tests/modules/testfilter, which acts on words the test puts in the
transaction."""

import os
import pwd
import smtplib
import socket
import subprocess

import pytest

import harness
from harness import FACTEURCTL, IS_ROOT, facteurd_env, free_port, wait_for


@pytest.fixture
def mx(facteurd, test_dir, password_hash):
    """facteurd with smtp on a port, the test filter loaded, mail for
    alice@example.org in test_dir/mail."""
    port = free_port()
    mail = os.path.join(test_dir, "mail")
    os.mkdir(mail, 0o755)
    if IS_ROOT:
        pw = pwd.getpwnam(harness.SERVICE_USER)
        os.chown(mail, pw.pw_uid, pw.pw_gid)
    count = os.path.join(test_dir, "delivered.count")
    with open(count, "w"):
        pass
    os.chmod(count, 0o666)
    top = harness.default_settings(test_dir)
    top["state_dir"] = os.path.join(test_dir, "state")
    lines = ["%s %s;" % kv for kv in top.items()]
    lines += [
        "load passwd-file maildir smtp testfilter;",
        "passwd-file { path passwd; }",
        "maildir { location %s/%%d/%%n; }" % mail,
        "testfilter { count_file %s; }" % count,
        "smtp {",
        "    local_domains example.org;",
        "    listen 127.0.0.1:%d;" % port,
        "}",
    ]
    srv = facteurd(text="\n".join(lines) + "\n", port=port,
                   users={"alice@example.org": password_hash,
                          "deny-me@example.org": password_hash})
    srv.smtp_port = port
    srv.count_file = count
    srv.conf_path = os.path.join(test_dir, "facteurd.conf")
    return srv


def ctl(srv, *args):
    return subprocess.run([FACTEURCTL, "-c", srv.conf_path] + list(args),
                          capture_output=True, env=facteurd_env(),
                          timeout=60)


def messages(srv, folder="INBOX"):
    r = ctl(srv, "mailbox", "messages", "alice@example.org", folder)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().splitlines()


def fetch(srv, uid, folder="INBOX"):
    r = ctl(srv, "mailbox", "fetch", "alice@example.org", folder, str(uid))
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def smtp(srv, source=None, helo="client.test"):
    s = smtplib.SMTP(timeout=10,
                     source_address=(source, 0) if source else None)
    s.connect("127.0.0.1", srv.smtp_port)
    s.ehlo(helo)
    return s


def send(srv, action=None, rcpts=("alice@example.org",), sender="x@y.test"):
    body = "Subject: hook test\r\n"
    if action:
        body += "X-Test-Action: %s\r\n" % action
    body += "\r\nbody\r\n"
    s = smtp(srv)
    try:
        return s.sendmail(sender, list(rcpts), body)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def test_connect_reject_replaces_greeting(mx):
    """A connect hook's rejection is the greeting: 554 with the filter's
    text, and the connection closes (RFC 5321 3.1)."""
    with socket.create_connection(("127.0.0.1", mx.smtp_port),
                                  source_address=("127.0.0.3", 0)) as c:
        c.settimeout(5)
        got = c.recv(1000)
        assert got.startswith(b"554 5.7.1 testfilter refuses you"), got
        assert c.recv(1000) == b""


def test_helo_verdicts(mx):
    """HELO: a rejection (550) and a temporary failure (450) leave the
    client unable to send MAIL; an answer given later is waited for and
    then EHLO works."""
    s = smtp(mx, helo="reject.test")
    assert s.ehlo_resp is not None
    code, _ = s.ehlo("reject.test")
    assert code == 550
    code, _ = s.docmd("MAIL FROM:<a@b.test>")
    assert code == 503
    s.close()
    s = smtplib.SMTP("127.0.0.1", mx.smtp_port, timeout=10)
    code, _ = s.ehlo("tempfail.test")
    assert code == 450
    s.close()
    s = smtplib.SMTP("127.0.0.1", mx.smtp_port, timeout=10)
    code, _ = s.ehlo("pending.test")
    assert code == 250
    s.close()


def test_mail_and_rcpt_verdicts(mx):
    """MAIL from a blocked sender is refused; a recipient that passed our
    own checks (it exists) but that the filter refuses gets the filter's
    own reply while the others go through, and the message reaches only
    them."""
    with pytest.raises(smtplib.SMTPSenderRefused):
        send(mx, sender="blocked@evil.test")
    s = smtp(mx)
    s.mail("x@y.test")
    code, text = s.rcpt("deny-me@example.org")
    assert (code, text) == (550, b"5.7.1 denied by testfilter")
    assert s.rcpt("alice@example.org")[0] == 250
    code, _ = s.data("Subject: rcpt\r\n\r\nbody\r\n")
    assert code == 250
    s.quit()
    assert len(messages(mx)) == 1


def test_data_reject_and_tempfail(mx):
    """End of data: a rejection gives the filter's reply and nothing is
    delivered; a temporary failure gives 451."""
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mx, "reject")
    assert e.value.smtp_code == 550
    assert e.value.smtp_error == b"5.7.1 testfilter rejects this"
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(mx, "tempfail")
    assert e.value.smtp_code == 451
    assert messages(mx) == []


def test_data_disconnect(mx):
    """A filter may end the connection: 421, then the server closes."""
    s = smtp(mx)
    s.mail("x@y.test")
    s.rcpt("alice@example.org")
    code, _ = s.data("Subject: x\r\nX-Test-Action: disconnect\r\n\r\nb\r\n")
    assert code == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.noop()
    assert messages(mx) == []


def test_data_junk_folder_and_header(mx):
    """A filter's folder and header fields are honoured: the message goes
    to Junk with X-Testfilter added, not to INBOX."""
    send(mx, "junk")
    assert messages(mx) == []
    junk = messages(mx, "Junk")
    assert len(junk) == 1
    text = fetch(mx, junk[0].split("\t")[0], "Junk")
    assert "X-Testfilter: junk\n" in text


def test_data_pending_then_accept(mx):
    """A verdict given 200 ms later from the event loop: the client waits
    for it, the header added on the way is in the stored message, and a
    pipelined command after the message is answered after it, in
    order."""
    send(mx, "pending")
    uids = messages(mx)
    assert len(uids) == 1
    assert "X-Testfilter: waited\n" in fetch(mx, uids[0].split("\t")[0])


def test_delivered_notification(mx):
    """The DELIVERED notification runs once per local delivery, after the
    message is stored."""
    send(mx, rcpts=("alice@example.org",))
    wait_for(lambda: len(open(mx.count_file).read().split()) == 1, 5,
             what="one DELIVERED notification")
