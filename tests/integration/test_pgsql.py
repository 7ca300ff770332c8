"""The pgsql module with real clients: users, domains and aliases in the
database (facteurctl), SMTP delivery and POP3 on pgsql storage, two
facteurd nodes on one database (SMTP and IMAP APPEND on one, POP3, IMAP
IDLE and FETCH on the other; concurrent deliveries to one mailbox from
both), PostgreSQL restarted under SMTP deliveries and under an IMAP
session, names and strings with quotes and backslashes, and a schema
newer than the binary.

One private PostgreSQL for the file (scripts/tools/pg-test-cluster.sh:
initdb in a temp dir, a Unix socket, removed at the end); each server
gets a database of its own. Skipped when PostgreSQL or the module is
missing.
"""

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

import harness
from harness import (FACTEURCTL, Facteurd, build_config, facteurd_env,
                     free_port, make_test_dir)
from test_pop3_support import Pop3Client

SRCDIR = os.environ.get("FACTEUR_SRCDIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = os.path.join(SRCDIR, "scripts", "tools", "pg-test-cluster.sh")
BUILDDIR = os.environ.get("FACTEUR_BUILDDIR", "")
PASSWORD = "s3cret-'quoted\"-\\back"


def have_pgsql():
    mod = os.path.join(BUILDDIR, "modules", "pgsql.la")
    mod2 = os.path.join(BUILDDIR, "modules", "pgsql", "pgsql.la")
    bindirs = [d for d in ("/usr/lib/postgresql",) if os.path.isdir(d)]
    return (os.path.exists(mod) or os.path.exists(mod2)) and bindirs


pytestmark = pytest.mark.skipif(not have_pgsql(),
                                reason="no PostgreSQL or no pgsql module")


class Cluster:
    def __init__(self, directory):
        self.dir = directory
        out = subprocess.run(["sh", CLUSTER, "start", directory],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        self.env = {}
        for line in out.stdout.splitlines():
            if "=" in line and not line.startswith("export"):
                k, v = line.split("=", 1)
                self.env[k] = v
        self.host = self.env["PGHOST"]
        self.port = self.env["PGPORT"]

    def psql(self, db, sql, user="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", self.host,
                            "-p", self.port, "-U", user, "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def createdb(self, name):
        self.psql("postgres", "CREATE DATABASE %s OWNER facteur" % name)

    def halt(self):
        subprocess.run(["sh", CLUSTER, "halt", self.dir], check=True,
                       timeout=120)

    def resume(self):
        subprocess.run(["sh", CLUSTER, "resume", self.dir], check=True,
                       timeout=120)

    def stop(self):
        subprocess.run(["sh", CLUSTER, "stop", self.dir], timeout=120)


@pytest.fixture(scope="module")
def cluster():
    base = make_test_dir("facteur-pgsql-")
    c = Cluster(os.path.join(base, "pg"))
    yield c
    c.stop()
    shutil.rmtree(base, ignore_errors=True)


class Node:
    """A facteurd with SMTP and POP3, users and mail in database db."""

    def __init__(self, cluster, db, directory, extra_pgsql=""):
        self.cluster = cluster
        self.db = db
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        self.imap_port = free_port()
        self.conninfo = "host=%s port=%s dbname=%s user=facteur" % (
            cluster.host, cluster.port, db)
        extra = ("pgsql {\n    connect \"%s\";\n    reconnect_max 500ms;\n"
                 "%s}\n"
                 "smtp {\n    hostname mx.example.org;\n"
                 "    local_domains example.org;\n"
                 "    listen 127.0.0.1:%d;\n}\n"
                 "pop3 {\n    listen 127.0.0.1:%d;\n}\n"
                 "imap {\n    listen 127.0.0.1:%d;\n}\n"
                 % (self.conninfo, extra_pgsql, self.smtp_port,
                    self.pop3_port, self.imap_port))
        text = build_config(directory, self.smtp_port,
                            settings={"auth": "pgsql", "storage": "pgsql",
                                      "state_dir": os.path.join(directory,
                                                                "state")},
                            load=["pgsql", "smtp", "pop3", "imap"],
                            extra=extra)
        self.srv = Facteurd(directory, text, port=self.smtp_port)

    def ctl(self, *args, check=True, stdin=None):
        r = subprocess.run([FACTEURCTL, "-c", self.srv.conf_path]
                           + list(args), capture_output=True, text=True,
                           env=facteurd_env(), timeout=120, input=stdin)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def start(self):
        self.srv.start()
        return self

    def stop(self):
        self.srv.stop()
        bad = self.srv.bad_log_lines()
        assert not bad, "\n".join(bad[:20])

    def uids(self, user, mailbox="INBOX"):
        out = self.ctl("mailbox", "messages", user, mailbox).stdout
        return [int(l.split("\t")[0]) for l in out.splitlines() if l]


def smtp_send(port, rcpt, subject, body="Hello.\r\n", timeout=10.0):
    """One message in one session; the reply to DATA's end (or the
    first refusal)."""
    c = harness.Client(port, timeout=timeout)
    try:
        g = c.readline()
        assert g.startswith("220"), g

        def cmd(line):
            r = c.cmd(line)
            while r[3:4] == "-":
                r = c.readline()
            return r
        r = cmd("EHLO client.example.net")
        if not r.startswith("250"):
            return r
        r = cmd("MAIL FROM:<sender@example.net>")
        if not r.startswith("250"):
            return r
        r = cmd("RCPT TO:<%s>" % rcpt)
        if not r.startswith("250"):
            return r
        r = cmd("DATA")
        if not r.startswith("354"):
            return r
        c.send(("Subject: %s\r\nFrom: <sender@example.net>\r\n\r\n%s.\r\n"
                % (subject, body)).encode())
        r = c.readline()
        try:
            c.send(b"QUIT\r\n")
        except OSError:
            pass
        return r
    finally:
        c.close()


def pop3_list(port, user, password):
    c = Pop3Client(port)
    try:
        c.greet()
        c.login(user, password)
        r = c.cmd("STAT")
        assert r.startswith("+OK"), r
        n = int(r.split()[1])
        bodies = []
        for i in range(1, n + 1):
            assert c.cmd("RETR %d" % i).startswith("+OK")
            bodies.append(c.body())
        c.cmd("QUIT")
        return bodies
    finally:
        c.close()


@pytest.fixture(scope="module")
def node(cluster):
    d = make_test_dir("facteur-pgsql-a-")
    cluster.createdb("node")
    n = Node(cluster, "node", d)
    n.ctl("db", "migrate")
    n.ctl("domain", "add", "example.org")
    for u in ("alice", "bob", "carol", "dave"):
        n.ctl("user", "add", u + "@example.org", "-p", PASSWORD)
    n.ctl("alias", "add", "postmaster@example.org", "bob@example.org")
    n.start()
    yield n
    n.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_ctl_users_domains_aliases(node):
    out = node.ctl("user", "list").stdout
    assert "alice@example.org\t" in out and "dave@example.org\t" in out
    assert node.ctl("domain", "list").stdout.startswith(
        "example.org\tusers=4")
    # unknown domain, existing user, unknown user: clear refusals
    r = node.ctl("user", "add", "x@nowhere.example", "-p", "x",
                 check=False)
    assert r.returncode == 1 and "no such domain" in r.stderr
    r = node.ctl("user", "add", "ALICE@example.org", "-p", "x", check=False)
    assert r.returncode == 1 and "exists" in r.stderr
    r = node.ctl("user", "delete", "nobody@example.org", check=False)
    assert r.returncode == 1 and "no user" in r.stderr
    node.ctl("user", "quota", "carol@example.org", "10M", "5")
    assert "carol@example.org\tquota=10485760\tquota_messages=5" in \
        node.ctl("user", "list", "example.org").stdout
    # a password from stdin, with quotes and backslashes
    node.ctl("user", "password", "dave@example.org", stdin="new'\"\\pw\n")
    node.ctl("user", "add", "erin@example.org", "-p", "x")
    node.ctl("user", "delete", "erin@example.org")
    assert "erin@" not in node.ctl("user", "list").stdout


def test_smtp_delivery_and_pop3(node):
    r = smtp_send(node.smtp_port, "alice@example.org", "to alice")
    assert r.startswith("250"), r
    bodies = pop3_list(node.pop3_port, "alice@example.org", PASSWORD)
    assert len(bodies) == 1 and b"Subject: to alice\r\n" in bodies[0]
    assert bodies[0].endswith(b"Hello.\r\n")
    # the message is in the database, with a UID
    assert node.uids("alice@example.org") == [1]


def test_wrong_password_and_unknown_user(node):
    c = Pop3Client(node.pop3_port)
    c.greet()
    assert c.cmd("USER alice@example.org").startswith("+OK")
    assert c.cmd("PASS wrong").startswith("-ERR")
    c.close()
    r = smtp_send(node.smtp_port, "nobody@example.org", "x")
    assert r.startswith("550"), r


def test_alias_delivery(node):
    r = smtp_send(node.smtp_port, "Postmaster@example.org", "to the alias")
    assert r.startswith("250"), r
    bodies = pop3_list(node.pop3_port, "bob@example.org", PASSWORD)
    assert any(b"Subject: to the alias" in b for b in bodies)


def test_password_changed_by_ctl(node):
    bodies = pop3_list(node.pop3_port, "dave@example.org", "new'\"\\pw")
    assert bodies == []


def test_quota_from_the_database(node):
    for i in range(5):
        r = smtp_send(node.smtp_port, "carol@example.org", "q%d" % i)
        assert r.startswith("250"), r
    r = smtp_send(node.smtp_port, "carol@example.org", "over")
    assert r.startswith("452"), r
    assert len(node.uids("carol@example.org")) == 5


def test_names_with_quotes_backslashes(node):
    names = ["it's", 'say "hi"', "back\\slash", "'; DROP TABLE users; --",
             "mixed/\\'\"/level"]
    for n in names:
        node.ctl("mailbox", "create", "alice@example.org", n)
    out = node.ctl("mailbox", "list", "alice@example.org").stdout
    listed = [l.split("\t")[0] for l in out.splitlines()]
    for n in names:
        assert n in listed, (n, listed)
    # the users table is still there, and a message goes in and out
    assert "alice@example.org" in node.ctl("user", "list").stdout
    msg = os.path.join(node.dir, "quoted.eml")
    with open(msg, "wb") as f:
        f.write(b"Subject: quoted\n\nbody \\ ' \"\n")
    node.ctl("mailbox", "import", "alice@example.org", names[3], msg)
    out = node.ctl("mailbox", "fetch", "alice@example.org", names[3],
                   "1").stdout
    assert "body \\ ' \"" in out
    node.ctl("mailbox", "rename", "alice@example.org", names[2],
             "slash\\back")
    node.ctl("mailbox", "delete", "alice@example.org", names[0])
    out = node.ctl("mailbox", "list", "alice@example.org").stdout
    listed = [l.split("\t")[0] for l in out.splitlines()]
    assert "slash\\back" in listed and names[0] not in listed
    # a name with a control character never reaches the database
    r = node.ctl("mailbox", "create", "alice@example.org", "bad\x01name",
                 check=False)
    assert r.returncode != 0


def test_nul_refused_on_the_wire(node):
    # a user name with a NUL: refused by POP3, never looked up
    c = Pop3Client(node.pop3_port)
    c.greet()
    c.send(b"USER alice@exa\x00mple.org\r\n")
    r = c.readline()
    assert r.startswith("-ERR"), r
    c.close()
    # and an address with quotes and backslashes is an unknown user,
    # not an error of the database
    r = smtp_send(node.smtp_port, '"o\'dd\\\\name"@example.org', "q")
    assert r.startswith("550"), r
    assert not node.srv.bad_log_lines()


def test_two_nodes(cluster, node):
    d = make_test_dir("facteur-pgsql-b-")
    b = Node(cluster, "node", d).start()
    try:
        # delivered on A, read on B at once: the first POP3 session on
        # B, right after A's 250, has it (no retry; how long that session
        # takes is the password hash's and the machine's, not the store's)
        r = smtp_send(node.smtp_port, "bob@example.org", "from node A")
        assert r.startswith("250"), r
        bodies = pop3_list(b.pop3_port, "bob@example.org", PASSWORD)
        assert any(b"Subject: from node A" in x for x in bodies)

        # both nodes append to one mailbox at once
        results = []
        lock = threading.Lock()

        def sender(port, tag):
            for i in range(15):
                r = smtp_send(port, "dave@example.org", "%s-%d" % (tag, i))
                with lock:
                    results.append(r)
        threads = [threading.Thread(target=sender, args=(p, t))
                   for p, t in ((node.smtp_port, "a1"),
                                (node.smtp_port, "a2"),
                                (b.smtp_port, "b1"), (b.smtp_port, "b2"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.startswith("250") for r in results), results
        uids = node.uids("dave@example.org")
        assert len(uids) == 60
        assert uids == sorted(set(uids))
        bodies = pop3_list(b.pop3_port, "dave@example.org", "new'\"\\pw")
        subjects = sorted(x.split(b"Subject: ")[1].split(b"\r\n")[0]
                          for x in bodies)
        assert subjects == sorted(("%s-%d" % (t, i)).encode()
                                  for t in ("a1", "a2", "b1", "b2")
                                  for i in range(15))
    finally:
        b.stop()
        shutil.rmtree(d, ignore_errors=True)


class Imap(harness.Client):
    """Just enough IMAP: tagged commands, their untagged lines."""

    def __init__(self, port):
        super().__init__(port, timeout=10.0)
        self.n = 0
        g = self.readline()
        assert g.startswith("* OK"), g

    def run(self, command, literal=None):
        self.n += 1
        tag = "t%d" % self.n
        if literal is None:
            self.send(("%s %s\r\n" % (tag, command)).encode())
        else:
            self.send(("%s %s {%d}\r\n" % (tag, command,
                                            len(literal))).encode())
            r = self.readline()
            if r.startswith(tag + " "):
                return r, []        # refused before the literal
            assert r.startswith("+"), r
            self.send(literal + b"\r\n")
        lines = []
        while True:
            line = self.readline()
            if line.startswith(tag + " "):
                return line, lines
            lines.append(line)


def test_two_nodes_imap(cluster, node):
    """IDLE on node B wakes for a delivery on node A; APPEND on A is
    fetched on B."""
    d = make_test_dir("facteur-pgsql-i-")
    b = Node(cluster, "node", d).start()
    try:
        i = Imap(b.imap_port)
        r, _ = i.run('LOGIN alice@example.org "%s"'
                     % PASSWORD.replace("\\", "\\\\").replace('"', '\\"'))
        assert " OK" in r, r
        r, lines = i.run("SELECT INBOX")
        assert " OK" in r, r
        exists = [int(l.split()[1]) for l in lines if l.endswith(" EXISTS")]
        assert exists
        i.send(b"t99 IDLE\r\n")
        assert i.readline().startswith("+")
        t0 = time.monotonic()
        r = smtp_send(node.smtp_port, "alice@example.org", "idle on B")
        assert r.startswith("250"), r
        line = i.readline(timeout=5.0)
        took = time.monotonic() - t0
        assert line == "* %d EXISTS" % (exists[0] + 1), line
        assert took < 1.0, took
        i.send(b"DONE\r\n")
        while not i.readline().startswith("t99 "):
            pass

        a = Imap(node.imap_port)
        r, _ = a.run('LOGIN alice@example.org "%s"'
                     % PASSWORD.replace("\\", "\\\\").replace('"', '\\"'))
        assert " OK" in r, r
        r, _ = a.run("APPEND INBOX", b"Subject: appended on A\r\n\r\nhi\r\n")
        assert " OK" in r and "APPENDUID" in r, r
        uid = int(r.split("APPENDUID ")[1].split()[1].rstrip("]"))
        a.close()
        r, lines = i.run("NOOP")
        assert " OK" in r and "* %d EXISTS" % (exists[0] + 2) in lines, lines
        r, lines = i.run("UID FETCH %d BODY.PEEK[HEADER.FIELDS (SUBJECT)]"
                         % uid)
        assert " OK" in r, r
        assert any("appended on A" in l for l in lines), lines
        i.close()
    finally:
        b.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_postgresql_restarted_during_deliveries(cluster, node):
    acked = []
    refused = []
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set():
            subject = "restart-%d" % i
            i += 1
            try:
                r = smtp_send(node.smtp_port, "bob@example.org", subject,
                              timeout=20.0)
            except (OSError, harness.ConnectionClosed) as e:
                refused.append(str(e))
                continue
            if r.startswith("250"):
                acked.append(subject)
            else:
                refused.append(r)
                time.sleep(0.05)
    t = threading.Thread(target=sender)
    t.start()
    try:
        time.sleep(0.5)
        cluster.halt()
        time.sleep(1.5)
        cluster.resume()
        time.sleep(1.5)
    finally:
        stop.set()
        t.join()
    assert acked
    # while it was down: temporary failures, never a permanent one
    assert refused, "no delivery saw the database down"
    for r in refused:
        assert r.startswith("451 4.3.0") or r.startswith("421"), r
    # after: deliveries work again, and every acknowledged one is there
    r = smtp_send(node.smtp_port, "bob@example.org", "after the restart")
    assert r.startswith("250"), r
    bodies = pop3_list(node.pop3_port, "bob@example.org", PASSWORD)
    subjects = set(x.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
                   for x in bodies)
    missing = [s for s in acked if s not in subjects]
    assert not missing, missing


def test_bodies_shared_and_removed(cluster, node):
    """A copy shares its body; expunging every message that uses a body
    removes it."""
    def bodies():
        return int(cluster.psql("node", "SELECT count(*) FROM bodies"))
    before = bodies()
    r = smtp_send(node.smtp_port, "alice@example.org", "shared body")
    assert r.startswith("250"), r
    assert bodies() == before + 1
    i = Imap(node.imap_port)
    r, _ = i.run('LOGIN alice@example.org "%s"'
                 % PASSWORD.replace("\\", "\\\\").replace('"', '\\"'))
    assert " OK" in r, r
    r, lines = i.run("SELECT INBOX")
    assert " OK" in r, r
    r, lines = i.run("UID SEARCH SUBJECT \"shared body\"")
    uid = int([l for l in lines if l.startswith("* SEARCH")][0].split()[-1])
    r, _ = i.run("UID COPY %d Archive" % uid)
    assert " OK" in r, r
    assert bodies() == before + 1
    r, _ = i.run("UID STORE %d +FLAGS (\\Deleted)" % uid)
    assert " OK" in r, r
    r, _ = i.run("EXPUNGE")
    assert " OK" in r, r
    assert bodies() == before + 1      # Archive still has it
    r, _ = i.run("SELECT Archive")
    r, _ = i.run("STORE 1:* +FLAGS (\\Deleted)")
    r, _ = i.run("EXPUNGE")
    assert " OK" in r, r
    assert bodies() == before
    i.close()


def test_imap_session_across_a_restart(cluster, node):
    """A selected IMAP session gets NO [UNAVAILABLE] (RFC 5530) while the
    database is down and works again once it is back; the worker does not
    die."""
    i = Imap(node.imap_port)
    r, _ = i.run('LOGIN bob@example.org "%s"'
                 % PASSWORD.replace("\\", "\\\\").replace('"', '\\"'))
    assert " OK" in r, r
    r, lines = i.run("SELECT INBOX")
    assert " OK" in r, r
    workers = node.srv.workers()
    cluster.halt()
    try:
        r, _ = i.run("STATUS Sent (MESSAGES)")
        assert r.startswith("t3 NO [UNAVAILABLE]"), r
        r, _ = i.run("APPEND Sent", b"Subject: while down\r\n\r\nx\r\n")
        assert r.startswith("t4 NO [UNAVAILABLE]"), r
    finally:
        cluster.resume()
    deadline = time.monotonic() + 10
    while True:
        r, lines = i.run("STATUS Sent (MESSAGES)")
        if " OK" in r or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert " OK" in r, r
    assert any("MESSAGES 0" in l for l in lines), lines
    r, _ = i.run("APPEND Sent", b"Subject: after\r\n\r\nx\r\n")
    assert " OK" in r, r
    r, _ = i.run("LOGOUT")
    i.close()
    assert node.srv.workers() == workers


def test_schema_newer_than_the_binary(cluster):
    d = make_test_dir("facteur-pgsql-new-")
    cluster.createdb("newer")
    n = Node(cluster, "newer", d)
    try:
        n.ctl("db", "migrate")
        cluster.psql("newer", "UPDATE facteur_schema SET version = 99")
        n.srv.start(wait=False)
        assert n.srv.proc.wait(timeout=30) != 0
        assert "schema is version 99, newer than this facteur knows" in \
            n.srv.log()
        r = n.ctl("db", "migrate", check=False)
        assert r.returncode == 1 and "newer" in r.stderr
        # no schema at all: refused too, with what to do
        cluster.createdb("empty")
        e = Node(cluster, "empty", make_test_dir("facteur-pgsql-empty-"))
        e.srv.start(wait=False)
        assert e.srv.proc.wait(timeout=30) != 0
        assert "run facteurctl db migrate" in e.srv.log()
        shutil.rmtree(e.dir, ignore_errors=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
