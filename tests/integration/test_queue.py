"""The outbound queue, end to end.

facteurd A takes mail from its users (example.org) and relays it through
its queue to the next hop: a second facteurd B (example.net), Postfix's
smtp-sink, or a small SMTP peer written here that answers as each test
scripts it. DNS answers come from dnsmasq on a high port.

A's queue is tuned so that tests run in seconds: retry_min 1s,
retry_max 2s, send_timeout 3s. Results are read the way an admin reads
them: `facteurctl queue list|show`, `facteurctl mailbox messages|fetch`,
and the logs.
"""

import calendar
import email
import email.policy
import os
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import socketserver
import subprocess
import threading
import time

import pytest

import harness
from conftest import PASSWORD
from harness import (FACTEURCTL, IS_ROOT, build_config, facteurd_env,
                     wait_for)

A_HOST = "a.example.org"
B_HOST = "b.example.net"
ALICE = "alice@example.org"
BOB = "bob@example.net"

# A's queue, fast: a retry a second or two after a failure
FAST_QUEUE = """
retry_min 1s;
retry_max 2s;
send_timeout 3s;
queue_fsync no;
"""


# ports handed out by free_port() in this run: a port asked for but not
# yet bound (a server started later) is never handed out twice
_ports_given = set()


def free_port(host="127.0.0.1"):
    """A port nobody listens on and no other caller got from here."""
    while True:
        port = harness.free_port(host)
        if port not in _ports_given:
            _ports_given.add(port)
            return port


# ------------------------------------------------------------------ #
# A scripted SMTP peer


class Peer:
    """A small SMTP server on its own threads, answering as a test says.

    rcpt: replies for RCPT commands, used up one per RCPT across all
    connections; once they are used up every RCPT gets rcpt_default.
    data_delay: seconds to wait before answering the end of the data.
    silent: accept connections and say nothing until it is set False.

    dsn: also announce DSN in the EHLO reply.
    eightbit: False leaves 8BITMIME out of the EHLO reply.
    ehlo: False makes the peer an old server that knows only HELO.

    Every message the peer accepted is in .messages as a dict with
    sender, rcpts and data (bytes, dot-stuffing undone); .rcpt_log
    holds (address, reply) for every RCPT; .commands every command line;
    .connections counts connections and .max_active the most open at
    once."""

    def __init__(self, host="127.0.0.1", port=None, rcpt=(),
                 rcpt_default="250 2.1.5 Ok", data_delay=0.0,
                 silent=False, dsn=False, ehlo=True, eightbit=True):
        self.rcpt = list(rcpt)
        self.dsn = dsn
        self.eightbit = eightbit
        self.ehlo = ehlo
        self.commands = []
        self.active = 0
        self.max_active = 0
        self.rcpt_default = rcpt_default
        self.data_delay = data_delay
        self.silent = silent
        self.messages = []
        self.rcpt_log = []
        self.connections = 0
        self.lock = threading.Lock()
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                peer._serve(self.connection, self.rfile, self.wfile)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((host, port if port is not None else
                              free_port(host)), Handler)
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _next_rcpt_reply(self):
        with self.lock:
            return self.rcpt.pop(0) if self.rcpt else self.rcpt_default

    def _serve(self, conn, rfile, wfile):
        with self.lock:
            self.connections += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._dialogue(conn, rfile, wfile)
        finally:
            with self.lock:
                self.active -= 1

    def _dialogue(self, conn, rfile, wfile):
        conn.settimeout(30)
        # silent: say nothing until the client gives up and closes, or
        # until the test lets the peer speak
        while self.silent:
            ready, _, _ = select.select([conn], [], [], 0.1)
            if ready:
                try:
                    if not conn.recv(1, socket.MSG_PEEK):
                        return
                except OSError:
                    return

        def send(text):
            wfile.write(text.encode() + b"\r\n")
            wfile.flush()

        try:
            send("220 peer.example ESMTP")
            sender, rcpts = None, []
            for raw in rfile:
                line = raw.decode("latin-1").rstrip("\r\n")
                verb = line[:4].upper()
                with self.lock:
                    self.commands.append(line)
                if verb == "EHLO" and not self.ehlo:
                    send("502 5.5.2 Error: command not recognized")
                elif verb == "EHLO":
                    send("250-peer.example\r\n%s%s250 PIPELINING"
                         % ("250-DSN\r\n" if self.dsn else "",
                            "250-8BITMIME\r\n" if self.eightbit else ""))
                elif verb == "HELO":
                    send("250 peer.example")
                elif verb == "MAIL":
                    sender = re.search(r"<(.*?)>", line).group(1)
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = re.search(r"<(.*?)>", line).group(1)
                    reply = self._next_rcpt_reply()
                    with self.lock:
                        self.rcpt_log.append((addr, reply))
                    if reply.startswith("2"):
                        rcpts.append(addr)
                    send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 no valid recipients")
                        continue
                    send("354 go ahead")
                    data = []
                    for d in rfile:
                        if d == b".\r\n":
                            break
                        data.append(d[1:] if d.startswith(b".") else d)
                    time.sleep(self.data_delay)
                    with self.lock:
                        self.messages.append({"sender": sender,
                                              "rcpts": rcpts,
                                              "data": b"".join(data)})
                    send("250 2.0.0 Ok: queued")
                    sender, rcpts = None, []
                elif verb == "RSET":
                    sender, rcpts = None, []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Error: command not recognized")
        except OSError:
            pass


@pytest.fixture
def peer():
    """Factory: peer(...) -> a started Peer (see its arguments); all are
    stopped at the end of the test."""
    peers = []

    def start(**kw):
        p = Peer(**kw)
        peers.append(p)
        return p
    yield start
    for p in peers:
        p.stop()


# ------------------------------------------------------------------ #
# facteurd instances


def make_message(subject, sender=ALICE, to=BOB, msgid=None,
                 body="Hello from the queue tests.\r\n"):
    """A small RFC 5322 message with CRLF line ends, as bytes."""
    msgid = msgid or "%s@example.org" % re.sub(r"\W", ".", subject)
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s>\r\n\r\n%s"
            % (sender, to, subject, msgid, body)).encode()


