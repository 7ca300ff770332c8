"""Connection limits under a flood: max_connections_per_ip and
max_connections hold across all workers, refused clients get the
module's busy reply and are closed, and other clients are served."""

import collections
import errno
import re
import selectors
import socket
import subprocess
import time

from harness import Client, wait_for

BUSY = "BYE too many connections"
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def tcp_counters():
    """The kernel's SYN-cookie and listen-overflow counters."""
    with open("/proc/net/netstat") as f:
        rows = [l.split() for l in f if l.startswith("TcpExt:")]
    counters = dict(zip(rows[0][1:], rows[1][1:]))
    return {k: counters.get(k) for k in ("SyncookiesSent", "ListenOverflows",
                                         "ListenDrops")}


class Flood:
    """Opens many connections, a bounded number in flight, and sorts
    them by their first line: greeted (kept open) or refused (must then
    be closed by the server).

    Few connections are in flight at once: past the listen queue, the
    kernel answers with SYN cookies, and a cookie connection whose last
    ACK is dropped looks established to the client while the server
    never hears of it, so a protocol where the server speaks first
    would wait forever."""

    def __init__(self, port, source="127.0.0.1", in_flight=64):
        self.port = port
        self.source = source
        self.in_flight = in_flight
        self.greeted = []
        self.outcomes = collections.Counter()

    def diagnose(self, pending):
        """What the kernel says about the connections still waiting."""
        ports = sorted(s.getsockname()[1] for s in pending)
        r = subprocess.run(["ss", "-tanoi", "( sport = :%d )" % self.port],
                           capture_output=True, text=True)
        return "client ports %s\nkernel: %r\nss:\n%s" % (
            ports[:20], tcp_counters(), r.stdout[-3000:])

    def run(self, n, timeout=60):
        sel = selectors.DefaultSelector()
        pending = {}            # socket -> bytes read so far
        started = 0
        deadline = time.monotonic() + timeout
        while started < n or pending:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "flood not done after %ds: %d started, %d pending, %r\n%s"
                    % (timeout, started, len(pending), self.outcomes,
                       self.diagnose(pending)))
            while started < n and len(pending) < self.in_flight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                # the port is picked by connect(), which avoids 4-tuples
                # still in TIME_WAIT from earlier refused connections
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((self.source, 0))
                e = s.connect_ex(("127.0.0.1", self.port))
                assert e in (0, errno.EINPROGRESS), errno.errorcode[e]
                sel.register(s, selectors.EVENT_READ)
                pending[s] = b""
                started += 1
            for key, _ in sel.select(timeout=1.0):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (ConnectionResetError, ConnectionRefusedError):
                    data = None
                except BlockingIOError:
                    continue
                if data:
                    pending[s] += data
                    if pending[s].startswith(b"OK ") and \
                            b"\n" in pending[s]:
                        sel.unregister(s)
                        del pending[s]
                        s.setblocking(True)
                        self.greeted.append(s)
                        self.outcomes["greeted"] += 1
                    continue
                # end of file (or reset): the server is done with it
                sel.unregister(s)
                got = pending.pop(s)
                s.close()
                if data is None:
                    self.outcomes["reset: %r" % got[:60]] += 1
                elif got == (BUSY + "\r\n").encode():
                    self.outcomes["refused"] += 1
                else:
                    self.outcomes["closed: %r" % got[:60]] += 1
        sel.close()
        return self.outcomes

    def close(self, k=None):
        k = len(self.greeted) if k is None else k
        for s in self.greeted[:k]:
            s.close()
        del self.greeted[:k]


def pids_in_log(lines, pattern):
    rx = re.compile(r"facteurd\[(\d+)\]: .*(?:%s)" % pattern)
    return {int(m.group(1)) for m in map(rx.search, lines) if m}


def served_normally(port, source):
    with Client(port, source=source) as c:
        c.greeting()
        assert c.cmd("ECHO from %s" % source) == "OK from %s" % source


def refused(port, source):
    with Client(port, source=source) as c:
        return c.expect_closed() == [BUSY]


def test_max_connections_per_ip_flood(many_files, facteurd):
    """5,000 connections from 127.0.0.1 against max_connections_per_ip
    100 with two workers: about 100 are served (two workers racing may
    each let one more in, never more), every other one gets the busy
    reply and is closed, a client from 127.0.0.2 is served meanwhile,
    and a slot freed by a closing client is given to the next one."""
    srv = facteurd(settings={"workers": "2"},
                   echo="max_connections_per_ip 100;")
    srv.wait_workers(2)
    flood = Flood(srv.port)
    try:
        outcomes = flood.run(5000)
        greeted = outcomes["greeted"]
        assert 100 <= greeted <= 102, outcomes
        assert outcomes["refused"] == 5000 - greeted, outcomes

        # the count is per IP: another address is served, and this one
        # is still refused while its 100 connections stay open
        served_normally(srv.port, "127.0.0.2")
        assert refused(srv.port, "127.0.0.1")

        # the greeted ones really are live sessions
        for s in flood.greeted[:5]:
            s.sendall(b"ECHO alive\r\n")
            assert s.recv(100).endswith(b"OK alive\r\n")

        # Both workers refused. With at most 102 served in all, at most
        # one of them can hold 100 connections itself: the other refused
        # on the count it read from its peer's table.
        refusers = pids_in_log(srv.log_lines(), r"event=refused "
                               r"client=127\.0\.0\.1 "
                               r"reason=max_connections_per_ip")
        assert refusers == set(srv.workers()), (refusers, srv.workers())

        # closing some frees their slots
        flood.close(greeted - 95)
        wait_for(lambda: srv.log().count("event=disconnect") >=
                 greeted - 95 + 2, 10, what="disconnects")
        for _ in range(5):
            served_normally(srv.port, "127.0.0.1")
    finally:
        flood.close()


def test_max_connections_total(many_files, facteurd):
    """max_connections caps the whole server (both workers, every IP):
    past it, any client gets the busy reply; once connections close,
    new ones are served again."""
    srv = facteurd(settings={"workers": "2", "max_connections": "50"},
                   echo="max_connections_per_ip 1000;")
    srv.wait_workers(2)
    a = Flood(srv.port, source="127.0.0.1")
    b = Flood(srv.port, source="127.0.0.3")
    try:
        a.run(150)
        b.run(150)
        greeted = a.outcomes["greeted"] + b.outcomes["greeted"]
        assert 50 <= greeted <= 52, (a.outcomes, b.outcomes)
        assert a.outcomes["refused"] + b.outcomes["refused"] == \
            300 - greeted, (a.outcomes, b.outcomes)
        assert refused(srv.port, "127.0.0.2")
        assert "reason=max_connections" in srv.log()

        a.close()
        b.close()
        wait_for(lambda: srv.log().count("event=disconnect") >= greeted + 1,
                 10, what="disconnects")
        served_normally(srv.port, "127.0.0.2")
    finally:
        a.close()
        b.close()
