"""The config file as an admin meets it: `facteurd -t`, and the errors
it reports (file:line, exit status 1, every error at once)."""

import os
import re

import pytest

import harness
from harness import (FACTEURD, build_config, error_lines, free_port,
                     run_facteurd)


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def check(directory, text, name="facteurd.conf"):
    path = write(directory, name, text)
    return path, run_facteurd(["-t", "-c", path])


def base_config(directory, **kw):
    return build_config(directory, free_port(), **kw)


def lines_of(text, substring):
    return [i + 1 for i, l in enumerate(text.splitlines()) if substring in l]


def test_check_valid_config_lists_modules(test_dir, password_hash):
    """-t on a good config exits 0, prints each loaded module with its
    version, kind, ABI and directive count, and says the file is valid."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    path, r = check(test_dir, base_config(test_dir))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^module passwd-file \S+ \(auth, ABI \d+\.\d+, "
                     r"2 directives\) \S+passwd-file\.so$", out, re.M), out
    assert re.search(r"^module echo \S+ \(protocol, ABI \d+\.\d+, "
                     r"4 directives\) \S+echo\.so$", out, re.M), out
    assert "facteurd: %s is valid" % path in out
    assert error_lines(r.stderr) == []


def test_unknown_directive(test_dir, password_hash):
    """An unknown top-level directive is reported with file:line and -t
    exits 1."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir) + "frobnicate yes;\n"
    path, r = check(test_dir, text)
    line = lines_of(text, "frobnicate")[0]
    assert r.returncode == 1
    assert "%s:%d: unknown directive frobnicate" % (path, line) in r.stderr
    assert "is valid" not in r.stdout


def test_unknown_directive_in_block(test_dir, password_hash):
    """A directive the echo module does not know, inside its block, is
    reported with the block's name and the line."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, echo="colour blue;")
    path, r = check(test_dir, text)
    line = lines_of(text, "colour blue")[0]
    assert r.returncode == 1
    assert "%s:%d: echo: unknown directive colour" % (path, line) in r.stderr


def test_bad_values(test_dir, password_hash):
    """Values that do not parse or are out of bounds are refused with
    file:line, the directive's name and the reason."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, settings={"max_connections": "0"},
                       echo="idle_timeout banana;\nmax_line_length 2M;")
    path, r = check(test_dir, text)
    assert r.returncode == 1
    err = r.stderr
    n = lines_of(text, "max_connections 0")[0]
    assert re.search(r"%s:%d: core: max_connections: 0 is below the "
                     r"minimum 1" % (re.escape(path), n), err), err
    n = lines_of(text, "banana")[0]
    assert "%s:%d: echo: idle_timeout: " % (path, n) in err, err
    n = lines_of(text, "max_line_length 2M")[0]
    assert re.search(r"%s:%d: echo: max_line_length: 2M is above the "
                     r"maximum" % (re.escape(path), n), err), err
    assert "3 errors" in err


def test_duplicate_directive(test_dir, password_hash):
    """A directive set twice in one block names both lines."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, echo="max_errors 5;\nmax_errors 6;")
    path, r = check(test_dir, text)
    first = lines_of(text, "max_errors 5")[0]
    second = lines_of(text, "max_errors 6")[0]
    assert r.returncode == 1
    assert "%s:%d: echo: max_errors is already set at line %d" % (
        path, second, first) in r.stderr


def test_block_for_module_not_loaded(test_dir, password_hash):
    """A block named after a module that is not loaded is an error that
    says what to do."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, extra="smtp {\n    listen 2525;\n}")
    path, r = check(test_dir, text)
    line = lines_of(text, "smtp {")[0]
    assert r.returncode == 1
    assert "%s:%d: block smtp names no loaded module" % (path, line) \
        in r.stderr