def parse_queue_list(text):
    """`facteurctl queue list` output -> a list of dicts: id, attempts,
    sender and rcpts, each rcpt a (state, address, reply) tuple."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("\t"):
            fields = line.split("\t")
            entries.append({
                "id": fields[0],
                "attempts": int(fields[2].split("=", 1)[1]),
                "sender": fields[4][len("from=<"):-1],
                "rcpts": []})
        else:
            state, address, reply = line[1:].split("\t", 2)
            entries[-1]["rcpts"].append((state, address.strip("<>"),
                                         reply))
    return entries


class Mta:
    """One facteurd with passwd-file, maildir and smtp, in a folder of
    its own (config, passwd, log, state, mail), with an smtp listener
    (.port) and a submission listener (.sub_port)."""

    def __init__(self, facteurd, directory, hostname, domain, users,
                 password_hash, smtp="", settings=None, tls_files=None,
                 start=True):
        os.makedirs(directory, 0o755, exist_ok=True)
        os.chmod(directory, 0o755)
        self.dir = directory
        self.port = free_port()
        self.sub_port = free_port()
        with open(os.path.join(directory, "passwd"), "w") as f:
            for user, extra in users.items():
                f.write("%s:%s::::::%s\n" % (user, password_hash, extra))
        os.chmod(os.path.join(directory, "passwd"), 0o644)
        mail = os.path.join(directory, "mail")
        os.makedirs(mail, 0o755, exist_ok=True)
        if IS_ROOT:
            pw = pwd.getpwnam(harness.SERVICE_USER)
            os.chown(mail, pw.pw_uid, pw.pw_gid)
        lines = ["hostname %s;" % hostname,
                 "local_domains %s;" % domain,
                 "listen 127.0.0.1:%d;" % self.port,
                 "listen 127.0.0.1:%d submission;" % self.sub_port]
        if tls_files is not None:
            lines.append("tls_certificate %s;" % tls_files[0])
            lines.append("tls_key %s;" % tls_files[1])
        lines += [l.strip() for l in smtp.strip("\n").splitlines()]
        top = {"state_dir": os.path.join(directory, "state")}
        top.update(settings or {})
        extra = ("maildir {\n    location %s/%%d/%%n;\n}\n"
                 "smtp {\n%s\n}\n" % (mail, "\n".join("    " + l
                                                       for l in lines)))
        self.text = build_config(directory, self.port, settings=top,
                                 load=["passwd-file", "maildir", "smtp"],
                                 extra=extra)
        self.srv = facteurd(text=self.text, port=self.port,
                            directory=directory, start=start)
        self.conf = self.srv.conf_path

    def start(self):
        self.srv.start()
        return self

    def ctl(self, *args):
        return subprocess.run([FACTEURCTL, "-c", self.conf] + list(args),
                              capture_output=True, env=facteurd_env(),
                              timeout=60)

    def queue(self):
        """What `facteurctl queue list` shows (see parse_queue_list)."""
        r = self.ctl("queue", "list")
        assert r.returncode == 0, r.stderr
        return parse_queue_list(r.stdout.decode())

    def messages(self, user, mailbox="INBOX"):
        """UIDs in a mailbox, from facteurctl."""
        r = self.ctl("mailbox", "messages", user, mailbox)
        assert r.returncode == 0, r.stderr
        return [int(l.split("\t")[0])
                for l in r.stdout.decode().splitlines()]

    def fetch(self, user, uid, mailbox="INBOX"):
        r = self.ctl("mailbox", "fetch", user, mailbox, str(uid))
        assert r.returncode == 0, r.stderr
        return r.stdout

    def inbox(self, user):
        return [self.fetch(user, uid) for uid in self.messages(user)]

    def wait_inbox(self, user, count, timeout=15.0):
        """Waits until a user's INBOX holds count messages; returns
        them all."""
        wait_for(lambda: len(self.messages(user)) >= count, timeout,
                 interval=0.2, what="%d messages for %s" % (count, user))
        return self.inbox(user)

    def wait_queue_empty(self, timeout=15.0):
        wait_for(lambda: self.queue() == [], timeout, interval=0.2,
                 what="the queue of %s to empty" % self.dir)

    def wait_queue(self, predicate, timeout=15.0, what="queue state"):
        """Polls `queue list` until predicate(entries) is true; returns
        the entries."""
        return wait_for(lambda: (lambda q: q if predicate(q) else None)(
            self.queue()), timeout, interval=0.2, what=what)

    def log(self):
        return self.srv.log()

    def wait_log(self, pattern, timeout=15.0, count=1):
        return self.srv.wait_log(pattern, timeout=timeout, count=count)

    def submit(self, sender, rcpts, msg, mail_options=(), rcpt_options=()):
        """Sends one message through the submission listener as the
        sender (authenticated); returns what smtplib's sendmail does."""
        with smtplib.SMTP("127.0.0.1", self.sub_port, timeout=15) as s:
            s.login(sender, PASSWORD)
            return s.sendmail(sender, rcpts, msg, list(mail_options),
                              list(rcpt_options))

    def send_smtp(self, sender, rcpts, msg):
        """Sends one message to the smtp listener without
        authenticating, from 127.0.0.1 (a trusted network)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=15) as s:
            return s.sendmail(sender, rcpts, msg)


@pytest.fixture
def mta(facteurd, test_dir, password_hash):
    """Factory: mta("a"|"b", ...) -> an Mta in test_dir/NAME; "a2" and
    the like are more of "a".

    "a" is the sender's side: hostname a.example.org, the user
    alice@example.org, trusted_networks 127.0.0.1/32 and the fast queue
    settings (fast=False leaves them out); route= a list of (domain,
    port) pairs sent to 127.0.0.1. "b" is hostname b.example.net with
    users bob@example.net and carol@example.net. users= replaces the
    users (address -> passwd extra fields, e.g. "quota=1k"); smtp= adds
    lines to the smtp block, settings= top-level ones; start=False only
    writes the config (Mta.start() later)."""
    def make(name, smtp="", users=None, route=(), settings=None,
             tls_files=None, fast=True, start=True):
        directory = os.path.join(test_dir, name)
        if name.startswith("a"):
            lines = "trusted_networks 127.0.0.1/32;\n"
            if fast:
                lines += FAST_QUEUE
            for domain, port in route:
                lines += "route %s 127.0.0.1:%d;\n" % (domain, port)
            return Mta(facteurd, directory, A_HOST, "example.org",
                       users or {ALICE: ""}, password_hash,
                       lines + smtp, settings, tls_files, start)
        return Mta(facteurd, directory, B_HOST, "example.net",
                   users or {BOB: "", "carol@example.net": ""},
                   password_hash, smtp, settings, tls_files, start)
    return make


def parse(stored):
    """A stored message (bytes) as an email.message.EmailMessage."""
    return email.message_from_bytes(stored, policy=email.policy.default)


def header_block(stored):
    """The header section of a stored message, unfolded, as text."""
    head = stored.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return re.sub(r"\n[ \t]+", " ", head)


def delivery_report(stored):
    """Checks a stored message is an RFC 3464 report and returns
    (the whole EmailMessage, the delivery-status text, the third part)."""
    msg = parse(stored)
    assert msg.get_content_type() == "multipart/report", stored[:600]
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert len(parts) == 3, [p.get_content_type() for p in parts]
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    status = parts[1].as_bytes().decode("utf-8", "replace")
    return msg, status, parts[2]


# ------------------------------------------------------------------ #
# Relaying


def test_relay_through_queue_reaches_second_server(mta):
    """An authenticated submission to a remote address is accepted,
    queued, sent to B by A's queue, and lands in B's mailbox with A's
    Received field (by a.example.org, with ESMTPA); the queue is empty
    afterwards."""
    b = mta("b")
    a = mta("a", route=[("example.net", b.port)])
    msg = make_message("relay one")
    assert a.submit(ALICE, [BOB], msg) == {}
    queued = a.wait_log(r"event=queued id=\w+ rcpts=1")[0]
    qid = re.search(r"id=(\w+)", queued).group(1)

    got = b.wait_inbox(BOB, 1)
    assert len(got) == 1
    head = header_block(got[0])
    # B's own trace on top, then A's, then the message as sent
    assert re.search(r"Received: from %s \(\[127\.0\.0\.1\]\) by %s "
                     r"\(facteur\) with ESMTP id " % (A_HOST, B_HOST),
                     head), head
    assert re.search(r"Received: from \S+ \(\[127\.0\.0\.1\]\) by %s "
                     r"\(facteur\) with ESMTPA id %s for <%s>;"
                     % (A_HOST, qid, BOB), head), head
    assert got[0].endswith(msg.replace(b"\r\n", b"\n"))
    assert "Return-Path: <%s>" % ALICE in head
    # one id follows the message from the session through the queue
    a.wait_log(r"smtp-queue id=%s event=sent rcpt=<%s> reply=\"250 "
               % (qid, BOB))
    a.wait_log(r"smtp-queue id=%s event=done" % qid)
    a.wait_queue_empty()


def test_unauthenticated_client_cannot_relay(mta):
    """A client that has not authenticated and is not in
    trusted_networks (127.0.0.2 against 127.0.0.1/32) gets 554 5.7.1 for
    a remote recipient, and nothing is queued; a local recipient is
    still accepted."""
    a = mta("a", route=[("example.net", free_port())])
    with smtplib.SMTP("127.0.0.1", a.port, timeout=15,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("outside.example.com")
        assert s.mail("someone@example.com")[0] == 250
        code, text = s.rcpt(BOB)
        assert code == 554, text
        assert text.startswith(b"5.7.1"), text
        assert s.rcpt(ALICE)[0] == 250
    assert a.queue() == []
    assert "event=queued" not in a.log()


# ------------------------------------------------------------------ #
# Retries


def test_next_hop_down_then_up_is_retried(mta):
    """With B down the message waits: `queue list` shows it pending with
    the connection error and the attempt count. Once B is started the
    next retry delivers it with no one's help, and the queue empties."""
    b = mta("b", start=False)
    a = mta("a", route=[("example.net", b.port)])
    assert a.submit(ALICE, [BOB], make_message("down then up")) == {}

    q = a.wait_queue(lambda q: q and q[0]["attempts"] >= 1
                     and q[0]["rcpts"][0][2] != "",
                     what="a failed first attempt")
    assert len(q) == 1
    state, address, reply = q[0]["rcpts"][0]
    assert (state, address) == ("pending", BOB)
    assert reply.startswith("451 4.4.1 "), reply
    assert "refused" in reply.lower(), reply
    assert q[0]["sender"] == ALICE
    # it goes on trying
    a.wait_queue(lambda q: q and q[0]["attempts"] >= 2,
                 what="a second attempt")

    b.start()
    got = b.wait_inbox(BOB, 1)
    assert b"Subject: down then up" in got[0]
    a.wait_queue_empty()
    assert len(b.messages(BOB)) == 1


