"""The master and its workers: privileges, restarts, reloads with
SIGHUP, graceful shutdown with SIGTERM, the pid file, IPv6 listeners."""

import os
import pwd
import signal
import socket
import threading
import time

import pytest

import harness
from harness import (Client, ConnectionClosed, build_config, free_port,
                     pid_alive, proc_status, run_facteurd, wait_for)


class Traffic(threading.Thread):
    """Opens short sessions in a loop (connect, greeting, ECHO, QUIT)
    until stopped, and records every failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.done = 0
        self.greetings = set()
        self.errors = []

    def run(self):
        while not self.stopping.is_set():
            try:
                with Client(self.port, timeout=10) as c:
                    self.greetings.add(c.greeting().split()[1])
                    assert c.cmd("ECHO t%d" % self.done) == "OK t%d" % \
                        self.done
                    assert c.cmd("QUIT") == "OK bye"
                self.done += 1
            except (OSError, AssertionError, ConnectionClosed) as e:
                self.errors.append(repr(e))
            time.sleep(0.005)

    def finish(self):
        self.stopping.set()
        self.join(30)
        return self.errors


def reconfigure(srv, **kw):
    """Rewrites the server's config with build_config() arguments."""
    srv.write_config(build_config(srv.dir, srv.port, **kw))


@pytest.mark.skipif(not harness.IS_ROOT, reason="needs root")
def test_workers_run_as_user(facteurd):
    """Started as root, the master stays root and every worker runs as
    the `user` (real, effective, saved and file-system ids), without
    root's supplementary groups."""
    srv = facteurd(settings={"workers": "2"})
    user = pwd.getpwnam(harness.SERVICE_USER)
    workers = srv.wait_workers(2)
    assert proc_status(srv.pid, "Uid").split() == ["0"] * 4
    for w in workers:
        assert proc_status(w, "Uid").split() == [str(user.pw_uid)] * 4
        assert proc_status(w, "Gid").split() == [str(user.pw_gid)] * 4
        assert "0" not in proc_status(w, "Groups").split()
    with srv.client() as c:
        c.greeting()


def test_pid_file(server):
    """The pid file holds the master's pid."""
    with open(server.pid_path) as f:
        assert int(f.read().strip()) == server.pid


def test_killed_worker_is_replaced(facteurd):
    """kill -9 of one worker: clients are served throughout by the other
    one, a new worker with a new pid takes the dead one's place, and the
    master logs the death."""
    srv = facteurd(settings={"workers": "2"})
    before = srv.wait_workers(2)
    traffic = Traffic(srv.port)
    os.kill(before[0], signal.SIGKILL)
    traffic.start()
    after = wait_for(lambda: (lambda w: w if len(w) == 2 and
                              before[0] not in w else None)(srv.workers()),
                     10, what="a new worker")
    time.sleep(0.5)
    assert traffic.finish() == []
    assert traffic.done > 10
    assert before[1] in after
    new = [p for p in after if p not in before]
    assert len(new) == 1
    srv.wait_log(r"master: worker %d killed by signal 9" % before[0])
    with srv.client() as c:
        c.greeting()


def test_killed_worker_loop_is_slowed(facteurd):
    """A worker that keeps dying young is restarted after a growing
    delay, not in a tight loop, and the server keeps serving."""
    srv = facteurd(settings={"workers": "1"})
    for _ in range(3):
        w = srv.wait_workers(1)[0]
        os.kill(w, signal.SIGKILL)
        wait_for(lambda: (lambda ws: ws and ws[0] != w)(srv.workers()), 10,
                 what="a new worker")
    srv.wait_log(r"master: restarting worker in \d+ms", count=3)
    delays = [int(l.split(" in ")[1].split("ms")[0]) for l in srv.log_lines()
              if "restarting worker in" in l]
    assert delays == sorted(delays) and delays[-1] > delays[0], delays
    with srv.client() as c:
        c.greeting()


