"""What the IMAP tests share: a facteurd serving IMAP (plain with
STARTTLS, and IMAPS) over maildir (or pgsql with FACTEUR_TEST_STORAGE:
harness.storage_config()), a raw IMAP client, and ways to put mail in.
This file holds no tests; the other test_imap*.py files import from it.

The server's config, as imap_config() writes it:

    load passwd-file maildir imap;
    maildir { location DIR/mail/%d/%n; }
    imap {
        listen 127.0.0.1:P1;              # .port (STARTTLS offered)
        listen 127.0.0.1:P2 tls;          # .imaps_port
        tls_certificate ...; tls_key ...;
        ... the test file's own lines
    }

Users u1@example.org ... u60@example.org, all with conftest.PASSWORD.
Tests sharing a server each take a user of their own (ImapServer.user()).
"""

import imaplib
import itertools
import os
import re
import subprocess

import harness
from conftest import PASSWORD
from harness import (FACTEURCTL, Client, Facteurd,
                     client_tls_context, facteurd_env, free_port, make_test_dir)
from test_smtp_support import make_mail_dir

USERS = ["u%d@example.org" % i for i in range(1, 61)]


class ImapClient(Client):
    """A raw line client: tagged commands, all the lines up to the
    tagged answer."""

    _tags = itertools.count(1)

    def greet(self):
        g = self.readline()
        assert g.startswith("* OK"), g
        return g

    def tagged(self, command, timeout=None):
        """Sends "tag command"; returns (untagged lines, tagged line)."""
        tag = "t%d" % next(self._tags)
        self.send((tag + " " + command + "\r\n").encode("utf-8"))
        return self.until(tag, timeout)

    def until(self, tag, timeout=None):
        lines = []
        while True:
            line = self.readline(timeout)
            if line.startswith(tag + " "):
                return lines, line[len(tag) + 1:]
            lines.append(line)

    def ok(self, command, timeout=None):
        lines, status = self.tagged(command, timeout)
        assert status.startswith("OK"), (command, status, lines)
        return lines

    def login(self, user, password=PASSWORD):
        return self.ok('LOGIN "%s" "%s"' % (user, password))


def message(subject, body="Hello.\n", extra=""):
    return ("From: Sender <sender@example.net>\nTo: <someone@example.org>\n"
            "Subject: %s\nDate: Mon, 7 Feb 1994 21:52:25 -0800\n%s\n%s"
            % (subject, extra, body)).encode()


class ImapServer:
    """A started facteurd with the IMAP module, and its mail."""

    def __init__(self, srv, directory, ports):
        self.srv = srv
        self.dir = directory
        self.conf = srv.conf_path
        self.port = ports["imap"]
        self.imaps_port = ports["imaps"]
        self._users = iter(USERS)
        self._files = itertools.count()

    def user(self):
        """A user no other test of this server has used."""
        return next(self._users)

    def quota_user(self):
        """The one user with limits: 1 MiB and 5 messages."""
        return USERS[-1]

    def client(self, greet=True, timeout=10.0):
        c = ImapClient(self.port, timeout=timeout)
        if greet:
            c.greet()
        return c

    def imaplib(self, user=None, tls=False):
        """An imaplib client (on the IMAPS port with tls), logged in
        when user is given."""
        if tls:
            m = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, timeout=10,
                                  ssl_context=client_tls_context())
        else:
            m = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        if user is not None:
            m.login(user, PASSWORD)
        return m

    def ctl(self, *args, check=True):
        r = subprocess.run([FACTEURCTL, "-c", self.conf] + list(args),
                           capture_output=True, env=facteurd_env(),
                           timeout=120)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def deliver(self, user, *messages, mailbox="INBOX"):
        """Imports messages (bytes) into a mailbox of the user, as
        delivery by another process; returns [(uidvalidity, uid)]."""
        paths = []
        for m in messages:
            p = os.path.join(self.dir, "in-%d.eml" % next(self._files))
            with open(p, "wb") as f:
                f.write(m)
            os.chmod(p, 0o644)
            paths.append(p)
        r = self.ctl("mailbox", "import", user, mailbox, *paths)
        for p in paths:
            os.unlink(p)
        out = []
        for line in r.stdout.decode().splitlines():
            _, v, u = line.split("\t")
            out.append((int(v), int(u)))
        return out

    def log(self):
        return self.srv.log()

    def wait_log(self, pattern, **kw):
        return self.srv.wait_log(pattern, **kw)


def write_users(directory, password_hash):
    path = os.path.join(directory, "passwd")
    with open(path, "w", encoding="utf-8") as f:
        for user in USERS:
            # the last user has limits (QUOTA tests)
            extra = "::::::quota=1M quota_messages=5" \
                if user == USERS[-1] else ""
            f.write("%s:%s%s\n" % (user, password_hash, extra))
    os.chmod(path, 0o644)


def imap_config(directory, ports, imap="", settings=None, tls_files=None):
    return harness.protocol_config(
        directory, "imap", ports["imap"], ports["imaps"], imap, settings,
        tls_files)


def module_imap_server(request, password_hash, tls_files, imap="",
                       settings=None, env=None):
    """A generator for a module-scoped fixture: one server for a whole
    test file, stopped and checked (no sanitizer report, no panic) at
    the end."""
    directory = make_test_dir("facteur-imap-")
    write_users(directory, password_hash)
    make_mail_dir(directory)
    ports = {"imap": free_port(), "imaps": free_port()}
    text = imap_config(directory, ports, imap, settings, tls_files)
    srv = Facteurd(directory, text, port=ports["imap"], env=env)
    srv.start()
    server = ImapServer(srv, directory, ports)
    server.cert = tls_files[0]
    yield server

    harness.stop_module_server(request, srv, directory)


def fetch_flags(lines):
    """{seq: set of flags} from untagged FETCH lines."""
    out = {}
    for l in lines:
        m = re.match(r"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", l)
        if m:
            out[int(m.group(1))] = set(m.group(2).split())
    return out