def test_retry_delay_doubles(mta):
    """After each failed attempt the next one is set retry_min later,
    then twice that, then four times (retry_min 1s, retry_max 1h): the
    `next` time `queue list` shows, against the time the attempt was
    logged."""
    a = mta("a", route=[("example.net", free_port())], fast=False,
            smtp="retry_min 1s;\nretry_max 1h;\nsend_timeout 3s;")
    assert a.submit(ALICE, [BOB], make_message("backoff")) == {}
    seen = {}

    def note():
        r = a.ctl("queue", "list")
        m = re.search(r"attempts=(\d+)\tnext=(\S+)", r.stdout.decode())
        if m:
            seen[int(m.group(1))] = m.group(2)
        return len(seen.keys() & {1, 2, 3}) == 3
    wait_for(note, 15, interval=0.1, what="three attempts")
    attempts = [l[:19] for l in a.srv.log_lines()
                if re.search(r"event=deferred rcpt=<%s>" % BOB, l)]

    def seconds(stamp):
        """A UTC time stamp (log line, queue list) in seconds."""
        return calendar.timegm(time.strptime(stamp[:19],
                                             "%Y-%m-%dT%H:%M:%S"))
    for n, want in ((1, 1), (2, 2), (3, 4)):
        delay = seconds(seen[n]) - seconds(attempts[n - 1])
        assert want <= delay <= want + 1, (n, seen, attempts)


def test_queue_flush_sends_at_once(mta):
    """With a long retry delay (1 minute) a waiting message does not
    move by itself when the next hop comes back; `queue flush` makes it
    go at once."""
    b = mta("b", start=False)
    a = mta("a", route=[("example.net", b.port)], fast=False,
            smtp="retry_min 1m;\nretry_max 1h;\nsend_timeout 3s;")
    assert a.submit(ALICE, [BOB], make_message("flushed")) == {}
    a.wait_queue(lambda q: q and q[0]["attempts"] == 1
                 and q[0]["rcpts"][0][2].startswith("451"),
                 what="the first attempt to fail")
    b.start()
    time.sleep(1.5)
    assert b.messages(BOB) == [], "sent before its retry time"
    assert a.queue()[0]["attempts"] == 1

    r = a.ctl("queue", "flush")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"1 message\n"
    t0 = time.monotonic()
    b.wait_inbox(BOB, 1, timeout=10)
    assert time.monotonic() - t0 < 10
    a.wait_queue_empty()


def test_queue_flush_while_stopped(mta):
    """With no runner at work (A stopped), `queue flush` rewrites the
    envelope itself: the message is due at once (next is the epoch) and
    goes out as soon as A starts, not a minute later."""
    b = mta("b", start=False)
    a = mta("a", route=[("example.net", b.port)], fast=False,
            smtp="retry_min 1m;\nretry_max 1h;\nsend_timeout 3s;")
    assert a.submit(ALICE, [BOB], make_message("flushed stopped")) == {}
    a.wait_queue(lambda q: q and q[0]["attempts"] == 1
                 and q[0]["rcpts"][0][2].startswith("451"),
                 what="the first attempt to fail")
    assert a.srv.stop() == 0
    r = a.ctl("queue", "flush")
    assert (r.returncode, r.stdout) == (0, b"1 message\n"), r.stderr
    assert "next=1970-01-01T00:00:00Z" in a.ctl("queue", "list") \
        .stdout.decode()
    b.start()
    a.srv.start()
    b.wait_inbox(BOB, 1, timeout=10)
    a.wait_queue_empty()


def test_delete_during_attempt_stays_deleted(mta, peer):
    """A message deleted while an attempt is under way (the next hop
    says nothing) stays deleted when the attempt ends: its envelope is
    not written back, it is not tried again, and no report is made."""
    p = peer(silent=True)
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB], make_message("deleted mid-way")) == {}
    wait_for(lambda: p.connections == 1, 10, what="the attempt")
    qid = a.queue()[0]["id"]
    r = a.ctl("queue", "delete", qid)
    assert (r.returncode, r.stdout) == (0, b"1 message\n"), r.stderr
    # the attempt times out (send_timeout 3s), then a retry would come
    # a second later
    a.wait_log(r"id=%s event=deferred" % qid, timeout=15)
    time.sleep(2.5)
    assert a.queue() == []
    assert os.listdir(os.path.join(a.dir, "state", "queue", "env")) == []
    assert p.connections == 1
    assert "event=bounce" not in a.log()


def test_waiting_message_survives_restart(mta):
    """A message waiting for a next hop that is down stays on disk when A
    is stopped (SIGTERM) and goes out once A is started again and B is
    up: once, not twice."""
    b = mta("b", start=False)
    a = mta("a", route=[("example.net", b.port)])
    assert a.submit(ALICE, [BOB], make_message("restarted")) == {}
    a.wait_queue(lambda q: q and q[0]["attempts"] >= 1,
                 what="a first attempt")
    assert a.srv.stop() == 0
    assert [e["rcpts"][0][:2] for e in a.queue()] == [("pending", BOB)]
    b.start()
    a.srv.start()
    got = b.wait_inbox(BOB, 1)
    assert b"Subject: restarted" in got[0]
    a.wait_queue_empty()
    assert len(b.messages(BOB)) == 1


def test_per_recipient_results(mta, peer):
    """One message to three recipients of one domain, one transaction:
    the next hop takes the first, refuses the second for good and the
    third for now. The first is not sent again, the second alone is
    reported at once, the third alone goes at the retry."""
    p = peer(rcpt=["250 2.1.5 Ok", "550 5.1.1 nobody here",
                   "451 4.2.1 mailbox busy"])
    a = mta("a", route=[("example.net", p.port)])
    rcpts = ["r1@example.net", "r2@example.net", "r3@example.net"]
    assert a.submit(ALICE, rcpts, make_message("three")) == {}
    wait_for(lambda: len(p.messages) == 2, 15, what="two transactions")
    assert [m["rcpts"] for m in p.messages] == [["r1@example.net"],
                                                ["r3@example.net"]]
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert "Final-Recipient: rfc822; r2@example.net" in status
    assert "550 5.1.1 nobody here" in status
    assert "r1@example.net" not in status
    assert "r3@example.net" not in status
    a.wait_queue_empty()
    assert len(a.messages(ALICE)) == 1
    assert [m["rcpts"] for m in p.messages] == [["r1@example.net"],
                                                ["r3@example.net"]]


def test_message_goes_out_as_received(mta, peer):
    """What the next hop gets is A's Received field, then the message
    byte for byte: lines starting with a dot survive (dot-stuffed on the
    wire), and a 2,500-byte line is broken into lines of at most 998
    bytes, each continuation starting with a space (RFC 5321
    4.5.3.1.6)."""
    p = peer()
    a = mta("a", route=[("example.net", p.port)])
    long_line = "z" * 2500
    body = (".hidden\r\n..two dots\r\n.\r\nmiddle\r\n%s\r\nend\r\n"
            % long_line)
    msg = make_message("dots and lengths", body=body)
    assert a.submit(ALICE, [BOB], msg) == {}
    wait_for(lambda: len(p.messages) == 1, 15, what="the message")
    data = p.messages[0]["data"]
    assert data.startswith(b"Received: from "), data[:200]
    wrapped = ("z" * 998 + "\r\n " + "z" * 997 + "\r\n " + "z" * 505)
    expect = msg.replace(long_line.encode(), wrapped.encode())
    assert data.endswith(expect), data[-400:]
    assert max(len(l) for l in data.split(b"\r\n")) <= 998
    a.wait_queue_empty()


def test_alias_forwarding_away_goes_through_queue(mta, test_dir):
    """A local alias whose target is elsewhere: mail for it from any
    client (127.0.0.2, not trusted) is accepted and relayed through the
    queue to the target at B."""
    aliases = os.path.join(test_dir, "aliases")
    with open(aliases, "w") as f:
        f.write("fwd@example.org %s\n" % BOB)
    os.chmod(aliases, 0o644)
    b = mta("b")
    a = mta("a", route=[("example.net", b.port)],
            smtp="aliases %s;" % aliases)
    with smtplib.SMTP("127.0.0.1", a.port, timeout=15,
                      source_address=("127.0.0.2", 0)) as s:
        assert s.sendmail("dan@example.com", ["fwd@example.org"],
                          make_message("forwarded", sender="dan@example.com",
                                       to="fwd@example.org")) == {}
    got = b.wait_inbox(BOB, 1)
    assert b"Subject: forwarded" in got[0]
    assert "Return-Path: <dan@example.com>" in header_block(got[0])
    a.wait_queue_empty()


