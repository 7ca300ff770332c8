"""Helpers for the integration suite: paths, configs, a running facteurd,
and line-oriented clients.

Everything here talks to facteurd the way a real client or admin does:
TCP sockets, files, signals and /proc. Nothing reaches into its memory.
"""

import atexit
import base64
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

SRCDIR = os.environ.get("FACTEUR_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("FACTEUR_BUILDDIR") or SRCDIR
MODULE_PATH = os.environ.get("FACTEUR_MODULE_PATH") or "%s:%s" % (
    os.path.join(BUILDDIR, "modules"),
    os.path.join(BUILDDIR, "tests", "modules"))
FACTEURD = os.path.join(BUILDDIR, "facteurd")
FACTEURCTL = os.path.join(BUILDDIR, "facteurctl")

IS_ROOT = os.geteuid() == 0
SERVICE_USER = "facteur"

# Lines in facteurd's stderr that mean a memory error, undefined
# behaviour, a leak or one of our own assertions.
BAD_LOG_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "panic:")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def fnv1a64(data):
    """The 64-bit FNV-1a hash the echo module reports for DATA and
    LITERAL, as 16 hex digits."""
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (bind to 0, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def make_test_dir(prefix="facteur-test-"):
    """A temporary folder the unprivileged worker user can read."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def hash_password(password):
    """A yescrypt hash from `facteurctl pw -p`."""
    out = subprocess.run([FACTEURCTL, "pw", "-p", password],
                         check=True, capture_output=True, text=True)
    h = out.stdout.strip()
    assert h.startswith("$"), "facteurctl pw printed %r" % out.stdout
    return h


def facteurd_env(extra=None, module_path=True):
    env = dict(os.environ)
    if module_path:
        env["FACTEUR_MODULE_PATH"] = MODULE_PATH
    else:
        env.pop("FACTEUR_MODULE_PATH", None)
    if extra:
        env.update(extra)
    return env


# Sanitizer reports and panics seen in the output of run_facteurd();
# conftest.py fails the test that caused them.
short_run_reports = []


def run_facteurd(args, env=None, timeout=60, binary=None):
    """Runs facteurd to completion (-t, --directives, a start-up that
    must fail) and returns the CompletedProcess with text output."""
    r = subprocess.run([binary or FACTEURD] + list(args),
                       capture_output=True, text=True, timeout=timeout,
                       env=env if env is not None else facteurd_env())
    bad = [l for l in (r.stdout + r.stderr).splitlines()
           if any(m in l for m in BAD_LOG_MARKERS)]
    if bad:
        short_run_reports.append("facteurd %s:\n%s\n%s" % (
            " ".join(args), "\n".join(bad[:20]), r.stderr[-6000:]))
    return r


def error_lines(text):
    """The log lines at level error."""
    return [l for l in text.splitlines() if ": error: " in l]


def proc_children(pid):
    """Pids whose parent is pid, from /proc/*/stat."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces;
        # zombies (exited, not yet reaped) do not count
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return sorted(kids)


def proc_status(pid, key):
    """One field of /proc/<pid>/status, e.g. VmRSS or Uid."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(key)


def open_fds(pid):
    """How many file descriptors a process has open."""
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    return int(proc_status(pid, "VmRSS").split()[0])


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate until it returns something true; returns it, or
    raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


class ConnectionClosed(Exception):
    pass


class Client:
    """A line-oriented client: sends bytes, reads CRLF-terminated lines.

    Lines are returned as str without their line end (bytes decoded as
    latin-1, so any byte survives). The buffer is explicit so that a test
    can check nothing was read ahead (STARTTLS)."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0,
                 sock=None):
        if sock is None:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            if source is not None:
                sock.bind((source, 0))
            sock.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        self.sock = sock
        self.timeout = timeout
        self.buf = b""
        self.host = host
        self.port = port

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            raise ConnectionClosed("connection closed; unread: %r"
                                   % self.buf[:200])
        self.buf += chunk

    def readline(self, timeout=None):
        """The next line, without CRLF. Raises ConnectionClosed at end
        of file and socket.timeout when nothing comes in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete line; have %r"
                                     % self.buf[:200])
            self._fill(left)
        line, self.buf = self.buf.split(b"\n", 1)
        if line.endswith(b"\r"):
            line = line[:-1]
        return line.decode("latin-1")

    def cmd(self, line, timeout=None):
        """Sends one command line and returns the first answer line."""
        self.send(line + "\r\n")
        return self.readline(timeout)

    def greeting(self, timeout=None):
        line = self.readline(timeout)
        assert line.startswith("OK "), "greeting was %r" % line
        return line

    def expect_closed(self, timeout=5.0):
        """Asserts the server closes the connection within timeout and
        sends nothing more; returns the lines read before the close."""
        lines = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open after %.1fs; "
                                     "lines: %r, buffer %r"
                                     % (timeout, lines, self.buf[:200]))
            try:
                lines.append(self.readline(left))
            except ConnectionClosed:
                assert self.buf == b"", "partial line %r" % self.buf
                return lines
            except socket.timeout:
                continue

    def starttls(self, context=None, send_command=True):
        """STARTTLS, then the TLS handshake on the same socket."""
        if send_command:
            assert self.cmd("STARTTLS") == "OK begin TLS"
        assert self.buf == b"", "data after STARTTLS's answer: %r" % self.buf
        self.sock = (context or client_tls_context()).wrap_socket(
            self.sock, server_hostname="localhost")
        self.sock.settimeout(self.timeout)


def client_tls_context(min_version=None, max_version=None):
    """A client context that does not check the test certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def tls_client(port, host="127.0.0.1", context=None, timeout=10.0):
    """A Client on an implicit-TLS listener."""
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        s = (context or client_tls_context()).wrap_socket(
            raw, server_hostname="localhost")
    except Exception:
        raw.close()
        raise
    return Client(port, host=host, sock=s, timeout=timeout)


def make_certificate(directory):
    """A self-signed EC certificate and key for localhost, made with the
    openssl command line. Returns (certificate path, key path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return cert, key


def default_settings(directory):
    """Top-level settings every test config starts from; tests override
    them by name (a directive given twice is an error in facteurd)."""
    settings = {}
    if IS_ROOT:
        settings["user"] = SERVICE_USER
    settings.update({
        "pid_file": os.path.join(directory, "facteurd.pid"),
        "workers": "1",
        "log": "stderr",
        "log_level": "info",
        "auth_failure_delay": "300ms",
        "shutdown_timeout": "10s",
    })
    return settings


def build_config(directory, port, settings=None, echo="", load=None,
                 listen=None, passwd_block=None, extra=""):
    """A config with the echo module on 127.0.0.1:port and users from
    <directory>/passwd. settings override default_settings() (None
    removes one); echo is text for the echo block; extra is appended."""
    top = default_settings(directory)
    for k, v in (settings or {}).items():
        if v is None:
            top.pop(k, None)
        else:
            top[k] = v
    load = load or ["passwd-file", "echo"]
    out = ["%s %s;" % (k, v) for k, v in top.items()]
    out.append("load %s;" % " ".join(load))
    if "passwd-file" in load:
        out.append("passwd-file {")
        out.append(passwd_block or "    path passwd;")
        out.append("}")
    elif "auth" not in top:
        out.append("auth none;")
    if "echo" in load:
        out.append("echo {")
        for l in listen or ["127.0.0.1:%d" % port]:
            out.append("    listen %s;" % l)
        for l in echo.strip("\n").splitlines():
            out.append("    " + l.strip())
        out.append("}")
    out.append(extra)
    return "\n".join(out) + "\n"


class Facteurd:
    """One facteurd master started in the foreground for a test.

    The config is written to <dir>/facteurd.conf and stderr goes to
    <dir>/facteurd.log. stop() sends SIGTERM and waits; check_log()
    looks for sanitizer reports and panics."""

    def __init__(self, directory, conf_text, port=None, env=None,
                 module_path=True, binary=FACTEURD):
        self.dir = directory
        self.port = port
        self.conf_path = os.path.join(directory, "facteurd.conf")
        self.log_path = os.path.join(directory, "facteurd.log")
        self.pid_path = os.path.join(directory, "facteurd.pid")
        self.binary = binary
        self.env = facteurd_env(env, module_path=module_path)
        self.proc = None
        self.returncode = None
        self.write_config(conf_text)

    def write_config(self, text):
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.conf_path)

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "-f", "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            env=self.env)
        if wait:
            self.wait_started()
        return self

    def wait_started(self, timeout=START_TIMEOUT):
        """Waits for the master's "started" line (all workers ready) and
        for the listener to accept."""
        deadline = time.monotonic() + timeout
        while "master: facteurd" not in self.log() or \
                " started, " not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError("facteurd exited with %s at start-up:"
                                     "\n%s" % (self.proc.returncode,
                                               self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("facteurd did not start in %.0fs:\n%s"
                                     % (timeout, self.log()))
            time.sleep(0.02)
        if self.port is not None:
            wait_for(lambda: self._accepts(), deadline - time.monotonic(),
                     what="port %d to accept" % self.port)

    def _accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log().splitlines()

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Waits until pattern (a regex) matches count lines of the log;
        returns the matching lines."""
        rx = re.compile(pattern)

        def found():
            hits = [l for l in self.log_lines() if rx.search(l)]
            return hits if len(hits) >= count else None
        return wait_for(found, timeout, what="log line /%s/" % pattern)

    def workers(self):
        return proc_children(self.proc.pid)

    def wait_workers(self, n, timeout=10.0):
        return wait_for(lambda: (lambda w: w if len(w) == n else None)(
            self.workers()), timeout, what="%d workers" % n)

    def client(self, **kw):
        kw.setdefault("timeout", 10.0)
        return Client(self.port, **kw)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then waits for the master to exit. Returns its exit
        status; kills it and raises when it does not stop in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kids = self.workers()
                self.proc.kill()
                for k in kids:
                    try:
                        os.kill(k, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait()
                raise AssertionError("facteurd did not stop within %.0fs "
                                     "of SIGTERM" % timeout)
        self.returncode = self.proc.returncode
        self.logf.close()
        return self.returncode

    def bad_log_lines(self):
        return [l for l in self.log_lines()
                if any(m in l for m in BAD_LOG_MARKERS)]


def cleanup_dir(directory):
    shutil.rmtree(directory, ignore_errors=True)


# ------------------------------------------------------------------
# Storage for the protocol servers: maildir (the default) or, with
# FACTEUR_TEST_STORAGE=pgsql, the pgsql module on a private PostgreSQL
# (scripts/tools/pg-test-cluster.sh). run.sh starts one cluster for the
# run and passes it on in FACTEUR_PG_CLUSTER, PGHOST and PGPORT; without
# them each pytest process starts its own at its first pgsql server and
# stops it at exit. Every server gets a database of its own.

STORAGE = os.environ.get("FACTEUR_TEST_STORAGE") or "maildir"
if STORAGE not in ("maildir", "pgsql"):
    raise RuntimeError("FACTEUR_TEST_STORAGE=%s: say maildir or pgsql"
                       % STORAGE)
PG_CLUSTER_SCRIPT = os.path.join(SRCDIR, "scripts", "tools",
                                 "pg-test-cluster.sh")


def on_pgsql():
    return STORAGE == "pgsql"


class PgCluster:
    """A private PostgreSQL on a Unix socket: the one run.sh started, or
    one of this process's own (own=True: stopped by stop())."""

    def __init__(self, directory=None):
        self.own = directory is not None
        if self.own:
            r = subprocess.run(["sh", PG_CLUSTER_SCRIPT, "start",
                                directory], capture_output=True,
                               text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("cannot start PostgreSQL: %s"
                                   % r.stderr.strip())
            env = dict(l.split("=", 1) for l in r.stdout.splitlines()
                       if "=" in l and not l.startswith("export"))
        else:
            env = os.environ
        self.dir = env["FACTEUR_PG_CLUSTER"]
        self.host = env["PGHOST"]
        self.port = env["PGPORT"]
        self._names = iter(range(1, 1 << 30))

    def psql(self, db, sql):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", self.host,
                            "-p", self.port, "-U", "postgres", "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, "psql: %s" % r.stderr
        return r.stdout

    def createdb(self):
        """A new empty database owned by the facteur role: its name."""
        name = "t%d_%d" % (os.getpid(), next(self._names))
        self.psql("postgres", "CREATE DATABASE %s OWNER facteur" % name)
        return name

    def dropdb(self, name):
        self.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                  % name)

    def conninfo(self, db):
        return "host=%s port=%s dbname=%s user=facteur" % (
            self.host, self.port, db)

    def stop(self):
        if self.own:
            subprocess.run(["sh", PG_CLUSTER_SCRIPT, "stop", self.dir],
                           capture_output=True, timeout=120)
            shutil.rmtree(os.path.dirname(self.dir), ignore_errors=True)


_pg_cluster = None


def pg_cluster():
    """This run's PostgreSQL, started at the first call when run.sh did
    not start one."""
    global _pg_cluster
    if _pg_cluster is None:
        if os.environ.get("FACTEUR_PG_CLUSTER") and \
                os.environ.get("PGHOST") and os.environ.get("PGPORT"):
            _pg_cluster = PgCluster()
        else:
            base = make_test_dir("facteur-pg-")
            _pg_cluster = PgCluster(os.path.join(base, "pg"))
            atexit.register(_pg_cluster.stop)
    return _pg_cluster


def storage_config(directory):
    """The storage part of a protocol server's config in directory:
    (modules to load, config blocks, top-level settings). maildir keeps
    mail under <directory>/mail; pgsql in a new database, whose name is
    written to <directory>/pgsql-database (drop_storage() removes it)."""
    if not on_pgsql():
        return (["maildir"],
                "maildir {\n    location %s/mail/%%d/%%n;\n}\n" % directory,
                {})
    cluster = pg_cluster()
    db = cluster.createdb()
    with open(os.path.join(directory, "pgsql-database"), "w") as f:
        f.write(db + "\n")
    return (["pgsql"],
            "pgsql {\n    connect \"%s\";\n    schema auto;\n"
            "    reconnect_max 500ms;\n}\n" % cluster.conninfo(db),
            {"storage": "pgsql"})


def pgsql_add_users(directory, users):
    """Puts users in the database of the server in directory (its
    schema made, so after its start), for configs with auth="pgsql":
    users is [(name, password hash, quota bytes, quota messages)]."""
    with open(os.path.join(directory, "pgsql-database")) as f:
        db = f.read().strip()

    def quote(v):
        return "'%s'" % str(v).replace("'", "''")
    domains = sorted(set(u[0].split("@", 1)[1] for u in users))
    sql = ["INSERT INTO domains (name) VALUES %s;"
           % ", ".join("(%s)" % quote(d) for d in domains),
           "INSERT INTO users (name, domain, password, quota_bytes, "
           "quota_messages) VALUES %s;" % ", ".join(
               "(%s, %s, %s, %d, %d)" % (quote(n), quote(n.split("@")[1]),
                                         quote(h), qb, qm)
               for n, h, qb, qm in users)]
    pg_cluster().psql(db, "".join(sql))


def drop_storage(directory):
    """Drops the database storage_config() made for directory, if any
    (the servers using it must have stopped)."""
    path = os.path.join(directory, "pgsql-database")
    if _pg_cluster is None or not os.path.exists(path):
        return
    with open(path) as f:
        _pg_cluster.dropdb(f.read().strip())


def protocol_config(directory, module, port, tls_port, block="",
                    settings=None, tls_files=None, auth="passwd-file"):
    """A config serving one protocol module (pop3, imap) with the test
    storage (storage_config()) and users from <directory>/passwd: a
    plain listener on port, an implicit-TLS one on tls_port, the
    certificate of tls_files, then block's lines inside the module's
    block. settings go to the top level, with state_dir in directory.
    auth="pgsql" takes the users from the database instead (on pgsql
    storage only: the caller adds them with facteurctl)."""
    load, storage, top = storage_config(directory)
    top = dict(top, state_dir=os.path.join(directory, "state"))
    top.update(settings or {})
    lines = ["listen 127.0.0.1:%d;" % port,
             "listen 127.0.0.1:%d tls;" % tls_port,
             "tls_certificate %s;" % tls_files[0],
             "tls_key %s;" % tls_files[1]]
    lines += [l.strip() for l in block.strip("\n").splitlines() if l.strip()]
    extra = storage + "%s {\n%s\n}\n" % (
        module, "\n".join("    " + l for l in lines))
    if auth == "pgsql":
        top["auth"] = "pgsql"
        return build_config(directory, port, settings=top,
                            load=load + [module], extra=extra)
    return build_config(directory, port, settings=top,
                        load=["passwd-file"] + load + [module],
                        extra=extra)


# the name the IMAP and POP3 support files first used
maildir_protocol_config = protocol_config


def stop_module_server(request, srv, directory):
    """The end of a module-scoped server fixture: SIGTERM, the exit, no
    sanitizer report or panic in the log; the log's end printed and the
    folder kept when a test of the file failed, else the folder removed."""
    problems = []
    try:
        srv.stop()
    except AssertionError as e:
        problems.append(str(e))
    drop_storage(directory)
    bad = srv.bad_log_lines()
    if bad:
        problems.append("facteurd log reports errors:\n" + "\n".join(bad[:40]))
    failed = any(getattr(item, "rep_call", None) is not None and
                 item.rep_call.failed
                 for item in request.session.items
                 if item.module is request.module)
    if problems or failed:
        lines = srv.log_lines()
        print("---- %s (last 80 of %d lines) ----" % (srv.log_path,
                                                      len(lines)))
        print("\n".join(lines[-80:]))
        print("test folder kept: %s" % directory)
    else:
        cleanup_dir(directory)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
