"""What the POP3 tests share: a facteurd serving POP3 (plain with STLS,
and POP3S) over maildir (or pgsql with FACTEUR_TEST_STORAGE:
harness.storage_config()), a raw POP3 client, and ways to put mail in
and look at it. This file holds no tests; the other test_pop3*.py files
import from it.

The server's config, as pop3_config() writes it:

    load passwd-file maildir pop3;
    maildir { location DIR/mail/%d/%n; }
    pop3 {
        listen 127.0.0.1:P1;              # .port (STLS offered)
        listen 127.0.0.1:P2 tls;          # .pop3s_port
        tls_certificate ...; tls_key ...;
        ... the test file's own lines
    }

Users u1@example.org ... u60@example.org, all with conftest.PASSWORD
(on pgsql storage with FACTEUR_TEST_AUTH=pgsql, in the database instead
of the passwd file).
Tests sharing a server each take a user of their own (Pop3Server.user()),
so their maildrops and locks never meet.
"""

import hashlib
import itertools
import os
import socket
import subprocess
import time

import harness
from harness import (FACTEURCTL, Client, Facteurd,
                     client_tls_context, facteurd_env,
                     free_port, make_test_dir)
from test_smtp_support import make_mail_dir

USERS = ["u%d@example.org" % i for i in range(1, 61)]


class Pop3Client(Client):
    """A line client for POP3: cmd() returns the status line, lines()
    reads a multi-line answer up to its "." and undoes dot-stuffing,
    body() gives a RETR or TOP answer as the bytes of the message."""

    def greet(self):
        g = self.readline()
        assert g.startswith("+OK"), g
        return g

    def lines(self, timeout=None):
        out = []
        while True:
            line = self.readline(timeout)
            if line == ".":
                return out
            out.append(line[1:] if line.startswith(".") else line)

    def raw_multiline(self, timeout=30.0):
        """A multi-line answer as bytes, up to and with CRLF.CRLF, as it
        came off the wire (still dot-stuffed)."""
        deadline = time.monotonic() + timeout
        while b"\r\n.\r\n" not in self.buf and not self.buf.startswith(
                b".\r\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no end of answer; have %d bytes"
                                     % len(self.buf))
            self._fill(left)
        if self.buf.startswith(b".\r\n"):
            end = 3
        else:
            end = self.buf.index(b"\r\n.\r\n") + 5
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def body(self, timeout=30.0):
        """The message of a RETR/TOP answer: dot-stuffing undone, CRLF
        line ends kept, the final "." line removed."""
        raw = self.raw_multiline(timeout)
        raw = raw[:-3]
        out = [l[1:] if l.startswith(b".") else l
               for l in raw.split(b"\r\n")]
        return b"\r\n".join(out)

    def login(self, user, password):
        assert self.cmd("USER " + user).startswith("+OK")
        r = self.cmd("PASS " + password)
        assert r.startswith("+OK"), r
        return r


def pop3s_client(port, timeout=10.0):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = client_tls_context().wrap_socket(raw,
                                             server_hostname="localhost")
    except Exception:
        raw.close()
        raise
    return Pop3Client(port, sock=s, timeout=timeout)


def crlf(data):
    """Line ends as POP3 sends them."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def message(subject, body=b"Hello.\n", extra=b""):
    if isinstance(body, str):
        body = body.encode()
    return (b"From: <sender@example.net>\nTo: <someone@example.org>\n"
            b"Subject: " + subject.encode() + b"\n" + extra + b"\n" + body)


class Pop3Server:
    """A started facteurd with the POP3 module, and its mail."""

    def __init__(self, srv, directory, ports):
        self.srv = srv
        self.dir = directory
        self.conf = srv.conf_path
        self.port = ports["pop3"]
        self.pop3s_port = ports["pop3s"]
        self._users = iter(USERS)
        self._files = itertools.count()

    def user(self):
        """A user no other test of this server has used."""
        return next(self._users)

    def client(self, greet=True, timeout=10.0):
        c = Pop3Client(self.port, timeout=timeout)
        if greet:
            c.greet()
        return c

    def ctl(self, *args, check=True):
        r = subprocess.run([FACTEURCTL, "-c", self.conf] + list(args),
                           capture_output=True, env=facteurd_env(),
                           timeout=120)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def deliver(self, user, *messages):
        """Imports messages (bytes) into the user's INBOX; returns
        [(uidvalidity, uid)] in order."""
        paths = []
        for m in messages:
            p = os.path.join(self.dir, "in-%d.eml" % next(self._files))
            with open(p, "wb") as f:
                f.write(m)
            os.chmod(p, 0o644)
            paths.append(p)
        r = self.ctl("mailbox", "import", user, "INBOX", *paths)
        for p in paths:
            os.unlink(p)
        out = []
        for line in r.stdout.decode().splitlines():
            _, v, u = line.split("\t")
            out.append((int(v), int(u)))
        return out

    def messages(self, user):
        """[(uid, flags, size, guid)] of the INBOX (facteurctl messages)."""
        r = self.ctl("mailbox", "messages", user, "INBOX")
        out = []
        for l in r.stdout.decode().splitlines():
            f = l.split("\t")
            out.append((int(f[0]), f[1], int(f[2]), f[5]))
        return out

    def log(self):
        return self.srv.log()

    def wait_log(self, pattern, **kw):
        return self.srv.wait_log(pattern, **kw)


def write_users(directory, password_hash):
    path = os.path.join(directory, "passwd")
    with open(path, "w", encoding="utf-8") as f:
        for user in USERS:
            f.write("%s:%s\n" % (user, password_hash))
    os.chmod(path, 0o644)


def pop3_config(directory, ports, pop3="", settings=None, tls_files=None,
                auth="passwd-file"):
    return harness.protocol_config(
        directory, "pop3", ports["pop3"], ports["pop3s"], pop3, settings,
        tls_files, auth=auth)


def module_pop3_server(request, password_hash, tls_files, pop3="",
                       settings=None, env=None,
                       db_users=os.environ.get("FACTEUR_TEST_AUTH") ==
                       "pgsql"):
    """A generator for a module-scoped fixture: one server for a whole
    test file. At the end: SIGTERM, the exit within 15 s, no sanitizer
    report or panic in the log, and the log's end printed when a test of
    the file failed. db_users: on pgsql storage, the users are in the
    database (auth pgsql) rather than in the passwd file."""
    directory = make_test_dir("facteur-pop3-")
    write_users(directory, password_hash)
    make_mail_dir(directory)
    ports = {"pop3": free_port(), "pop3s": free_port()}
    auth = "pgsql" if db_users and harness.on_pgsql() else "passwd-file"
    text = pop3_config(directory, ports, pop3, settings, tls_files, auth)
    srv = Facteurd(directory, text, port=ports["pop3"], env=env)
    srv.start()
    if auth == "pgsql":
        harness.pgsql_add_users(directory, [(u, password_hash, 0, 0)
                                            for u in USERS])
    yield Pop3Server(srv, directory, ports)

    harness.stop_module_server(request, srv, directory)


def sha256(data):
    return hashlib.sha256(data).hexdigest()
