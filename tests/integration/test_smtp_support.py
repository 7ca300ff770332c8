"""What the SMTP tests share: a facteurd serving SMTP, submission and LMTP
with delivery to maildir (or pgsql with FACTEUR_TEST_STORAGE:
harness.storage_config()), an SMTP client that reads whole replies, and
ways to look at the mail that arrived. This file holds no tests; the other
test_smtp_*.py files import from it.

The server's config, as start_smtp() writes it:

    load passwd-file maildir smtp;
    maildir { location DIR/mail/%d/%n; }
    smtp {
        hostname mx.example.org;
        local_domains example.org;
        listen 127.0.0.1:P1;                  # .port
        listen 127.0.0.1:P2 submission;       # .sub_port
        listen 127.0.0.1:P3 lmtp;             # .lmtp_port
        # with tls: the test certificate (STARTTLS everywhere) and
        listen 127.0.0.1:P4 tls submission;   # .smtps_port
        ... the test's own lines
    }

Users, all with conftest.PASSWORD: alice@example.org, bob@example.org,
carol@example.org (quota 2k), dora@example.org (quota_messages 1: full
after one message) and jörg@example.org (a UTF-8 name).

Two ways to get one: the `smtp_server` fixture starts a server for one
test (through conftest's facteurd fixture, so its checks apply), and
module_server() gives a test file one server for all its tests, with
the same checks at the end of the file. Tests sharing a server tell
their mail apart by a unique Subject (see unique() and find()).
"""

import os
import pwd
import re
import socket
import subprocess
import uuid

import pytest

import harness
from harness import (FACTEURCTL, IS_ROOT, Client, Facteurd, build_config,
                     client_tls_context, facteurd_env,
                     free_port, make_test_dir)

HOSTNAME = "mx.example.org"
ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"          # quota 2k
DORA = "dora@example.org"            # full after one message
JOERG = "j\u00f6rg@example.org"      # a UTF-8 user name
USERS = (ALICE, BOB, CAROL, DORA, JOERG)
QUOTAS = {CAROL: "quota=2k", DORA: "quota_messages=1"}

# Under AddressSanitizer freed memory sits in a quarantine before it is
# reused; memory tests shrink it (see test_sessions.py).
SMALL_QUARANTINE = {"ASAN_OPTIONS": ":".join(
    o for o in (os.environ.get("ASAN_OPTIONS", ""),
                "quarantine_size_mb=1") if o)}


class SmtpClient(Client):
    """A line client that reads SMTP replies whole.

    reply() returns every line of one reply joined with "\\n", codes
    included, so a one-line reply reads as itself:
    `assert c.cmd("NOOP") == "250 2.0.0 Ok"`."""

    def reply(self, timeout=None):
        lines = []
        while True:
            line = self.readline(timeout)
            lines.append(line)
            assert len(line) >= 3 and line[:3].isdigit(), \
                "not a reply line: %r (after %r)" % (line, lines[:-1])
            if len(line) == 3 or line[3] == " ":
                return "\n".join(lines)
            assert line[3] == "-", "bad reply line %r" % line

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def greet(self):
        g = self.reply()
        assert g.startswith("220 "), g
        return g

    def ehlo(self, name="client.example.net", verb="EHLO"):
        r = self.cmd("%s %s" % (verb, name))
        assert r.startswith("250"), r
        return r

    def starttls(self, context=None):
        """STARTTLS and the handshake; nothing may have been read
        ahead of it."""
        assert self.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS"
        assert self.buf == b"", "data after STARTTLS's answer: %r" % \
            self.buf
        self.sock = (context or client_tls_context()).wrap_socket(
            self.sock, server_hostname="localhost")
        self.sock.settimeout(self.timeout)