def test_route_and_relay_host_choose_the_next_hop(mta, peer):
    """A domain's own route wins; every other domain goes to relay_host
    (a smarthost, given as [address]:port), with no DNS lookup."""
    smarthost = peer()
    b = mta("b")
    a = mta("a", route=[("example.net", b.port)],
            smtp="relay_host [127.0.0.1]:%d;" % smarthost.port)
    assert a.submit(ALICE, [BOB, "dan@example.com", "eve@elsewhere.test"],
                    make_message("routes")) == {}
    b.wait_inbox(BOB, 1)
    wait_for(lambda: sorted(r for m in smarthost.messages
                            for r in m["rcpts"]) ==
             ["dan@example.com", "eve@elsewhere.test"], 15,
             what="the smarthost to get the other two")
    a.wait_queue_empty()
    assert BOB not in [r for r, _ in smarthost.rcpt_log]


def test_wildcard_route(mta, peer):
    """`route * HOST:PORT` takes every domain without a route of its
    own."""
    p = peer()
    a = mta("a", smtp="route * 127.0.0.1:%d;" % p.port)
    assert a.submit(ALICE, ["x@one.test", "y@two.test"],
                    make_message("wildcard")) == {}
    wait_for(lambda: sorted(r for m in p.messages for r in m["rcpts"]) ==
             ["x@one.test", "y@two.test"], 15, what="both domains")
    # one transaction per domain
    assert len(p.messages) == 2
    a.wait_queue_empty()


def test_reload_hands_the_queue_to_the_new_runner(mta):
    """A message waiting when A reloads its config (SIGHUP) is sent by
    the new generation's runner once B is up, exactly once."""
    b = mta("b", start=False)
    a = mta("a", route=[("example.net", b.port)])
    assert a.submit(ALICE, [BOB], make_message("reloaded")) == {}
    a.wait_queue(lambda q: q and q[0]["attempts"] >= 1,
                 what="a first attempt")
    a.srv.signal(signal.SIGHUP)
    a.wait_log(r"master: reloaded")
    b.start()
    got = b.wait_inbox(BOB, 1, timeout=20)
    assert b"Subject: reloaded" in got[0]
    a.wait_queue_empty()
    assert len(b.messages(BOB)) == 1


def test_old_next_hop_gets_helo(mta, peer):
    """A next hop that does not know EHLO (502) is greeted with HELO and
    gets the message with no ESMTP parameters on MAIL."""
    p = peer(ehlo=False)
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB], make_message("helo")) == {}
    wait_for(lambda: len(p.messages) == 1, 15, what="the message")
    assert [c.split()[0] for c in p.commands[:2]] == ["EHLO", "HELO"]
    assert [c for c in p.commands if c.startswith("MAIL")] == \
        ["MAIL FROM:<%s>" % ALICE]
    a.wait_queue_empty()


def test_large_message_streamed_intact(mta, peer):
    """A 4 MB message is sent on whole: the peer gets exactly the bytes
    A stored, after A's Received field."""
    p = peer()
    a = mta("a", route=[("example.net", p.port)])
    body = "".join("%06d %s\r\n" % (i, "q" * 68) for i in range(54000))
    msg = make_message("large", body=body)
    assert len(msg) > 4000000
    assert a.submit(ALICE, [BOB], msg) == {}
    wait_for(lambda: len(p.messages) == 1, 30, what="the large message")
    assert p.messages[0]["data"].endswith(msg)
    assert p.messages[0]["data"].startswith(b"Received: ")
    a.wait_queue_empty()


# ------------------------------------------------------------------ #
# Failures and delivery status notifications


def test_tempfail_then_permfail_is_retried_then_reported(mta, peer):
    """A next hop that answers RCPT with 451 and then, at the retry, with
    550: the message is tried twice, then the local sender gets a
    multipart/report naming the recipient, Status 5.1.1, the peer's
    answer, and the original message; the queue is empty after."""
    p = peer(rcpt=["451 4.3.0 Try again later",
                   "550 5.1.1 <bob@example.net>: no such user here"])
    a = mta("a", route=[("example.net", p.port)])
    msg = make_message("four then five", body="The original text.\r\n")
    assert a.submit(ALICE, [BOB], msg) == {}

    got = a.wait_inbox(ALICE, 1)
    assert [r for _, r in p.rcpt_log] == [
        "451 4.3.0 Try again later",
        "550 5.1.1 <bob@example.net>: no such user here"]
    assert p.messages == []
    report, status, original = delivery_report(got[0])
    assert report["To"].addresses[0].addr_spec == ALICE
    assert "Return-Path: <>" in header_block(got[0])
    assert re.search(r"Final-Recipient: rfc822; ?%s" % BOB, status)
    assert re.search(r"Action: failed", status)
    assert re.search(r"Status: 5\.1\.1", status), status
    assert "550 5.1.1 <bob@example.net>: no such user here" in status
    assert "Reporting-MTA: dns; %s" % A_HOST in status
    # no ORCPT given: the sender's original address is not known
    # (RFC 3464 2.3.1)
    assert "Original-Recipient" not in status, status
    assert original.get_content_type() == "message/rfc822"
    inner = original.get_content()
    assert inner["Subject"] == "four then five"
    assert "The original text." in inner.get_content()
    a.wait_queue_empty()
    assert len(a.wait_log(r"event=deferred rcpt=<%s>" % BOB)) == 1
    assert len(a.wait_log(r"event=failed rcpt=<%s>" % BOB)) == 1


def test_too_big_for_next_hop_is_reported(mta):
    """A announces the size on MAIL (SIZE=); B, whose limit is 2k,
    refuses there with 552 5.3.4, and the sender gets a report with
    Status 5.3.4."""
    b = mta("b", smtp="max_message_size 2k;")
    a = mta("a", route=[("example.net", b.port)])
    msg = make_message("too big", body=("w" * 70 + "\r\n") * 60)
    assert a.submit(ALICE, [BOB], msg) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert re.search(r"Status: 5\.3\.4", status), status
    assert "552 5.3.4" in status
    assert b.messages(BOB) == []
    a.wait_queue_empty()


def test_non_ascii_address_needs_smtputf8_at_next_hop(mta, peer):
    """A recipient with a non-ASCII address cannot go to a next hop that
    does not announce SMTPUTF8: it fails for good (553 5.6.7) and is
    reported; nothing was sent."""
    p = peer()
    a = mta("a", route=[("example.net", p.port)])
    rcpt = "j\u00fcrgen@example.net"
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, [rcpt], make_message("utf8"),
                   mail_options=["SMTPUTF8"])
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert re.search(r"Status: 5\.6\.7", status), status
    assert not [c for c in p.commands if c.startswith(("MAIL", "RCPT"))]
    a.wait_queue_empty()


def test_silent_peer_times_out_and_is_retried(mta, peer):
    """A next hop that accepts the connection and never answers: the
    attempt ends after send_timeout (3 s) with a 4.4.x timeout, the
    message stays queued and is retried; meanwhile the runner still
    sends other mail, and once the peer answers the message goes."""
    p = peer(silent=True)
    other = peer()
    a = mta("a", route=[("example.net", p.port),
                        ("example.com", other.port)])
    t0 = time.monotonic()
    assert a.submit(ALICE, [BOB], make_message("silent")) == {}

    # another message goes on while the first is stuck
    assert a.submit(ALICE, ["dan@example.com"],
                    make_message("meanwhile", to="dan@example.com")) == {}
    wait_for(lambda: len(other.messages) == 1, 10,
             what="the other message to be sent")
    assert p.connections == 1
    assert "event=deferred rcpt=<%s>" % BOB not in a.log(), \
        "the other message waited for the silent peer"

    q = a.wait_queue(lambda q: q and q[0]["attempts"] >= 1
                     and q[0]["rcpts"][0][2] != "", timeout=10,
                     what="the silent attempt to time out")
    elapsed = time.monotonic() - t0
    assert 2.5 <= elapsed <= 8, elapsed
    state, _, reply = q[0]["rcpts"][0]
    assert state == "pending"
    assert re.match(r"451 4\.4\.\d .*timeout", reply), reply
    wait_for(lambda: p.connections >= 2, 10, what="a retry")

    p.silent = False
    wait_for(lambda: len(p.messages) == 1, 15,
             what="the message to be sent once the peer answers")
    assert b"Subject: silent" in p.messages[0]["data"]
    a.wait_queue_empty()


