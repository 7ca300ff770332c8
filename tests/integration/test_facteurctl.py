"""facteurctl's mailbox and deliver commands, run as an admin would: the
same config as facteurd, real files, the exit codes mail programs read.
"""

import os
import pwd
import subprocess

import pytest

import harness
from harness import FACTEURCTL, IS_ROOT, build_config, facteurd_env


@pytest.fixture
def ctl(test_dir, password_hash):
    """A config with passwd-file and maildir (mail under test_dir/mail)
    and a function running facteurctl with it."""
    with open(os.path.join(test_dir, "passwd"), "w") as f:
        f.write("alice@example.org:%s\n" % password_hash)
        f.write("bob@example.org:%s:::::: quota=1k\n" % password_hash)
    mail = os.path.join(test_dir, "mail")
    text = build_config(test_dir, harness.free_port(),
                        settings={"state_dir": os.path.join(test_dir,
                                                            "state")},
                        load=["passwd-file", "maildir"],
                        extra="maildir {\n    location %s/%%d/%%n;\n}\n" %
                        mail)
    conf = os.path.join(test_dir, "facteurd.conf")
    with open(conf, "w") as f:
        f.write(text)
    os.mkdir(mail, 0o755)
    if IS_ROOT:
        pw = pwd.getpwnam(harness.SERVICE_USER)
        os.chown(mail, pw.pw_uid, pw.pw_gid)

    def run(*args, stdin=None):
        return subprocess.run([FACTEURCTL, "-c", conf] + list(args),
                              input=stdin, capture_output=True,
                              env=facteurd_env(), timeout=60)
    run.mail = mail
    return run


def lines(r):
    return r.stdout.decode().splitlines()


def test_new_user_gets_default_mailboxes(ctl):
    """A user's first use creates INBOX and the special-use mailboxes,
    subscribed, with their attributes."""
    r = ctl("mailbox", "list", "alice@example.org")
    assert r.returncode == 0, r.stderr
    got = dict(l.split("\t") for l in lines(r))
    assert set(got) == {"INBOX", "Sent", "Drafts", "Trash", "Junk",
                        "Archive"}
    assert "\\Sent" in got["Sent"] and "\\Subscribed" in got["Sent"]
    assert "\\Junk" in got["Junk"]
    assert "\\Subscribed" in got["INBOX"]


def test_import_fetch_round_trip(ctl, test_dir):
    """import gives increasing UIDs under one UIDVALIDITY; fetch gives
    the message back with LF line ends; messages shows sizes as IMAP
    counts them (CRLF)."""
    msg = b"From: a@example.org\r\nSubject: one\r\n\r\nline\r\n"
    path = os.path.join(test_dir, "m.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = ctl("mailbox", "import", "alice@example.org", "INBOX", path, path)
    assert r.returncode == 0, r.stderr
    rows = [l.split("\t") for l in lines(r)]
    assert [row[2] for row in rows] == ["1", "2"]
    assert rows[0][1] == rows[1][1]

    r = ctl("mailbox", "fetch", "alice@example.org", "INBOX", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == msg.replace(b"\r\n", b"\n")

    r = ctl("mailbox", "messages", "alice@example.org", "INBOX")
    sizes = [l.split("\t")[2] for l in lines(r)]
    assert sizes == [str(len(msg))] * 2


def test_flags_and_expunge(ctl, test_dir):
    """flags changes the letters in the file name (S for \\Seen) and the
    keyword list; expunge removes the message and its file."""
    path = os.path.join(test_dir, "m.eml")
    with open(path, "wb") as f:
        f.write(b"Subject: x\n\nbody\n")
    assert ctl("mailbox", "import", "alice@example.org", "INBOX",
               path).returncode == 0
    r = ctl("mailbox", "flags", "alice@example.org", "INBOX", "1",
            "+\\Seen", "+\\Flagged", "+Work")
    assert r.returncode == 0, r.stderr
    row = lines(ctl("mailbox", "messages", "alice@example.org",
                    "INBOX"))[0].split("\t")
    assert row[1] == "(\\Seen \\Flagged Work)"
    cur = os.path.join(ctl.mail, "example.org", "alice", "cur")
    names = os.listdir(cur)
    assert len(names) == 1 and names[0].endswith(":2,FSa")

    r = ctl("mailbox", "expunge", "alice@example.org", "INBOX", "1")
    assert r.returncode == 0, r.stderr
    assert lines(ctl("mailbox", "messages", "alice@example.org",
                     "INBOX")) == []
    assert os.listdir(cur) == []


def test_deliver_adds_trace_and_uses_exit_codes(ctl):
    """deliver adds Return-Path; an unknown user exits 67 (EX_NOUSER),
    a user over quota 75 (EX_TEMPFAIL) and nothing is stored for them."""
    body = b"Subject: delivered\n\nhello\n"
    r = ctl("deliver", "alice@example.org", stdin=body)
    assert r.returncode == 0, r.stderr
    r = ctl("mailbox", "fetch", "alice@example.org", "INBOX", "1")
    assert r.stdout.startswith(b"Return-Path: <>\n")
    assert r.stdout.endswith(body)

    r = ctl("deliver", "nobody@example.org", stdin=body)
    assert r.returncode == 67, r.stderr

    big = b"Subject: big\n\n" + b"x" * 4096 + b"\n"
    r = ctl("deliver", "bob@example.org", stdin=big)
    assert r.returncode == 75, r.stderr
    assert lines(ctl("mailbox", "messages", "bob@example.org",
                     "INBOX")) == []


def test_deliver_to_missing_folder_creates_it(ctl):
    """A folder that does not exist is created for the delivery."""
    r = ctl("deliver", "alice@example.org", "Lists/Debian",
            stdin=b"Subject: l\n\nx\n")
    assert r.returncode == 0, r.stderr
    assert b"Lists/Debian" in r.stdout
    names = [l.split("\t")[0] for l in lines(ctl("mailbox", "list",
                                                 "alice@example.org"))]
    assert "Lists" in names and "Lists/Debian" in names


def test_bad_mailbox_names_refused(ctl):
    """Names that could leave the user's tree are refused before any
    file is touched."""
    for name in ("..", "a/../b", "/x", "x/", "a//b", "bad\x01name"):
        r = ctl("mailbox", "create", "alice@example.org", name)
        assert r.returncode == 1, name
        assert b"name" in r.stderr, r.stderr
    # nothing appeared next to the user's folder
    assert sorted(os.listdir(os.path.join(ctl.mail, "example.org"))) == \
        ["alice"]


@pytest.mark.skipif(not IS_ROOT, reason="needs root to check ownership")
def test_files_belong_to_the_service_user(ctl):
    """facteurctl run as root drops to the workers' user before it
    touches mail, so the workers can use what it made."""
    assert ctl("mailbox", "list", "alice@example.org").returncode == 0
    uid = pwd.getpwnam(harness.SERVICE_USER).pw_uid
    for top, dirs, files in os.walk(ctl.mail):
        for n in dirs + files:
            assert os.stat(os.path.join(top, n)).st_uid == uid, n