def smtps_client(port, timeout=10.0):
    """An SmtpClient on an implicit-TLS listener, not yet greeted."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = client_tls_context().wrap_socket(raw,
                                             server_hostname="localhost")
    except Exception:
        raw.close()
        raise
    return SmtpClient(port, sock=s, timeout=timeout)


def ehlo_keywords(reply):
    """The extension keywords of an EHLO reply (the first line is the
    host name): {"SIZE": "65536", "PIPELINING": "", ...}."""
    out = {}
    for line in reply.split("\n")[1:]:
        words = line[4:].split(" ", 1)
        out[words[0].upper()] = words[1] if len(words) > 1 else ""
    return out


def unique(tag="msg"):
    """A Subject no other test uses."""
    return "%s-%s" % (tag, uuid.uuid4().hex[:12])


def message(subject, body="Hello.\r\n", sender="sender@example.net",
            to=ALICE, extra=""):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@example.net>\r\n%s\r\n%s"
            % (sender, to, subject, subject, extra, body)).encode("utf-8")


class SmtpServer:
    """A started facteurd with the SMTP module, and its mail."""

    def __init__(self, srv, directory, ports):
        self.srv = srv
        self.dir = directory
        self.mail = os.path.join(directory, "mail")
        self.conf = srv.conf_path
        self.port = ports["smtp"]
        self.sub_port = ports["submission"]
        self.lmtp_port = ports["lmtp"]
        self.smtps_port = ports.get("smtps")

    def client(self, port=None, source=None, timeout=10.0, greet=True):
        c = SmtpClient(port or self.port, source=source, timeout=timeout)
        if greet:
            c.greet()
        return c

    def ctl(self, *args):
        return subprocess.run([FACTEURCTL, "-c", self.conf] + list(args),
                              capture_output=True, env=facteurd_env(),
                              timeout=60)

    def uids(self, user, mailbox="INBOX"):
        """UIDs of the messages in a mailbox (facteurctl messages)."""
        r = self.ctl("mailbox", "messages", user, mailbox)
        assert r.returncode == 0, r.stderr
        return [int(l.split("\t")[0])
                for l in r.stdout.decode().splitlines()]

    def fetch(self, user, uid, mailbox="INBOX"):
        """One message as stored, with LF line ends (facteurctl fetch)."""
        r = self.ctl("mailbox", "fetch", user, mailbox, str(uid))
        assert r.returncode == 0, r.stderr
        return r.stdout

    def files(self, user):
        """The messages of a user's INBOX as stored, as bytes; [] when
        the user has no mail yet. Stored line ends are LF. On maildir,
        the files of new/ and cur/; on pgsql, the bodies of the INBOX's
        messages in UID order, in one query (what facteurctl fetch
        gives, without a run per message)."""
        if harness.on_pgsql():
            return self._stored(user)
        local, domain = user.split("@")
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.mail, domain, local, sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    out.append(f.read())
        return out

    def _stored(self, user):
        with open(os.path.join(self.dir, "pgsql-database")) as f:
            db = f.read().strip()
        rows = harness.pg_cluster().psql(db, (
            "SELECT m.uid, encode(b.data, 'hex') FROM stores s "
            "JOIN mailboxes x ON x.store_id = s.id AND x.name = 'INBOX' "
            "JOIN messages m ON m.mailbox_id = x.id "
            "JOIN bodies b ON b.hash = m.hash WHERE s.owner = '%s' "
            "ORDER BY m.uid") % user.replace("'", "''"))
        return [bytes.fromhex(l.split("|")[1])
                for l in rows.splitlines() if l]

    def find(self, user, subject):
        """The stored messages of a user with this Subject."""
        needle = ("\nSubject: %s\n" % subject).encode("utf-8")
        return [m for m in self.files(user) if needle in m]

    def log(self):
        return self.srv.log()

    def wait_log(self, pattern, **kw):
        return self.srv.wait_log(pattern, **kw)


def write_users(directory, password_hash):
    path = os.path.join(directory, "passwd")
    with open(path, "w", encoding="utf-8") as f:
        for user in USERS:
            extra = " " + QUOTAS[user] if user in QUOTAS else ""
            f.write("%s:%s::::::%s\n" % (user, password_hash, extra))
    os.chmod(path, 0o644)


def make_mail_dir(directory):
    mail = os.path.join(directory, "mail")
    os.makedirs(mail, 0o755, exist_ok=True)
    if IS_ROOT:
        pw = pwd.getpwnam(harness.SERVICE_USER)
        os.chown(mail, pw.pw_uid, pw.pw_gid)
    return mail


def write_file(directory, name, text):
    """A file the workers can read (aliases and the like)."""
    path = os.path.join(directory, name)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)
    return path


def smtp_config(directory, ports, smtp="", settings=None, tls_files=None):
    """The config text: the common settings, maildir, and an smtp block
    with the three listeners (and the implicit TLS one when tls_files is
    given) plus the test's own lines."""
    top = {"state_dir": os.path.join(directory, "state")}
    top.update(settings or {})
    lines = ["hostname %s;" % HOSTNAME,
             "local_domains example.org;",
             "listen 127.0.0.1:%d;" % ports["smtp"],
             "listen 127.0.0.1:%d submission;" % ports["submission"],
             "listen 127.0.0.1:%d lmtp;" % ports["lmtp"]]
    if tls_files is not None:
        lines.append("listen 127.0.0.1:%d tls submission;" % ports["smtps"])
        lines.append("tls_certificate %s;" % tls_files[0])
        lines.append("tls_key %s;" % tls_files[1])
    own = [l.strip() for l in smtp.strip("\n").splitlines() if l.strip()]
    # a test's local_domains replaces ours (a directive given twice is
    # an error)
    if any(l.startswith("local_domains ") for l in own):
        lines = [l for l in lines if not l.startswith("local_domains ")]
    lines += own
    load, storage, storage_top = harness.storage_config(directory)
    top = dict(storage_top, **top)
    extra = storage + "smtp {\n%s\n}\n" % "\n".join("    " + l
                                                      for l in lines)
    return build_config(directory, ports["smtp"], settings=top,
                        load=["passwd-file"] + load + ["smtp"], extra=extra)


