"""The shipped rules against the saved messages of tests/rules/, through
`facteurctl filter test` (no server): each message says which rules it
expects to fire, with their scores, and the action."""

import glob
import os
import re
import subprocess

import pytest

import harness
from harness import FACTEURCTL, make_test_dir
from test_lua_support import ENV, SPAM

RULES = os.path.join(harness.SRCDIR, "tests", "rules")
MESSAGES = sorted(glob.glob(os.path.join(RULES, "*.eml")))


@pytest.fixture(scope="module")
def conf():
    d = make_test_dir("facteur-rules-")
    with open(os.path.join(RULES, "rules.conf")) as f:
        text = f.read().replace("@SPAM@", SPAM)
    text = "state_dir %s;\n" % os.path.join(d, "state") + text
    path = os.path.join(d, "rules.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(d, 0o755)
    os.chmod(path, 0o644)
    yield path
    harness.cleanup_dir(d)


def expectations(path):
    fields = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"X-Test-([\w-]+): (.*)", line)
            if m:
                fields[m.group(1)] = m.group(2).strip()
    return fields


def tool(conf, *args):
    return subprocess.run([FACTEURCTL, "-c", conf, "filter", "test"] +
                          list(args), capture_output=True, text=True,
                          env=harness.facteurd_env(ENV), timeout=60)


def test_corpus_present():
    assert len(MESSAGES) >= 12


@pytest.mark.parametrize("path", MESSAGES,
                         ids=[os.path.basename(p) for p in MESSAGES])
def test_rules_on_saved_message(conf, path):
    want = expectations(path)
    r = tool(conf, path, *want.get("Args", "").split())
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].split() == ["rule", "score", "stage"]
    hits = [l.split() for l in out[1:] if not
            l.startswith(("total ", "action ", "time "))]
    assert not [h for h in hits if "failed:" in h], r.stdout
    got = " ".join("%s(%g)" % (h[0], float(h[1])) for h in hits) or "-"
    assert got == want["Expect-Rules"], r.stdout
    action = [l for l in out if l.startswith("action ")][0].split()[1]
    assert action == want["Expect-Action"], r.stdout
    total = float([l for l in out if l.startswith("total ")][0].split()[1])
    assert total == sum(float(h[1]) for h in hits)


def test_tool_arguments(conf):
    """Wrong arguments: status 2 and the usage; a missing file: 1."""
    r = tool(conf)
    assert r.returncode == 2 and "usage: facteurctl filter test" in r.stderr
    r = tool(conf, os.path.join(RULES, "clean.eml"), "--bogus", "x")
    assert r.returncode == 2
    r = tool(conf, "/nonexistent.eml")
    assert r.returncode == 1 and "/nonexistent.eml" in r.stderr


def test_tool_prints_stage_and_forced_verdict(conf):
    """A rate limit forces a temporary failure at MAIL: the tool says
    where; the DATA rules still show."""
    d = os.path.dirname(conf)
    text = open(conf).read().replace(
        "reject_score 15;", "reject_score 15;\n    set ratelimit_ip 0;")
    path = os.path.join(d, "ratelimit.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    r = tool(path, os.path.join(RULES, "gtube.eml"), "--ip", "192.0.2.1")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^RATELIMIT_IP\s+0\.00\s+mail$", r.stdout, re.M)
    assert re.search(r"^GTUBE\s+1000\.00\s+data$", r.stdout, re.M)
    assert ("action greylist at mail: 451 4.7.1 Too many messages from "
            "your address: slow down") in r.stdout


def test_bench_command(conf):
    """filter bench times the rule set on the messages and prints the
    median and p99 per message."""
    r = subprocess.run([FACTEURCTL, "-c", conf, "filter", "bench", "--runs",
                        "3", os.path.join(RULES, "gtube.eml"),
                        os.path.join(RULES, "html_phish.eml")],
                       capture_output=True, text=True,
                       env=harness.facteurd_env(ENV), timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"messages 2 runs 3 rules 13 median_us \d+ "
                        r"p99_us \d+ mean_us [\d.]+\n", r.stdout), r.stdout
    r = subprocess.run([FACTEURCTL, "-c", conf, "filter", "bench"],
                       capture_output=True, text=True,
                       env=harness.facteurd_env(ENV), timeout=60)
    assert r.returncode == 2 and "usage" in r.stderr