def test_queue_lifetime_expires_and_reports(mta):
    """With queue_lifetime 3s and a next hop that never comes up, the
    message is given up: the sender gets a report with Status 5.4.7 (or
    4.4.7) and "delivery time expired", and the queue is empty."""
    a = mta("a", route=[("example.net", free_port())],
            smtp="queue_lifetime 3s;")
    t0 = time.monotonic()
    assert a.submit(ALICE, [BOB], make_message("too late")) == {}
    got = a.wait_inbox(ALICE, 1, timeout=20)
    assert time.monotonic() - t0 >= 3
    _, status, original = delivery_report(got[0])
    assert re.search(r"Status: [45]\.4\.7", status), status
    assert "delivery time expired" in status
    assert re.search(r"Final-Recipient: rfc822; ?%s" % BOB, status)
    assert original.get_content()["Subject"] == "too late"
    a.wait_queue_empty()


def test_expiry_is_not_put_off_by_a_long_retry_delay(mta):
    """The retry after a failure is set no later than the expiry: with
    queue_lifetime 3s and retry_min 1m, the report comes a few seconds
    after the message, not a minute later."""
    a = mta("a", route=[("example.net", free_port())], fast=False,
            smtp="retry_min 1m;\nretry_max 1h;\nsend_timeout 3s;\n"
                 "queue_lifetime 3s;")
    t0 = time.monotonic()
    assert a.submit(ALICE, [BOB], make_message("expires on time")) == {}
    got = a.wait_inbox(ALICE, 1, timeout=15)
    assert 3 <= time.monotonic() - t0 <= 8
    _, status, _ = delivery_report(got[0])
    assert "delivery time expired" in status
    a.wait_queue_empty()


def test_null_sender_failure_is_dropped_without_report(mta, peer):
    """A message from the null sender <> that the next hop refuses for
    good is dropped: no report is made, none reaches anyone, the queue
    is empty."""
    p = peer(rcpt_default="550 5.1.1 no such user")
    a = mta("a", route=[("example.net", p.port)])
    assert a.send_smtp("", [BOB], make_message("bounce", sender="")) == {}
    a.wait_log(r"smtp-queue id=\w+ event=failed rcpt=<%s>" % BOB)
    a.wait_log(r"smtp-queue id=\w+ event=done")
    a.wait_queue_empty()
    assert "event=bounce" not in a.log()
    assert p.rcpt_log == [(BOB, "550 5.1.1 no such user")]
    assert [c for c in p.commands if c.startswith("MAIL")] == \
        ["MAIL FROM:<> BODY=8BITMIME"]
    assert a.messages(ALICE) == []


def test_failed_report_is_not_reported_again(mta, peer):
    """A message from a remote sender is refused for good; its report
    goes to the sender's domain, which refuses it too. That second
    failure makes no report of its own: exactly one report was tried
    (from <>), and the queue is empty."""
    everyone_refuses = "550 5.1.1 no such user"
    net = peer(rcpt_default=everyone_refuses)
    com = peer(rcpt_default=everyone_refuses)
    a = mta("a", route=[("example.net", net.port),
                        ("example.com", com.port)])
    assert a.send_smtp("dan@example.com", [BOB], make_message(
        "report me", sender="dan@example.com")) == {}
    a.wait_log(r"event=bounce bounce=\w+ to=<dan@example.com>")
    wait_for(lambda: len(com.rcpt_log) >= 1, 10,
             what="the report to be tried")
    a.wait_queue_empty()
    # give a loop the time it would need to show itself: two retries
    time.sleep(2.5)
    assert len(re.findall("event=bounce", a.log())) == 1
    assert com.rcpt_log == [("dan@example.com", everyone_refuses)]
    assert net.rcpt_log == [(BOB, everyone_refuses)]
    assert a.queue() == []


def test_dsn_ret_hdrs_envid_orcpt(mta, peer):
    """RET=HDRS gives a report whose third part is text/rfc822-headers
    (the header only, no body); ENVID comes back as
    Original-Envelope-Id and ORCPT as Original-Recipient."""
    p = peer(rcpt_default="550 5.1.1 no such user")
    a = mta("a", route=[("example.net", p.port)])
    msg = make_message("headers only", body="SECRET BODY TEXT\r\n")
    assert a.submit(ALICE, [BOB], msg,
                    mail_options=["RET=HDRS", "ENVID=QT+2Benv42"],
                    rcpt_options=["NOTIFY=FAILURE",
                                  "ORCPT=rfc822;first+2Bbob@example.net"]
                    ) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, third = delivery_report(got[0])
    assert third.get_content_type() == "text/rfc822-headers"
    assert b"Subject: headers only" in got[0]
    assert b"SECRET BODY TEXT" not in got[0]
    assert re.search(r"Original-Envelope-Id: QT\+env42", status), status
    assert re.search(r"Original-Recipient: rfc822; ?first\+bob@example\.net",
                     status), status
    assert re.search(r"Final-Recipient: rfc822; ?%s" % BOB, status)
    a.wait_queue_empty()


def test_dsn_notify_never_gives_no_report(mta, peer):
    """NOTIFY=NEVER: the recipient is refused for good and the sender
    hears nothing; the message leaves the queue. A second recipient in
    the same message without NOTIFY is reported, alone."""
    p = peer(rcpt_default="550 5.1.1 no such user")
    a = mta("a", route=[("example.net", p.port)])
    assert a.submit(ALICE, [BOB], make_message("never"),
                    rcpt_options=["NOTIFY=NEVER"]) == {}
    a.wait_log(r"smtp-queue id=\w+ event=done")
    a.wait_queue_empty()
    assert "event=bounce" not in a.log()
    assert a.messages(ALICE) == []

    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        s.ehlo()
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt(BOB, ["NOTIFY=NEVER"])[0] == 250
        assert s.rcpt("carol@example.net")[0] == 250
        assert s.rcpt("dan@example.net", ["NOTIFY=SUCCESS,DELAY"])[0] == 250
        assert s.data(make_message("one of three"))[0] == 250
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert "carol@example.net" in status
    assert BOB not in status
    assert "dan@example.net" not in status
    a.wait_queue_empty()


def test_dsn_parameters_passed_to_next_hop(mta, peer):
    """A next hop that announces DSN gets the sender's RET and ENVID on
    MAIL and NOTIFY and ORCPT on RCPT, as they were given (RFC 3461
    5.2: a relaying MTA passes them on); one that does not announce DSN
    gets none of them."""
    with_dsn = peer(dsn=True)
    without = peer()
    a = mta("a", route=[("example.net", with_dsn.port),
                        ("example.com", without.port)])
    assert a.submit(ALICE, [BOB, "dan@example.com"],
                    make_message("dsn on"),
                    mail_options=["RET=HDRS", "ENVID=env+2B42"],
                    rcpt_options=["NOTIFY=FAILURE,DELAY",
                                  "ORCPT=rfc822;orig+2Bx@example.org"]
                    ) == {}
    wait_for(lambda: with_dsn.messages and without.messages, 15,
             what="both messages sent")
    a.wait_queue_empty()
    plain = [c for c in without.commands if c[:4] in ("MAIL", "RCPT")]
    for param in ("RET=", "ENVID=", "NOTIFY=", "ORCPT="):
        assert not any(param in c.upper() for c in plain), plain
    mail = [c for c in with_dsn.commands if c.startswith("MAIL")][0]
    rcpt = [c for c in with_dsn.commands if c.startswith("RCPT")][0]
    assert "RET=HDRS" in mail.split(), mail
    assert "ENVID=env+2B42" in mail.split(), mail
    assert "NOTIFY=FAILURE,DELAY" in rcpt.split(), rcpt
    assert "ORCPT=rfc822;orig+2Bx@example.org" in rcpt.split(), rcpt


# ------------------------------------------------------------------ #
# DNS