def new_ports(tls):
    ports = {"smtp": free_port(), "submission": free_port(),
             "lmtp": free_port()}
    if tls:
        ports["smtps"] = free_port()
    return ports


@pytest.fixture
def smtp_server(facteurd, test_dir, password_hash, tls_files):
    """Factory: smtp_server(smtp="lines for the smtp block",
    settings={...}, tls=False, env=None) -> a started SmtpServer. With
    tls=True the smtp block gets the test certificate (so STARTTLS is
    offered) and an implicit-TLS submission listener."""
    def start(smtp="", settings=None, tls=False, env=None):
        ports = new_ports(tls)
        write_users(test_dir, password_hash)
        make_mail_dir(test_dir)
        text = smtp_config(test_dir, ports, smtp, settings,
                           tls_files if tls else None)
        srv = facteurd(text=text, port=ports["smtp"], env=env)
        return SmtpServer(srv, test_dir, ports)
    return start


def module_server(request, password_hash, tls_files, smtp="", settings=None,
                  tls=False, env=None, files=None):
    """A generator for a module-scoped fixture: one server for a whole
    test file. files: {name: text} written into its folder first (the
    smtp lines may name them with {dir}). At the end: SIGTERM, the exit
    within 15 s, no sanitizer report or panic in the log, and the log's
    end printed when a test of the file failed."""
    directory = make_test_dir("facteur-smtp-")
    for name, text in (files or {}).items():
        write_file(directory, name, text)
    write_users(directory, password_hash)
    make_mail_dir(directory)
    ports = new_ports(tls)
    text = smtp_config(directory, ports, smtp.replace("{dir}", directory),
                       settings, tls_files if tls else None)
    srv = Facteurd(directory, text, port=ports["smtp"], env=env)
    srv.start()
    yield SmtpServer(srv, directory, ports)

    harness.stop_module_server(request, srv, directory)


QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9a-f]+)$")


def queue_id(reply):
    """The id in "250 2.0.0 Ok: queued as ID"; fails on other replies."""
    m = QUEUED.match(reply)
    assert m, "not a queued reply: %r" % reply
    return m.group(1)


def trace_fields(stored):
    """The fields delivery put on top of a stored message (LF line
    ends): Return-Path, Delivered-To, and Received with its
    continuation lines; returns (dict name -> unfolded value, the rest).
    """
    fields = {}
    lines = stored.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        name = line.split(b":", 1)[0]
        if name not in (b"Return-Path", b"Delivered-To", b"Received"):
            break
        value = line.split(b":", 1)[1].strip()
        i += 1
        while i < len(lines) and lines[i].startswith(b"\t"):
            value += b" " + lines[i].strip()
            i += 1
        fields[name.decode()] = value.decode("utf-8", "replace")
    return fields, b"\n".join(lines[i:])


def crlf_to_lf(data):
    return data.replace(b"\r\n", b"\n")