def test_listen_without_port(test_dir, password_hash):
    """`listen 127.0.0.1;` has no port: refused with file:line."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, listen=["127.0.0.1"])
    path, r = check(test_dir, text)
    line = lines_of(text, "listen 127.0.0.1;")[0]
    assert r.returncode == 1
    assert re.search(r"%s:%d: echo: listen: .*port" % (re.escape(path), line),
                     r.stderr), r.stderr


def test_tls_listener_without_certificate(test_dir, password_hash):
    """An implicit-TLS listener in a block without tls_certificate and
    tls_key is refused, naming the listener's line."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    port = free_port()
    text = base_config(test_dir, listen=["127.0.0.1:%d tls" % port])
    path, r = check(test_dir, text)
    line = lines_of(text, "tls;")[0]
    assert r.returncode == 1
    assert "%s:%d: echo: listen 127.0.0.1:%d tls needs tls_certificate " \
        "and tls_key" % (path, line, port) in r.stderr


def test_two_listeners_on_one_address(test_dir, password_hash):
    """The same address and port twice is refused, naming both lines."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    port = free_port()
    addr = "127.0.0.1:%d" % port
    text = base_config(test_dir, listen=[addr, addr])
    path, r = check(test_dir, text)
    first, second = lines_of(text, "listen " + addr)
    assert r.returncode == 1
    assert "%s:%d: listen %s is also used at %s:%d" % (
        path, second, addr, path, first) in r.stderr


def test_all_errors_are_reported(test_dir, password_hash):
    """-t reports every error of the file, not only the first, and
    counts them."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, echo="colour blue;\nmax_errors many;",
                       extra="frobnicate yes;\nsmtp {\n}\n")
    path, r = check(test_dir, text)
    assert r.returncode == 1
    for needle in ("colour blue", "max_errors many", "frobnicate",
                   "smtp {"):
        line = lines_of(text, needle)[0]
        assert "%s:%d: " % (path, line) in r.stderr, (needle, r.stderr)
    assert "%s: 4 errors" % path in r.stderr


def test_start_with_bad_config_fails(test_dir, password_hash):
    """Starting (not -t) with a broken config exits 1 with the same
    file:line message and leaves no pid file."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir) + "frobnicate yes;\n"
    path = write(test_dir, "facteurd.conf", text)
    r = run_facteurd(["-f", "-c", path], timeout=30)
    line = lines_of(text, "frobnicate")[0]
    assert r.returncode == 1
    assert "%s:%d: unknown directive frobnicate" % (path, line) in r.stderr
    assert not os.path.exists(os.path.join(test_dir, "facteurd.pid"))


def test_default_config_passes_check(test_dir, password_hash):
    """--default-config prints a config that -t accepts once a passwd
    file sits beside it (its `path passwd` is relative to the config's
    folder); without the passwd file, the error names that file."""
    r = run_facteurd(["--default-config"])
    assert r.returncode == 0
    assert "load" in r.stdout
    path = write(test_dir, "facteurd.conf", r.stdout)

    r = run_facteurd(["-t", "-c", path])
    assert r.returncode == 1
    passwd = os.path.join(test_dir, "passwd")
    assert passwd in r.stderr, r.stderr

    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    r = run_facteurd(["-t", "-c", path])
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stdout


def test_version_and_usage():
    """-V prints the version and module ABI; an unknown option prints the
    usage on stderr and exits 1."""
    r = run_facteurd(["-V"])
    assert r.returncode == 0
    assert re.match(r"facteurd \S+ \(module ABI \d+\.\d+\)$",
                    r.stdout.strip()), r.stdout
    r = run_facteurd(["--no-such-option"])
    assert r.returncode == 1
    assert "usage: facteurd" in r.stderr
    assert os.path.exists(FACTEURD)


@pytest.mark.skipif(not harness.IS_ROOT,
                    reason="the user directive matters only to root")
@pytest.mark.parametrize("user, reason", [
    ("root", "workers must not run as root"),
    ("no-such-user-here", "names a user that does not exist"),
])
def test_bad_user_as_root(test_dir, password_hash, user, reason):
    """Started as root, a user that does not exist, or root itself, is
    refused by -t and at start-up."""
    write(test_dir, "passwd", "alice:%s\n" % password_hash)
    text = base_config(test_dir, settings={"user": user})
    path, r = check(test_dir, text)
    assert r.returncode == 1
    assert reason in r.stderr, r.stderr
    r = run_facteurd(["-f", "-c", path], timeout=30)
    assert r.returncode == 1
    assert reason in r.stderr, r.stderr
