"""The module loader's refusals. Each broken module in tests/modules/
must stop `facteurd -t` and start-up with exit status 1 and one clear
line that names the module's file and the reason."""

import os
import re
import shutil
import stat

import pytest

import harness
from harness import build_config, error_lines, free_port, run_facteurd

TEST_MODULES = os.path.join(harness.BUILDDIR, "tests", "modules")

# module name -> what the line must say (core/loader.c's wording)
REFUSALS = {
    "badabi": r"built for ABI (\d+)\.\d+, this facteurd has ABI (\d+)\.\d+: "
              r"rebuild the module",
    "newminor": r"needs facteurd ABI \d+\.\d+ or later \(this one has "
                r"\d+\.\d+\)",
    "nosymbol": r"is not a facteur module \(no symbol fc_module_nosymbol\)",
    "wrongname": r"declares the name \"rightname\", but is loaded as "
                 r"wrongname",
    "initfail": r"init failed: initfail says no \(test module\)",
}


def module_so(name):
    so = os.path.join(TEST_MODULES, name, ".libs", name + ".so")
    if not os.path.exists(so):
        pytest.fail("%s is not built: run `make check` (it builds the test "
                    "modules) before this suite" % so)
    return so


def config_loading(directory, name, workers="1"):
    """echo plus the test module; no auth back end needed."""
    return build_config(directory, free_port(),
                        settings={"workers": workers, "auth": "none"},
                        load=["echo", name])


def write_config(directory, text):
    path = os.path.join(directory, "facteurd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def lines_naming(stderr, so):
    return [l for l in error_lines(stderr) if so in l]


@pytest.mark.parametrize("name", sorted(REFUSALS))
@pytest.mark.parametrize("mode", ["check", "start"])
def test_refused_module(test_dir, name, mode):
    """A broken module stops -t and start-up with exit status 1 and
    exactly one error line naming the module's file and the reason."""
    so = module_so(name)
    path = write_config(test_dir, config_loading(test_dir, name))
    args = ["-t", "-c", path] if mode == "check" else ["-f", "-c", path]
    r = run_facteurd(args, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    hits = lines_naming(r.stderr, so)
    assert len(hits) == 1, "want one line naming %s, got:\n%s" % (
        so, r.stderr)
    m = re.search(REFUSALS[name], hits[0])
    assert m, hits[0]
    if name == "badabi":
        assert int(m.group(1)) == int(m.group(2)) + 1
    if mode == "start":
        assert not os.path.exists(os.path.join(test_dir, "facteurd.pid"))
        assert " started, " not in r.stderr


def test_worker_init_failure_stops_startup(test_dir):
    """-t passes with a module whose worker_init fails (it runs only in
    workers), but start-up fails with exit status 1 and a line naming
    the module's file and its message; the master does not keep
    restarting workers."""
    so = module_so("workerfail")
    path = write_config(test_dir, config_loading(test_dir, "workerfail"))
    r = run_facteurd(["-t", "-c", path])
    assert r.returncode == 0, r.stderr

    r = run_facteurd(["-f", "-c", path], timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    hits = lines_naming(r.stderr, so)
    assert len(hits) == 1, r.stderr
    assert "worker_init failed: workerfail says no (test module)" in hits[0]
    assert " started, " not in r.stderr
    assert not os.path.exists(os.path.join(test_dir, "facteurd.pid"))


def test_missing_module(test_dir):
    """A module found nowhere is named with the folders searched."""
    path = write_config(test_dir, config_loading(test_dir, "nosuchmodule"))
    r = run_facteurd(["-t", "-c", path])
    assert r.returncode == 1
    hits = [l for l in error_lines(r.stderr) if "nosuchmodule" in l]
    assert len(hits) == 1, r.stderr
    assert "module nosuchmodule: not found in " in hits[0]
    assert TEST_MODULES in hits[0]


@pytest.mark.skipif(not harness.IS_ROOT,
                    reason="the ownership check applies to root only")
def test_group_writable_module_refused_as_root(test_dir):
    """Running as root, a module file writable by its group is refused
    (anyone in that group could make root run their code); the same file
    with safe permissions loads."""
    src = os.path.join(harness.BUILDDIR, "modules", "echo", ".libs",
                       "echo.so")
    mods = os.path.join(test_dir, "mods")
    os.mkdir(mods, 0o755)
    so = os.path.join(mods, "echo.so")
    shutil.copy(src, so)
    os.chmod(so, 0o755)
    text = build_config(test_dir, free_port(),
                        settings={"auth": "none", "module_path": mods},
                        load=["echo"])
    path = write_config(test_dir, text)
    env = harness.facteurd_env(module_path=False)

    r = run_facteurd(["-t", "-c", path], env=env)
    assert r.returncode == 0, r.stderr
    assert so in r.stdout

    os.chmod(so, 0o775)
    assert os.stat(so).st_mode & stat.S_IWGRP
    r = run_facteurd(["-t", "-c", path], env=env)
    assert r.returncode == 1
    hits = lines_naming(r.stderr, so)
    assert len(hits) == 1, r.stderr
    assert "writable by group or others" in hits[0]

    r = run_facteurd(["-f", "-c", path], env=env, timeout=60)
    assert r.returncode == 1
    assert len(lines_naming(r.stderr, so)) == 1, r.stderr

    # a world-writable folder is just as bad
    os.chmod(so, 0o755)
    os.chmod(mods, 0o777)
    r = run_facteurd(["-t", "-c", path], env=env)
    assert r.returncode == 1
    assert "writable by group or others" in r.stderr
    os.chmod(mods, 0o755)