def test_reload_keeps_sessions(facteurd):
    """SIGHUP during traffic: a session opened before the reload works
    after it, new connections are accepted throughout (none refused),
    new sessions see the new greeting while the old session keeps its
    worker, and old workers exit once their sessions close."""
    srv = facteurd(settings={"workers": "2"}, echo='greeting "first";')
    old = srv.wait_workers(2)
    a = srv.client()
    try:
        assert a.readline().startswith("OK first ")
        assert a.cmd("ECHO before") == "OK before"
        traffic = Traffic(srv.port)
        traffic.start()
        time.sleep(0.2)
        reconfigure(srv, settings={"workers": "2"}, echo='greeting "second";')
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"master: reloaded \(generation 2, 2 workers\)")
        time.sleep(0.3)
        assert traffic.finish() == []
        assert "second" in traffic.greetings

        assert a.cmd("ECHO after") == "OK after"
        with srv.client() as b:
            assert b.readline().startswith("OK second ")
        # the old worker serving a drains; the other one has left
        now = wait_for(lambda: (lambda w: w if len(w) == 3 else None)(
            srv.workers()), 5, what="one old and two new workers")
        draining = [p for p in now if p in old]
        assert len(draining) == 1, (old, now)
        assert a.cmd("ECHO still") == "OK still"
        assert a.cmd("QUIT") == "OK bye"
    finally:
        a.close()
    wait_for(lambda: not pid_alive(draining[0]), 10,
             what="the old worker to exit")
    assert len(srv.wait_workers(2)) == 2


def test_reload_drain_timeout(facteurd):
    """After a reload, a session left on an old worker is closed once
    reload_drain_timeout passes, and the old worker exits."""
    srv = facteurd(settings={"reload_drain_timeout": "1s"})
    old = srv.wait_workers(1)[0]
    with srv.client() as a:
        a.greeting()
        srv.signal(signal.SIGHUP)
        srv.wait_log(r"master: reloaded \(generation 2, ")
        assert a.cmd("ECHO still") == "OK still"
        t0 = time.monotonic()
        a.expect_closed(timeout=5)
        assert time.monotonic() - t0 < 3
    wait_for(lambda: not pid_alive(old), 5, what="the old worker to exit")


def test_workers_auto(facteurd):
    """workers auto (the default) starts one worker per CPU core."""
    srv = facteurd(settings={"workers": None})
    n = min(max(os.sysconf("SC_NPROCESSORS_ONLN"), 1), 64)
    srv.wait_workers(n)
    assert srv.log().count("started, %d worker" % n) == 1


def test_reload_with_broken_config(facteurd):
    """SIGHUP with a broken config logs the error with file:line, keeps
    the running config and workers; a later good config is taken."""
    srv = facteurd(echo='greeting "first";')
    old = srv.wait_workers(1)
    good = open(srv.conf_path).read()
    srv.write_config(good + "frobnicate yes;\n")
    line = len(good.splitlines()) + 1
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"reload failed: keeping the running configuration")
    assert "%s:%d: unknown directive frobnicate" % (srv.conf_path, line) \
        in srv.log()
    with srv.client() as c:
        assert c.readline().startswith("OK first ")
    assert srv.workers() == old

    # a config that parses but whose module init fails is refused too
    reconfigure(srv, echo='greeting "second";',
                passwd_block="    path no/such/passwd;")
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"reload failed: keeping the running configuration",
                 count=2)
    with srv.client() as c:
        assert c.readline().startswith("OK first ")
    assert srv.workers() == old

    reconfigure(srv, echo='greeting "third";')
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"master: reloaded \(generation 2, ")
    with srv.client() as c:
        assert c.readline().startswith("OK third ")


def test_reload_moves_listener(facteurd):
    """A reload that moves the listener to another port serves the new
    port and closes the old one."""
    srv = facteurd()
    new_port = free_port()
    srv.write_config(build_config(srv.dir, new_port))
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"master: reloaded \(generation 2, ")
    with Client(new_port) as c:
        c.greeting()
    wait_for(lambda: len(srv.workers()) == 1, 10, what="old worker gone")

    def refused():
        try:
            socket.create_connection(("127.0.0.1", srv.port), 1).close()
            return False
        except ConnectionRefusedError:
            return True
    wait_for(refused, 5, what="the old port to be closed")