@pytest.fixture
def dnsmasq(test_dir):
    """Factory: dnsmasq(*options) starts dnsmasq on 127.0.0.1 and a high
    port, answering only from its options for the .test domain (NXDOMAIN
    for any other name under it); returns the port."""
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.access(exe, os.X_OK):
        pytest.skip("dnsmasq is not installed (dnsmasq-base)")
    procs = []

    def start(*options):
        port = free_port()
        log = open(os.path.join(test_dir, "dnsmasq.log"), "ab")
        p = subprocess.Popen(
            [exe, "--keep-in-foreground", "--conf-file=/dev/null",
             "--port=%d" % port, "--listen-address=127.0.0.1",
             "--bind-interfaces", "--no-resolv", "--no-hosts",
             "--local=/test/", "--pid-file=%s" % os.path.join(
                 test_dir, "dnsmasq.pid"),
             "--log-queries", "--log-facility=-"] + list(options),
            stdout=log, stderr=log)
        procs.append((p, log))
        # ready once it answers on its UDP port
        wait_for(lambda: dns_answers(port), 10, what="dnsmasq to answer")
        return port
    yield start
    for p, log in procs:
        p.terminate()
        p.wait(10)
        log.close()


def dns_answers(port):
    """True when something answers a DNS query on 127.0.0.1:port."""
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x05probe\x04test\x00\x00\x01\x00\x01")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(query, ("127.0.0.1", port))
        return s.recv(512)[:2] == b"\x12\x34"
    except OSError:
        return False
    finally:
        s.close()


# The zone every DNS test uses, as dnsmasq options:
#   good.test      MX 10 mx1.good.test (127.0.0.3: no one listens there)
#                  MX 20 mx2.good.test (127.0.0.1)
#   plain.test     no MX, an A record: 127.0.0.1
#   noaddr.test    MX 10 nowhere.noaddr.test, which has no address
#   nullmx.test    MX 0 "." (RFC 7505: takes no mail)
#   nx.test        does not exist
DNS_ZONE = (
    "--mx-host=good.test,mx1.good.test,10",
    "--mx-host=good.test,mx2.good.test,20",
    "--host-record=mx1.good.test,127.0.0.3",
    "--host-record=mx2.good.test,127.0.0.1",
    "--host-record=plain.test,127.0.0.1",
    "--mx-host=noaddr.test,nowhere.noaddr.test,10",
    # preference 0, then the root name: a null MX
    "--dns-rr=nullmx.test,15,000000",
)


def dns_mta(mta, dnsmasq, **kw):
    port = dnsmasq(*DNS_ZONE)
    return mta("a", settings={"dns_servers": "127.0.0.1:%d" % port}, **kw)


def test_mx_to_name_without_address_waits(mta, dnsmasq):
    """An MX whose host name has no address leaves nothing to connect
    to: the recipient waits with 4.4.4 "no address to send to" and is
    retried (no route, no relay host: the answer comes from DNS)."""
    a = dns_mta(mta, dnsmasq)
    assert a.submit(ALICE, ["x@noaddr.test"],
                    make_message("no address", to="x@noaddr.test")) == {}
    q = a.wait_queue(lambda q: q and q[0]["attempts"] >= 2,
                     what="two attempts")
    assert q[0]["rcpts"][0][0] == "pending"
    assert q[0]["rcpts"][0][2] == "451 4.4.4 no address to send to"
    assert a.messages(ALICE) == []


def test_null_mx_fails_for_good_and_reports(mta, dnsmasq):
    """A null MX (RFC 7505) refuses mail for good at the first attempt:
    the sender gets a report with Status 5.1.10, the queue is empty."""
    a = dns_mta(mta, dnsmasq)
    assert a.submit(ALICE, ["x@nullmx.test"],
                    make_message("null mx", to="x@nullmx.test")) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert re.search(r"Status: 5\.1\.10", status), status
    assert "Final-Recipient: rfc822; x@nullmx.test" in status
    a.wait_queue_empty()
    assert len(re.findall(r"event=(?:sent|deferred|failed) rcpt=<x@nullmx",
                          a.log())) == 1


def test_nxdomain_fails_for_good_and_reports(mta, dnsmasq):
    """A recipient domain that does not exist (NXDOMAIN) fails for good
    at once: the report says Status 5.1.2."""
    a = dns_mta(mta, dnsmasq)
    assert a.submit(ALICE, ["x@nx.test"],
                    make_message("nx domain", to="x@nx.test")) == {}
    got = a.wait_inbox(ALICE, 1)
    _, status, _ = delivery_report(got[0])
    assert re.search(r"Status: 5\.1\.2", status), status
    assert "Final-Recipient: rfc822; x@nx.test" in status
    a.wait_queue_empty()


def test_mx_hosts_tried_in_preference_order(mta, dnsmasq):
    """The MX hosts are tried by preference, each at its A record's
    address on port 25 (mx1.good.test at 127.0.0.3 first, then
    mx2.good.test at 127.0.0.1); a domain without MX is tried at its own
    address. Nothing listens on port 25 here, so each attempt is refused
    and logged, peer by peer."""
    if not port_free(25):
        pytest.skip("something listens on port 25")
    a = dns_mta(mta, dnsmasq)
    assert a.submit(ALICE, ["x@good.test", "y@plain.test"],
                    make_message("mx order", to="x@good.test")) == {}
    lines = a.wait_log(r"event=try-next peer=", count=3)
    peers = [re.search(r"peer=(\S+)", l).group(1) for l in lines]
    assert peers.index("mx1.good.test[127.0.0.3]:25") < \
        peers.index("mx2.good.test[127.0.0.1]:25"), peers
    assert "plain.test[127.0.0.1]:25" in peers
    q = a.wait_queue(lambda q: q and all(r[2] for r in q[0]["rcpts"]),
                     what="both recipients tried")
    assert all(r[0] == "pending" and r[2].startswith("451 4.4.1")
               for r in q[0]["rcpts"]), q


def test_dns_server_refusing_is_a_temporary_failure(mta, dnsmasq,
                                                  test_dir):
    """A DNS server that refuses the query (REFUSED, as dnsmasq does for
    names it knows nothing about) is a temporary failure: the recipient
    waits with 4.4.3, without a report. The refusal ends the lookup: the
    server is not asked again and again until the lookup's time is
    up."""
    a = dns_mta(mta, dnsmasq)
    t0 = time.monotonic()
    assert a.submit(ALICE, ["x@refused.example"],
                    make_message("refused", to="x@refused.example")) == {}
    q = a.wait_queue(lambda q: q and q[0]["rcpts"][0][2] != "",
                     timeout=20, what="the first attempt")
    elapsed = time.monotonic() - t0
    assert q[0]["rcpts"][0][0] == "pending"
    assert q[0]["rcpts"][0][2].startswith("451 4.4.3"), q
    with open(os.path.join(test_dir, "dnsmasq.log")) as f:
        asked = len(re.findall(r"query\[MX\] refused\.example ", f.read()))
    assert asked <= 2 * q[0]["attempts"] + 2, \
        "%d MX queries in %.1fs for %d attempt(s)" % (
            asked, elapsed, q[0]["attempts"])
    assert a.messages(ALICE) == []


