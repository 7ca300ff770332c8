"""Real POP3 clients against facteur on loopback: Python's poplib (plain,
STLS, POP3S, AUTH), curl (pop3:// with and without STLS, pop3s://) and
fetchmail (POP3S and STLS, keep with UIDL, then delete). One server for
the whole file."""

import base64
import os
import poplib
import shutil
import subprocess

import pytest

from conftest import PASSWORD
from harness import client_tls_context
from test_pop3_support import crlf, message, module_pop3_server


@pytest.fixture(scope="module")
def pop3(request, password_hash, tls_files):
    yield from module_pop3_server(request, password_hash, tls_files)


def retr_all(p):
    """[(number, bytes)] of every message, as poplib gives them (CRLF
    removed from line ends, dot-stuffing undone)."""
    count, _ = p.stat()
    return [b"\n".join(p.retr(i)[1]) + b"\n" for i in range(1, count + 1)]


def lf(m):
    return m.replace(b"\r\n", b"\n")


def test_poplib_plain(pop3):
    user = pop3.user()
    msgs = [message("poplib %d" % i, b".dot\nline\n") for i in range(3)]
    ids = pop3.deliver(user, *msgs)
    p = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    assert "STLS" in caps and "USER" in caps
    p.user(user)
    p.pass_(PASSWORD)
    assert p.stat() == (3, sum(len(crlf(m)) for m in msgs))
    assert retr_all(p) == msgs
    assert p.uidl()[1] == [b"%d %08X%08X" % (i, uid, v)
                           for i, (v, uid) in enumerate(ids, 1)]
    p.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.retr(1)
    assert p.quit().startswith(b"+OK")
    assert len(pop3.messages(user)) == 2


def test_poplib_stls_and_pop3s(pop3):
    user = pop3.user()
    m = message("tls", b"over TLS\n")
    pop3.deliver(user, m)
    ctx = client_tls_context()
    p = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
    p.stls(context=ctx)
    assert "STLS" not in p.capa()
    p.user(user)
    p.pass_(PASSWORD)
    assert retr_all(p) == [m]
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", pop3.pop3s_port, context=ctx,
                        timeout=10)
    assert "STLS" not in p.capa()
    p.user(user)
    p.pass_(PASSWORD)
    assert retr_all(p) == [m]
    p.quit()


def test_poplib_auth_plain(pop3):
    """poplib has no AUTH helper; its command layer carries RFC 5034's
    initial response as any client's would."""
    user = pop3.user()
    pop3.deliver(user, message("auth"))
    p = poplib.POP3_SSL("127.0.0.1", pop3.pop3s_port,
                        context=client_tls_context(), timeout=10)
    assert "PLAIN" in p.capa()["SASL"]
    ir = base64.b64encode(b"\0%s\0%s" % (user.encode(),
                                         PASSWORD.encode())).decode()
    assert p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK Logged in")
    assert p.stat()[0] == 1
    p.quit()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-v", "--max-time", "20"] +
                       list(args), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout, r.stderr.decode(errors="replace")


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl(pop3):
    """curl lists and retrieves over pop3:// (SASL, as CAPA offers),
    with --ssl-reqd (STLS), and over pop3s:// (SASL LOGIN when asked
    for)."""
    user = pop3.user()
    msgs = [message("curl one"), message("curl two", b"..x\n.\nend\n")]
    pop3.deliver(user, *msgs)
    cred = "%s:%s" % (user, PASSWORD)
    url = "pop3://127.0.0.1:%d/" % pop3.port
    out, err = curl("-u", cred, url)
    assert out.decode().split("\r\n")[:2] == [
        "1 %d" % len(crlf(msgs[0])), "2 %d" % len(crlf(msgs[1]))]
    assert "> AUTH " in err, err
    out, err = curl("-u", cred, url + "2")
    assert out == crlf(msgs[1])
    out, err = curl("-u", cred, "--ssl-reqd", "-k", url + "1")
    assert out == crlf(msgs[0])
    assert "> STLS" in err, err
    out, err = curl("-u", cred, "-k", "--login-options", "AUTH=LOGIN",
                    "pop3s://127.0.0.1:%d/2" % pop3.pop3s_port)
    assert out == crlf(msgs[1])
    assert "> AUTH LOGIN" in err, err


FETCHMAILRC = """\
set no bouncemail
set no syslog
poll 127.0.0.1 with proto POP3 port {port} {uidl}
  user "{user}" there with password "{password}" is "root" here
  {ssl} no sslcertck
  {keep}
  mda "/bin/sh -c 'cat >> {out}'"
"""


def fetchmail(pop3, tmp, user, port, ssl, keep):
    rc = os.path.join(tmp, "fetchmailrc")
    out = os.path.join(tmp, "out.mbox")
    if os.path.exists(out):
        os.unlink(out)
    with open(rc, "w") as f:
        f.write(FETCHMAILRC.format(
            port=port, user=user, password=PASSWORD, out=out,
            uidl="uidl" if keep else "",
            ssl="ssl" if ssl else "sslproto tls1.2+",
            keep="keep" if keep else "nokeep fetchall"))
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=tmp, HOME=tmp)
    # as root fetchmail locks /var/run/fetchmail.pid whatever its home:
    # a lock of its own lets other fetchmails run on the machine
    r = subprocess.run(["fetchmail", "-f", rc, "-i",
                        os.path.join(tmp, "ids"), "-v",
                        "--pidfile", os.path.join(tmp, "fetchmail.pid")],
                       capture_output=True, env=env, timeout=60)
    # 0: mail came, 1: none waiting
    assert r.returncode in (0, 1), (r.stdout + r.stderr).decode()
    log = (r.stdout + r.stderr).decode(errors="replace")
    if not os.path.exists(out):
        return b"", log
    with open(out, "rb") as f:
        return f.read(), log


@pytest.mark.skipif(shutil.which("fetchmail") is None,
                    reason="no fetchmail (scripts/tools/setup-debian.sh "
                    "installs it)")
def test_fetchmail(pop3, tmp_path):
    """fetchmail over POP3S, keeping mail and remembering UIDLs, gets
    two messages, then only the third delivered after; over STLS
    without keep it gets all three and the maildrop is left empty."""
    user = pop3.user()
    tmp = str(tmp_path)
    pop3.deliver(user, message("fm one"), message("fm two", b".x\n"))
    got, log = fetchmail(pop3, tmp, user, pop3.pop3s_port, True, True)
    assert got.count(b"\nSubject: fm ") == 2, log
    assert b"\n.x\n" in got
    pop3.deliver(user, message("fm three"))
    got, log = fetchmail(pop3, tmp, user, pop3.pop3s_port, True, True)
    assert got.count(b"\nSubject: fm ") == 1, log
    assert b"Subject: fm three" in got
    assert len(pop3.messages(user)) == 3
    got, log = fetchmail(pop3, tmp, user, pop3.port, False, False)
    assert got.count(b"\nSubject: fm ") == 3, log
    assert "STLS" in log, log
    assert pop3.messages(user) == []