def test_sigterm_graceful(facteurd):
    """SIGTERM: an idle session is told "BYE server shutting down" at
    once; a session inside SLEEP 1000 first gets "OK slept", then the
    BYE; the master exits 0 and removes its pid file."""
    srv = facteurd(settings={"workers": "2"})
    workers = srv.wait_workers(2)
    idle = srv.client()
    busy = srv.client()
    try:
        idle.greeting()
        busy.greeting()
        busy.send("SLEEP 1000\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert idle.readline() == "BYE server shutting down"
        assert time.monotonic() - t0 < 0.6
        assert idle.expect_closed() == []
        assert busy.readline() == "OK slept"
        assert time.monotonic() - t0 >= 0.6
        assert busy.readline() == "BYE server shutting down"
        assert busy.expect_closed() == []
    finally:
        idle.close()
        busy.close()
    assert srv.proc.wait(10) == 0
    assert not os.path.exists(srv.pid_path)
    for w in workers:
        assert not pid_alive(w)
    assert "master: stopped" in srv.log()


def test_sigterm_refuses_new_connections(facteurd):
    """Once SIGTERM arrived, the listening socket is closed: while a
    session finishes its SLEEP, new connections are not served."""
    srv = facteurd()
    with srv.client() as busy:
        busy.greeting()
        busy.send("SLEEP 1500\r\n")
        time.sleep(0.2)
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            with Client(srv.port, timeout=3) as c:
                line = c.expect_closed(timeout=3)
                assert not any(l.startswith("OK ") for l in line), line
        except (ConnectionRefusedError, ConnectionResetError):
            pass
        assert busy.readline() == "OK slept"
    assert srv.proc.wait(10) == 0


def test_sigterm_timeout_forces_close(facteurd):
    """A session still busy when shutdown_timeout passes is closed and
    the master still exits 0."""
    srv = facteurd(settings={"shutdown_timeout": "1s"})
    with srv.client() as busy:
        busy.greeting()
        busy.send("SLEEP 20000\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.proc.wait(10) == 0
        assert time.monotonic() - t0 < 5
        busy.expect_closed()
    assert "session still open after the timeout" in srv.log()


def test_master_death_stops_workers(facteurd):
    """If the master is killed, its workers notice and stop on their own
    (idle sessions are told goodbye)."""
    srv = facteurd(settings={"workers": "2"})
    workers = srv.wait_workers(2)
    with srv.client() as c:
        c.greeting()
        srv.proc.kill()
        srv.proc.wait()
        assert c.readline() == "BYE server shutting down"
    for w in workers:
        wait_for(lambda: not pid_alive(w), 10, what="worker %d to stop" % w)


def test_second_instance_refused(facteurd, test_dir):
    """A second facteurd with the same pid_file refuses to start, names
    the running pid, and leaves the first one and its pid file alone."""
    srv = facteurd()
    text = build_config(test_dir, free_port())
    path = os.path.join(test_dir, "second.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run_facteurd(["-f", "-c", path], timeout=30)
    assert r.returncode != 0
    assert "already running (pid %d in %s)" % (srv.pid, srv.pid_path) \
        in r.stderr
    with open(srv.pid_path) as f:
        assert int(f.read()) == srv.pid
    with srv.client() as c:
        c.greeting()


def test_port_in_use(test_dir):
    """A listen address another program holds stops start-up with the
    config line, the address and the reason, and exit status 1."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        text = build_config(test_dir, port, settings={"auth": "none"},
                            load=["echo"])
        path = os.path.join(test_dir, "facteurd.conf")
        with open(path, "w") as f:
            f.write(text)
        r = run_facteurd(["-f", "-c", path], timeout=30)
    finally:
        busy.close()
    line = [i + 1 for i, l in enumerate(text.splitlines())
            if "listen 127.0.0.1:%d" % port in l][0]
    assert r.returncode == 1
    assert "%s:%d: echo: cannot listen on 127.0.0.1:%d: Address already " \
        "in use" % (path, line, port) in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(test_dir, "facteurd.pid"))


def test_stale_pid_file_is_replaced(facteurd, test_dir):
    """A pid file left by a dead facteurd does not stop a start."""
    with open(os.path.join(test_dir, "facteurd.pid"), "w") as f:
        f.write("999999\n")
    srv = facteurd()
    with open(srv.pid_path) as f:
        assert int(f.read()) == srv.pid


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_listener(facteurd):
    """A listener on [::1] serves IPv6 clients and logs their address;
    the IPv4 listener beside it still works."""
    port, port6 = free_port(), free_port("::1")
    srv = facteurd(port=port, listen=["127.0.0.1:%d" % port,
                                      "[::1]:%d" % port6])
    with Client(port6, host="::1") as c:
        c.greeting()
        assert c.cmd("ECHO six") == "OK six"
    srv.wait_log(r"event=connect client=::1 ")
    with srv.client() as c:
        c.greeting()
