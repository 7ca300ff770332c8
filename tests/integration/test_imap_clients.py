"""Real clients and options against one IMAP server with plaintext_auth
no (passwords only under TLS, even on loopback) and small limits:
mbsync (isync) syncing a mailbox both ways with flags, then again with
nothing to do; curl fetching a message over imaps://; LOGIN refused
before STARTTLS; the short timeout before login."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import PASSWORD
from harness import client_tls_context
from test_imap_support import message, module_imap_server

OPTIONS = """
plaintext_auth no;
max_literal_size 4k;
login_timeout 2s;
"""


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files,
                                  imap=OPTIONS)


def test_login_needs_tls(imap):
    """LOGINDISABLED and no AUTH= before STARTTLS; LOGIN and
    AUTHENTICATE refused with [PRIVACYREQUIRED]; after STARTTLS the
    login works."""
    user = imap.user()
    with imap.client() as c:
        caps = c.ok("CAPABILITY")[0].split()
        assert "LOGINDISABLED" in caps and "STARTTLS" in caps, caps
        assert not any(x.startswith("AUTH=") for x in caps), caps
        _, st = c.tagged('LOGIN "%s" "%s"' % (user, PASSWORD))
        assert st.startswith("NO [PRIVACYREQUIRED]"), st
        _, st = c.tagged("AUTHENTICATE PLAIN")
        assert st.startswith("NO [PRIVACYREQUIRED]"), st
        c.send(b"a STARTTLS\r\n")
        assert c.readline().startswith("a OK")
        c.starttls(send_command=False)
        caps = c.ok("CAPABILITY")[0].split()
        assert "AUTH=PLAIN" in caps and "LOGINDISABLED" not in caps, caps
        c.login(user)


def test_literal_limit(imap):
    """A literal in a command above max_literal_size gets NO [TOOBIG]
    before any byte is read."""
    with imap.client() as c:
        c.send(b"a LOGIN {5000}\r\n")
        assert c.readline().startswith("a NO [TOOBIG]")
        c.ok("NOOP")


def mbsync_config(imap, directory, user):
    local = os.path.join(directory, "local") + "/"
    os.makedirs(local, exist_ok=True)
    path = os.path.join(directory, "mbsyncrc")
    with open(path, "w") as f:
        f.write("""IMAPAccount test
Host localhost
Port %d
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
SystemCertificates no

IMAPStore remote
Account test

MaildirStore local
Path %s
Inbox %sINBOX

Channel test
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
""" % (imap.imaps_port, user, PASSWORD, imap.cert, local, local))
    return path, local


def run_mbsync(rc):
    r = subprocess.run(["mbsync", "-V", "-c", rc, "-a"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout.decode(errors="replace")[-3000:],
                               r.stderr.decode(errors="replace")[-3000:])
    return r.stdout.decode(errors="replace") + r.stderr.decode(
        errors="replace")


@pytest.mark.skipif(shutil.which("mbsync") is None,
                    reason="mbsync (isync) is not installed")
def test_mbsync_two_way(imap):
    user = imap.user()
    imap.deliver(user, message("first"), message("second"),
                 message("third"))
    directory = os.path.join(imap.dir, "mbsync-" + user)
    os.makedirs(directory)
    rc, local = mbsync_config(imap, directory, user)
    run_mbsync(rc)
    cur = os.path.join(local, "INBOX", "cur")
    new = os.path.join(local, "INBOX", "new")
    names = os.listdir(cur) + os.listdir(new)
    assert len(names) == 3, names
    # flag one locally (seen + flagged), add a local message
    src = os.path.join(new, os.listdir(new)[0]) if os.listdir(new) else \
        os.path.join(cur, os.listdir(cur)[0])
    base = os.path.basename(src).split(":2,")[0]
    os.rename(src, os.path.join(cur, base + ":2,FS"))
    with open(os.path.join(new, "1700000000.local.host"), "wb") as f:
        f.write(message("from the near side"))
    run_mbsync(rc)
    m = imap.imaplib(user, tls=True)
    m.select("INBOX")
    typ, data = m.search(None, "ALL")
    assert data[0].split() == [b"1", b"2", b"3", b"4"], data
    typ, data = m.search(None, "FLAGGED SEEN")
    assert len(data[0].split()) == 1, data
    typ, data = m.search(None, "SUBJECT", '"near side"')
    assert len(data[0].split()) == 1, data
    # a change on the server side comes back
    m.store("2", "+FLAGS", "(\\Answered)")
    m.logout()
    run_mbsync(rc)
    flags = [n.split(":2,")[1] for n in os.listdir(cur) if ":2," in n]
    assert any("R" in f for f in flags), flags
    # nothing left to do: a second run changes nothing on either side
    before = sorted(os.listdir(cur) + os.listdir(new))
    run_mbsync(rc)
    assert sorted(os.listdir(cur) + os.listdir(new)) == before
    m = imap.imaplib(user, tls=True)
    m.select("INBOX")
    typ, data = m.search(None, "ALL")
    assert len(data[0].split()) == 4
    m.logout()


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl_fetch(imap):
    user = imap.user()
    msg = message("for curl", body="curl body\n")
    imap.deliver(user, msg)
    r = subprocess.run(["curl", "-s", "--cacert", imap.cert,
                        "--user", "%s:%s" % (user, PASSWORD),
                        "imaps://localhost:%d/INBOX;UID=1" % imap.imaps_port],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == msg.replace(b"\n", b"\r\n"), r.stdout


def test_login_timeout(imap):
    """A connection idle before login is closed after login_timeout,
    with a BYE."""
    with imap.client() as c:
        start = time.monotonic()
        line = c.readline(timeout=10)
        assert line.startswith("* BYE Autologout"), line
        assert time.monotonic() - start < 5
        c.expect_closed()
