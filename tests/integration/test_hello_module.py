"""A third party's module, built out of tree: facteur is installed into
a temporary root, tests/modules/hello is built against the installed
headers and facteur.pc with its own autotools files, and the installed
facteurd loads it and serves its protocol."""

import os
import re
import shutil
import subprocess
import warnings

import harness
from harness import Client, free_port, run_facteurd

HELLO_SRC = os.path.join(harness.SRCDIR, "tests", "modules", "hello")
HELLO_FILES = ["configure.ac", "Makefile.am", "hello.c", "README"]


def clean_env(**extra):
    """The environment without the calling make's job server (make
    check runs us) and without our module path."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
              "FACTEUR_MODULE_PATH", "DESTDIR"):
        env.pop(k, None)
    env.update(extra)
    return env


def run(args, cwd, env, timeout=300):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (
        " ".join(args), r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


def installed_dirs(builddir):
    """prefix, sbindir and pkgconfigdir from the build's Makefile, with
    their ${...} references expanded."""
    values = {}
    with open(os.path.join(builddir, "Makefile")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_]+) = (.*)$", line.rstrip("\n"))
            if m:
                values[m.group(1)] = m.group(2).strip()

    def expand(v, depth=0):
        assert depth < 20
        out = re.sub(r"\$[({]([A-Za-z_]+)[)}]",
                     lambda m: expand(values.get(m.group(1), ""), depth + 1),
                     v)
        return out
    return {k: expand(values[k]) for k in ("prefix", "sbindir",
                                           "pkgconfigdir")}


def test_out_of_tree_module(facteurd, test_dir):
    """make install into a temporary root; autoreconf, configure (facteur
    found through pkg-config in that root), make and make install of
    tests/modules/hello; then the installed facteurd checks the config
    with the module, loads it and serves its greeting, echo and QUIT."""
    env = clean_env()
    root = os.path.join(test_dir, "root")
    built = os.stat(harness.FACTEURD).st_mtime
    run(["make", "-s", "-C", harness.BUILDDIR, "install", "DESTDIR=" + root],
        cwd=test_dir, env=env)
    if os.stat(harness.FACTEURD).st_mtime != built:
        warnings.warn("make install rebuilt facteurd: the sources changed "
                      "while the suite ran")
    dirs = installed_dirs(harness.BUILDDIR)
    staged = lambda d: root + d
    facteurd_bin = staged(os.path.join(dirs["sbindir"], "facteurd"))
    pcdir = staged(dirs["pkgconfigdir"])
    assert os.access(facteurd_bin, os.X_OK)
    assert os.path.exists(os.path.join(pcdir, "facteur.pc"))
    assert os.path.exists(staged(os.path.join(dirs["prefix"], "include",
                                              "facteur", "version.h")))

    # the project exactly as shipped, in a folder of its own
    src = os.path.join(test_dir, "hello")
    os.makedirs(os.path.join(src, "m4"))
    for name in HELLO_FILES:
        shutil.copy(os.path.join(HELLO_SRC, name), src)
    run(["autoreconf", "-fi"], cwd=src, env=env)

    # pkg-config looks in the staged root; the sysroot makes the -I
    # point there too (pkgconf also puts it in front of moduledir, so
    # the module's own install folder is given explicitly)
    mods = os.path.join(test_dir, "mods")
    pcenv = clean_env(PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=root)
    r = run(["pkg-config", "--cflags", "facteur"], cwd=src, env=pcenv)
    assert root in r.stdout
    run(["./configure", "-q", "--with-moduledir=" + mods], cwd=src,
        env=pcenv)
    run(["make", "-s"], cwd=src, env=pcenv)
    run(["make", "-s", "install"], cwd=src, env=pcenv)
    so = os.path.join(mods, "hello.so")
    assert os.path.exists(so)

    # only the descriptor is exported
    r = run(["nm", "-D", "--defined-only", so], cwd=src, env=env)
    exported = [l.split()[-1] for l in r.stdout.splitlines()
                if l.split()[1] in ("D", "R", "T", "B")]
    assert exported == ["fc_module_hello"], exported

    port = free_port()
    conf = "".join(l + "\n" for l in [
        "user %s;" % harness.SERVICE_USER if harness.IS_ROOT else "",
        "pid_file %s/facteurd.pid;" % test_dir,
        "workers 1;",
        "log stderr;",
        "auth none;",
        "module_path %s;" % mods,
        "load hello;",
        "hello {",
        "    listen 127.0.0.1:%d;" % port,
        '    greeting "hi from out of tree";',
        "    max_line_length 100;",
        "}",
    ])
    srv = facteurd(text=conf, port=port, binary=facteurd_bin,
                   module_path=False, start=False)
    r = run_facteurd(["-t", "-c", srv.conf_path], env=env,
                     binary=facteurd_bin)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^module hello 1\.0 \(protocol, ABI \d+\.\d+, "
                     r"1 directive\) %s$" % re.escape(so), r.stdout, re.M), \
        r.stdout

    srv.start()
    with Client(port) as c:
        assert c.readline() == "+ hi from out of tree"
        assert c.cmd("hello world") == "+ hello world"
        assert c.cmd("QUIT") == "+ bye"
        assert c.expect_closed() == []
    # no line_too_long handler: the core closes the connection
    with Client(port) as c:
        c.readline()
        c.send("x" * 200 + "\r\n")
        assert c.expect_closed() == []