def udp_no_ports():
    """How many UDP datagrams this network namespace received for a port
    nobody listens on (/proc/net/snmp, Udp NoPorts)."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(rows[1][rows[0].index("NoPorts")])


def test_dns_server_down_is_a_temporary_failure(mta):
    """With the only DNS server unreachable (nothing on its UDP port),
    the lookup fails for now: the recipient waits with 4.4.3 and no
    report is made. An unreachable server is not asked again as fast as
    the answers "port unreachable" come back: the datagrams sent to the
    closed port in the first attempt are counted (Udp NoPorts) and stay
    few."""
    a = mta("a", settings={"dns_servers": "127.0.0.1:%d" % free_port()})
    before = udp_no_ports()
    t0 = time.monotonic()
    assert a.submit(ALICE, ["x@down.example"],
                    make_message("dns down", to="x@down.example")) == {}
    q = a.wait_queue(lambda q: q and q[0]["rcpts"][0][2] != "",
                     timeout=20, what="the first attempt")
    sent = udp_no_ports() - before
    assert q[0]["rcpts"][0][0] == "pending"
    assert q[0]["rcpts"][0][2].startswith("451 4.4.3"), q
    assert sent <= 10 * q[0]["attempts"] + 20, \
        "%d queries to a closed port in %.1fs for %d attempt(s)" % (
            sent, time.monotonic() - t0, q[0]["attempts"])
    assert a.messages(ALICE) == []


def test_dns_silent_server_is_asked_once_a_round(mta):
    """A DNS server that never answers is asked once in each of the two
    rounds (resolv.conf's attempts:2), each given half the lookup's 10
    seconds, not again and again; then the lookup fails for now."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.settimeout(0.2)
    try:
        # no second attempt comes while this one is watched
        a = mta("a", settings={"dns_servers": "127.0.0.1:%d"
                               % silent.getsockname()[1]},
                fast=False, smtp="retry_min 1m;\nretry_max 1h;")
        assert a.submit(ALICE, ["x@silent.example"], make_message(
            "silent dns", to="x@silent.example")) == {}
        got = []
        t0 = time.monotonic()
        while not (a.queue() and a.queue()[0]["rcpts"][0][2]):
            assert time.monotonic() - t0 < 20, "no first attempt"
            try:
                got.append((time.monotonic() - t0, silent.recv(512)))
            except socket.timeout:
                pass
        q = a.queue()
        assert q[0]["rcpts"][0][2].startswith("451 4.4.3"), q
        assert q[0]["attempts"] == 1, q
        assert len(got) == 2, [t for t, _ in got]
        assert 4 <= got[1][0] - got[0][0] <= 7, [t for t, _ in got]
    finally:
        silent.close()


def test_dns_next_server_after_a_refusal(mta, dnsmasq):
    """Of two DNS servers, the first refuses to answer (nothing listens
    on its port): the second is asked at once, and its answer (a null
    MX) is the lookup's."""
    port = dnsmasq(*DNS_ZONE)
    a = mta("a", settings={"dns_servers": "127.0.0.1:%d 127.0.0.1:%d"
                           % (free_port(), port)})
    t0 = time.monotonic()
    assert a.submit(ALICE, ["x@nullmx.test"],
                    make_message("second server", to="x@nullmx.test")) == {}
    got = a.wait_inbox(ALICE, 1)
    assert time.monotonic() - t0 < 5
    _, status, _ = delivery_report(got[0])
    assert re.search(r"Status: 5\.1\.10", status), status
    a.wait_queue_empty()


class TruncatingDns:
    """A DNS server on UDP and TCP (one port) for the zone tc.test: over
    UDP its MX answer is truncated (TC, and no records at all, as many
    servers send it), over TCP whole: MX 10 mx.tc.test. mx.tc.test has
    the address 127.0.0.1; other names do not exist. .tcp_queries
    counts the questions that came over TCP."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.tcp_queries = 0
        self.running = True
        for fn in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=fn, daemon=True).start()

    def stop(self):
        self.running = False
        self.udp.close()
        self.tcp.close()

    @staticmethod
    def _name(wire):
        labels = []
        while wire and wire[0]:
            labels.append(wire[1:1 + wire[0]].decode().lower())
            wire = wire[1 + wire[0]:]
        return ".".join(labels)

    def answer(self, query, tcp):
        end = 12
        while query[end]:
            end += 1 + query[end]
        question = query[12:end + 5]
        name = self._name(query[12:end + 1])
        qtype = int.from_bytes(query[end + 1:end + 3], "big")
        records, rcode, flags = [], 0, 0x8400    # QR, AA
        if name == "tc.test" and qtype == 15:
            if tcp:
                mx = b"\x02mx\x02tc\x04test\x00"
                records.append((15, b"\x00\x0a" + mx))
            else:
                flags |= 0x0200                 # TC
        elif name == "mx.tc.test" and qtype == 1:
            records.append((1, bytes([127, 0, 0, 1])))
        elif name not in ("tc.test", "mx.tc.test"):
            rcode = 3                           # NXDOMAIN
        out = query[:2] + (flags | rcode).to_bytes(2, "big")
        out += b"\x00\x01" + len(records).to_bytes(2, "big") + b"\0" * 4
        out += question
        for rtype, rdata in records:
            out += (b"\xc0\x0c" + rtype.to_bytes(2, "big") + b"\x00\x01"
                    + (60).to_bytes(4, "big")
                    + len(rdata).to_bytes(2, "big") + rdata)
        return out

    def _serve_udp(self):
        while self.running:
            try:
                query, peer = self.udp.recvfrom(512)
                self.udp.sendto(self.answer(query, False), peer)
            except OSError:
                return

    def _serve_tcp(self):
        while self.running:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                data = b""
                while len(data) < 2 or len(data) < 2 + int.from_bytes(
                        data[:2], "big"):
                    chunk = conn.recv(512)
                    if not chunk:
                        break
                    data += chunk
                if len(data) < 2:
                    continue
                self.tcp_queries += 1
                reply = self.answer(data[2:], True)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)


def test_dns_truncated_answer_is_asked_again_over_tcp(mta):
    """A truncated UDP answer (TC) is not used: the question goes again
    over TCP to the same server, and the MX found there is the one
    tried (mx.tc.test at 127.0.0.1:25, where nothing listens here); the
    empty truncated answer would have meant "no MX"."""
    if not port_free(25):
        pytest.skip("something listens on port 25")
    dns = TruncatingDns()
    try:
        a = mta("a", settings={"dns_servers": "127.0.0.1:%d" % dns.port})
        assert a.submit(ALICE, ["x@tc.test"],
                        make_message("truncated", to="x@tc.test")) == {}
        a.wait_log(r"event=try-next peer=mx\.tc\.test\[127\.0\.0\.1\]:25")
        assert dns.tcp_queries >= 1
        q = a.wait_queue(lambda q: q and q[0]["rcpts"][0][2] != "",
                         what="the first attempt")
        assert q[0]["rcpts"][0][2].startswith("451 4.4.1"), q
    finally:
        dns.stop()


def port_free(port, host="127.0.0.1"):
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.mark.skipif(not IS_ROOT, reason="port 25 needs root")
def test_mx_delivery_on_port_25(mta, dnsmasq, peer):
    """With a peer on 127.0.0.1:25, mail for good.test is delivered
    through its second MX (the first, 127.0.0.3, refuses), and mail for
    plain.test (no MX) to the domain's own address."""
    if not port_free(25):
        pytest.skip("port 25 is in use")
    p = peer(port=25)
    a = dns_mta(mta, dnsmasq)
    assert a.submit(ALICE, ["x@good.test", "y@plain.test"],
                    make_message("via mx", to="x@good.test")) == {}
    wait_for(lambda: sorted(r for m in p.messages for r in m["rcpts"]) ==
             ["x@good.test", "y@plain.test"], 15,
             what="both domains delivered")
    assert all(b"Subject: via mx" in m["data"] for m in p.messages)
    a.wait_queue_empty()
    assert a.messages(ALICE) == []


# ------------------------------------------------------------------ #
# TLS


def b_session_of(b, sender):
    """B's session id for the transaction whose sender was `sender`."""
    line = b.wait_log(r"smtp session=\S+ event=mail id=\w+ from=<%s>"
                      % re.escape(sender))[0]
    return re.search(r"session=(\S+)", line).group(1)


def test_opportunistic_starttls(mta, tls_files):
    """B offers STARTTLS (it has a certificate): A's queue uses it, so
    B logs event=tls for the session that brought the message and its
    Received field says ESMTPS."""
    b = mta("b", tls_files=tls_files)
    a = mta("a", route=[("example.net", b.port)])
    assert a.submit(ALICE, [BOB], make_message("over tls")) == {}
    got = b.wait_inbox(BOB, 1)
    session = b_session_of(b, ALICE)
    assert re.search(r"session=%s event=tls version=TLSv1\.[23]"
                     % re.escape(session), b.log()), b.log()
    head = header_block(got[0])
    assert re.search(r"by %s \(facteur\) with ESMTPS id" % B_HOST, head), \
        head
    a.wait_queue_empty()


def test_tls_outbound_no_sends_in_clear(mta, tls_files):
    """With `tls_outbound no` A does not use the STARTTLS B offers: no
    event=tls in B's log for that session, and B's Received says ESMTP."""
    b = mta("b", tls_files=tls_files)
    a = mta("a", route=[("example.net", b.port)], smtp="tls_outbound no;")
    assert a.submit(ALICE, [BOB], make_message("in clear")) == {}
    got = b.wait_inbox(BOB, 1)
    session = b_session_of(b, ALICE)
    assert not re.search(r"session=%s event=tls" % re.escape(session),
                         b.log())
    head = header_block(got[0])
    assert re.search(r"by %s \(facteur\) with ESMTP id" % B_HOST, head), \
        head
    a.wait_queue_empty()


# ------------------------------------------------------------------ #
# Crash safety


def queue_runner_pid(a):
    """The pid of A's queue runner: the child of the master that is not
    the worker (the worker's log lines say "smtp session="), once a
    session has shown which one the worker is."""
    kids = set(harness.proc_children(a.srv.pid))
    workers = {int(m) for m in re.findall(
        r"facteurd\[(\d+)\]: \w+: smtp session=", a.log())}
    if not kids & workers:
        return None
    others = kids - workers
    return others.pop() if len(others) == 1 else None


def test_runner_killed_mid_batch_loses_nothing(mta, peer):
    """20 messages go to a slow peer (it waits before answering the end
    of data); the queue runner is killed with SIGKILL in the middle. The
    master starts a new one, and every message arrives at least once
    (counted by Message-Id); duplicates are allowed (SMTP is
    at-least-once) and their number is printed."""
    p = peer(data_delay=0.4)
    a = mta("a", route=[("example.net", p.port)], fast=False,
            smtp="retry_min 1s;\nretry_max 2s;\nsend_timeout 5s;\n"
                 "queue_concurrency 4;")
    ids = ["crash-%02d@example.org" % i for i in range(20)]
    with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
        s.login(ALICE, PASSWORD)
        for i, msgid in enumerate(ids):
            s.sendmail(ALICE, [BOB], make_message("crash %d" % i,
                                                  msgid=msgid))
    wait_for(lambda: len(p.messages) >= 4, 20, what="some messages sent")
    runner = wait_for(lambda: queue_runner_pid(a), 5, what="the runner")
    os.kill(runner, signal.SIGKILL)
    sent_before = len(p.messages)
    assert p.max_active <= 4, "queue_concurrency 4 was exceeded"
    assert sent_before < 20, "too late: everything was sent already"
    a.wait_log(r"master: worker %d killed by signal 9" % runner)

    def arrived():
        return {re.search(rb"Message-ID: <([^>]+)>", m["data"]).group(1)
                .decode() for m in p.messages}
    wait_for(lambda: arrived() == set(ids), 60,
             what="all 20 messages to arrive")
    a.wait_queue_empty(timeout=20)
    new_runner = queue_runner_pid(a)
    assert new_runner is not None and new_runner != runner
    duplicates = len(p.messages) - len(ids)
    print("killed the runner after %d of 20; %d duplicate(s)"
          % (sent_before, duplicates))
    assert duplicates <= 4, "more duplicates than messages in flight"


# ------------------------------------------------------------------ #
# Local deliveries that fail for now


def test_over_quota_recipient_waits_others_get_it(mta):
    """Of two local recipients, one is over quota: the other gets the
    message at once, the over-quota one stays in the queue (no report to
    the sender), and gets it once the quota is raised in the passwd file
    and the queue is flushed."""
    a = mta("a", users={ALICE: "", "dan@example.org": "",
                        "eve@example.org": "quota=1k"})
    big = make_message("big one", to="dan@example.org",
                       body=("y" * 70 + "\r\n") * 40)
    assert a.submit(ALICE, ["dan@example.org", "eve@example.org"],
                    big) == {}
    assert len(a.messages("dan@example.org")) == 1
    q = a.wait_queue(lambda q: q and q[0]["attempts"] >= 1,
                     what="a retry of the local delivery")
    assert [(r[0], r[1]) for r in q[0]["rcpts"]] == \
        [("pending", "eve@example.org")]
    assert a.messages("eve@example.org") == []
    assert a.messages(ALICE) == []

    with open(os.path.join(a.dir, "passwd")) as f:
        text = f.read()
    tmp = os.path.join(a.dir, "passwd.new")
    with open(tmp, "w") as f:
        f.write(text.replace("quota=1k", "quota=1M"))
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(a.dir, "passwd"))
    r = a.ctl("queue", "flush")
    assert r.returncode == 0, r.stderr
    got = a.wait_inbox("eve@example.org", 1)
    assert b"Subject: big one" in got[0]
    # the retried delivery carries A's trace once, as the first one did
    for user in ("dan@example.org", "eve@example.org"):
        head = header_block(a.inbox(user)[0])
        assert len(re.findall(r"^Received: ", head, re.M)) == 1, head
        assert "Return-Path: <%s>" % ALICE in head
    a.wait_queue_empty()
    assert len(a.messages("dan@example.org")) == 1
    assert len(a.messages("eve@example.org")) == 1
    assert a.messages(ALICE) == []


