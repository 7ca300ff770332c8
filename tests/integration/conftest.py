"""Fixtures for the integration suite.

`facteurd` is a factory: each call writes a config into the test's own
folder, starts a facteurd in the foreground (stderr to facteurd.log),
and waits until every worker serves. At teardown every server gets
SIGTERM and must exit within 15 s; a log holding a sanitizer report or a
panic fails the test, and a failed test prints the end of the log.

FACTEUR_TEST_STORAGE=pgsql gives the protocol servers (IMAP, POP3, SMTP
delivery) the pgsql storage on a private PostgreSQL instead of maildir
(harness.storage_config()).
"""

import os
import resource

import pytest

import harness
from harness import (Facteurd, build_config, cleanup_dir, free_port,
                     hash_password, make_certificate, make_test_dir)

PASSWORD = "correct horse 42"


def pytest_configure(config):
    if not os.access(harness.FACTEURD, os.X_OK):
        raise pytest.UsageError("no facteurd at %s: build first, or set "
                                "FACTEUR_BUILDDIR" % harness.FACTEURD)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def no_sanitizer_reports_from_short_runs():
    """facteurd runs that end by themselves (-t, failed start-ups) must
    not report memory errors or leaks either."""
    del harness.short_run_reports[:]
    yield
    if harness.short_run_reports:
        reports = "\n".join(harness.short_run_reports)
        del harness.short_run_reports[:]
        pytest.fail("sanitizer report or panic:\n" + reports, pytrace=False)


@pytest.fixture(scope="session")
def password_hash():
    """The yescrypt hash of PASSWORD (hashing is slow: once per run)."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def tls_files():
    """A self-signed certificate and key, shared by the whole run."""
    d = make_test_dir("facteur-tls-")
    cert, key = make_certificate(d)
    yield cert, key
    cleanup_dir(d)


@pytest.fixture
def test_dir(request):
    d = make_test_dir()
    yield d
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed:
        cleanup_dir(d)
    else:
        print("test folder kept: %s" % d)


@pytest.fixture
def facteurd(request, test_dir, password_hash):
    """Factory: facteurd(settings=..., echo=..., ...) -> a started
    Facteurd. Keyword arguments go to harness.build_config(); also
    users= (name -> password hash, default alice), start=False to only
    write the config, env= extra environment, text= a whole config
    instead (with port= its port), binary= another facteurd,
    module_path=False to run without FACTEUR_MODULE_PATH."""
    servers = []

    def start(settings=None, echo="", users=None, start=True, env=None,
              port=None, directory=None, text=None, binary=harness.FACTEURD,
              module_path=True, **kw):
        directory = directory or test_dir
        port = port or free_port()
        if users is None:
            users = {"alice": password_hash}
        passwd = os.path.join(directory, "passwd")
        if not os.path.exists(passwd):
            with open(passwd, "w") as f:
                for name, h in users.items():
                    f.write("%s:%s\n" % (name, h))
            os.chmod(passwd, 0o644)
        if text is None:
            text = build_config(directory, port, settings=settings,
                                echo=echo, **kw)
        srv = Facteurd(directory, text, port=port, env=env,
                       module_path=module_path, binary=binary)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield start

    problems = []
    for srv in servers:
        if srv.proc is None:
            continue
        try:
            srv.stop()
        except AssertionError as e:
            problems.append(str(e))
        bad = srv.bad_log_lines()
        if bad:
            problems.append("facteurd log reports errors:\n" +
                            "\n".join(bad[:40]))
    for d in sorted(set(srv.dir for srv in servers)):
        harness.drop_storage(d)
    rep = getattr(request.node, "rep_call", None)
    if problems or (rep is not None and rep.failed):
        for srv in servers:
            lines = srv.log_lines()
            print("---- %s (last 60 of %d lines) ----"
                  % (srv.log_path, len(lines)))
            print("\n".join(lines[-60:]))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(facteurd):
    """A facteurd with the defaults: echo on a free port, one worker."""
    return facteurd()


@pytest.fixture
def many_files():
    """Raises this process's open-file limit for tests that open
    thousands of connections; restores it afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 12000 if hard == resource.RLIM_INFINITY else min(hard, 12000)
    if want < 5300:
        pytest.skip("open-file hard limit %d is too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield want
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
