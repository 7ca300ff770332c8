"""The directive reference and the example config in docs/ are
generated from the directive tables (`make docs`); these tests fail when
a table changed and the committed copies were not regenerated."""

import difflib
import os
import re

import harness
from harness import facteurd_env, run_facteurd



def doc_modules():
    """The modules `make docs` documents: the doc_modules line of
    Makefile.am, so the list lives in one place."""
    with open(os.path.join(harness.SRCDIR, "Makefile.am")) as f:
        for line in f:
            if line.startswith("doc_modules ="):
                return line.split("=", 1)[1].split()
    raise AssertionError("Makefile.am has no doc_modules line")


MODULES = doc_modules()


def generated(fmt):
    # defaults under the configured folders are written generically,
    # so the committed files do not depend on one build's prefix
    env = facteurd_env({"FACTEUR_DOC_PATHS": "generic"})
    r = run_facteurd(["--directives=" + fmt] + MODULES, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def committed(name):
    path = os.path.join(harness.SRCDIR, "docs", name)
    assert os.path.exists(path), "%s is missing: run `make docs`" % path
    with open(path) as f:
        return f.read()


def same(want, got, name):
    diff = "".join(difflib.unified_diff(
        want.splitlines(True), got.splitlines(True),
        "docs/" + name, "facteurd --directives"))
    assert got == want, "docs/%s is out of date (run `make docs`):\n%s" % (
        name, diff[:4000])


def test_directives_markdown_is_current():
    """docs/directives.md equals `facteurd --directives=markdown` of the
    modules `make docs` documents."""
    same(committed("directives.md"), generated("markdown"), "directives.md")


def test_example_config_is_current():
    """docs/facteurd.conf.example equals `facteurd --directives=conf` of
    the modules `make docs` documents."""
    same(committed("facteurd.conf.example"), generated("conf"),
         "facteurd.conf.example")


def test_every_directive_documented():
    """Every directive named in the reference has a help line in the
    example config, and both name the core's per-listener settings."""
    md = generated("markdown")
    conf = generated("conf")
    names = [line.split("`")[1] for line in md.splitlines()
             if line.startswith("| `")]
    assert len(names) > 30
    for name in ("listen", "max_connections_per_ip", "tls_certificate",
                 "idle_timeout", "greeting", "max_body", "path"):
        assert name in names
    for name in names:
        assert "# %s" % name in conf, name


def test_example_one_word_defaults_read_back():
    """A directive taking one argument (its syntax one word: STRING,
    PATH, REPLY...) shows a default with spaces as one double-quoted
    string, so the line parses once uncommented instead of reading as
    several words."""
    lines = generated("conf").splitlines()
    checked = 0
    for i, line in enumerate(lines):
        m = re.match(r"\s*# (\S+) ([A-Z][A-Z_:]*)$", line)
        if not m or i + 2 >= len(lines):
            continue
        d = re.match(r"\s*#%s (.*);$" % re.escape(m.group(1)), lines[i + 2])
        if not d or not re.search(r"[\s;{}#'\\]", d.group(1)):
            continue
        checked += 1
        assert re.fullmatch(r'"(?:[^"\\]|\\.)*"', d.group(1)), lines[i + 2]
    assert checked > 0


def test_directives_bad_format():
    """--directives with an unknown format is an error."""
    r = run_facteurd(["--directives=html", "echo"])
    assert r.returncode == 1
    assert "markdown or conf" in r.stderr