# ------------------------------------------------------------------ #
# facteurctl queue


def test_queue_list_show_delete(mta):
    """`queue list` on an empty queue prints nothing and exits 0; `queue
    show ID` prints a waiting message with A's Received field on top;
    `queue delete ID` removes it with no report to the sender."""
    a = mta("a", route=[("example.net", free_port())])
    r = a.ctl("queue", "list")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")

    msg = make_message("to delete")
    assert a.submit(ALICE, [BOB], msg) == {}
    q = a.wait_queue(lambda q: q and q[0]["attempts"] >= 1,
                     what="a first attempt")
    qid = q[0]["id"]

    r = a.ctl("queue", "show", qid)
    assert r.returncode == 0, r.stderr
    shown = r.stdout.replace(b"\r\n", b"\n")
    assert shown.startswith(b"Received: from "), shown[:200]
    assert re.match(r"Received: from \S+ \(\[127\.0\.0\.1\]\) by %s "
                    r"\(facteur\) with ESMTPA id %s"
                    % (A_HOST, qid), header_block(shown)), shown[:300]
    assert shown.endswith(msg.replace(b"\r\n", b"\n"))

    r = a.ctl("queue", "delete", qid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"1 message\n"
    assert a.queue() == []
    r = a.ctl("queue", "show", qid)
    assert r.returncode == 1
    assert b"no message" in r.stderr
    # past the retry delay, nothing was tried or reported
    attempts = len(re.findall(r"id=%s event=deferred" % qid, a.log()))
    time.sleep(2.5)
    assert len(re.findall(r"id=%s event=deferred" % qid, a.log())) == \
        attempts
    assert "event=bounce" not in a.log()
    assert a.messages(ALICE) == []


def test_queue_flush_and_delete_all(mta):
    """`queue flush ID` for an unknown message exits 1 and says so;
    `queue delete all` removes every waiting message and counts them."""
    a = mta("a", route=[("example.net", free_port())])
    r = a.ctl("queue", "flush", "NoSuchId1")
    assert r.returncode == 1
    assert b"no message NoSuchId1" in r.stderr
    for i in range(3):
        assert a.submit(ALICE, [BOB], make_message("all %d" % i)) == {}
    a.wait_queue(lambda q: len(q) == 3, what="three waiting messages")
    r = a.ctl("queue", "delete", "all")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"3 messages\n"
    assert a.queue() == []


# ------------------------------------------------------------------ #
# Postfix's smtp-sink


def test_smtp_sink_takes_50_messages(mta, test_dir):
    """50 messages relayed through A to Postfix's smtp-sink as the
    remote MX are all accepted: smtp-sink dumps one file per message,
    and each Message-Id is there once."""
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.access(sink, os.X_OK):
        pytest.skip("smtp-sink is not installed (postfix)")
    dump = os.path.join(test_dir, "sink")
    os.mkdir(dump, 0o777)
    os.chmod(dump, 0o777)
    port = free_port()
    cmd = [sink, "-d", os.path.join(dump, "%M%S.")]
    if IS_ROOT:
        cmd += ["-u", "nobody"]
    out = open(os.path.join(test_dir, "smtp-sink.out"), "wb")
    proc = subprocess.Popen(cmd + ["127.0.0.1:%d" % port, "100"],
                            stdout=out, stderr=out)
    try:
        wait_for(lambda: not port_free(port), 10, what="smtp-sink")
        a = mta("a", route=[("example.com", port)])
        ids = ["sink-%02d@example.org" % i for i in range(50)]
        with smtplib.SMTP("127.0.0.1", a.sub_port, timeout=15) as s:
            s.login(ALICE, PASSWORD)
            for i, msgid in enumerate(ids):
                s.sendmail(ALICE, ["dan@example.com"], make_message(
                    "sink %d" % i, to="dan@example.com", msgid=msgid))
        wait_for(lambda: len(os.listdir(dump)) >= 50, 30,
                 what="50 messages at smtp-sink")
        a.wait_queue_empty()
        got = []
        for name in os.listdir(dump):
            with open(os.path.join(dump, name), "rb") as f:
                data = f.read()
            assert b"X-Rcpt-Args: <dan@example.com>" in data
            got += re.findall(rb"Message-ID: <([^>]+)>", data)
        assert sorted(g.decode() for g in got) == ids
        assert len(a.wait_log(r"event=sent rcpt=<dan@example.com>",
                              count=50)) == 50
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
