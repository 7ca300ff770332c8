"""The Lua filter plugin in facteurd: the shipped GTUBE, header and HTML
rules and a few rules of the test's own, through SMTP. Scores map to
actions (reject at DATA, headers, the Junk folder); broken rules (an
endless loop, endless allocation, a runtime error) are cut off, logged
and skipped while the message is delivered; the memory limit holds for
all the rules of a message together; a malformed message is
scored from what the parser made of it; a reload with a broken script
keeps the rules that run."""

import os
import re
import signal
import smtplib

import pytest

from harness import wait_for
from test_lua_support import GTUBE, SPAM, lua_server, write_script

OWN = r"""
-- scores set by words in the subject, for the thresholds
facteur.rule {
  name = "SCORE6", score = 6,
  check = function(msg)
    return (msg:subject() or ""):find("score6", 1, true) ~= nil
  end,
}
facteur.rule {
  name = "SCORE9", score = 3,  -- a weight: 3 x 3
  check = function(msg)
    if (msg:subject() or ""):find("score9") then return 3 end
  end,
}
facteur.rule {
  name = "LOOP", score = 1,
  check = function(msg)
    if (msg:subject() or ""):find("loop") then
      while true do pcall(function() while true do end end) end
    end
  end,
}
facteur.rule {
  name = "ALLOC", score = 1,
  check = function(msg)
    if (msg:subject() or ""):find("alloc") then
      local t, s = {}, "x"
      while true do s = s .. s; t[#t + 1] = s end
    end
  end,
}
-- each keeps 2.5M: under max_memory 4M alone, over it together
local kept = {}
local function keep(n)
  local t = {}
  for i = 1, 250 do t[i] = string.rep(n, 10000) .. i end
  kept[n] = t
end
facteur.rule {
  name = "KEEP1", score = 0.25,
  check = function(msg)
    if (msg:subject() or ""):find("keep") then keep("a"); return true end
  end,
}
facteur.rule {
  name = "KEEP2", score = 0.25,
  check = function(msg)
    if (msg:subject() or ""):find("keep") then keep("b"); return true end
  end,
}
facteur.rule {
  name = "KEEP_END", score = 0,
  check = function(msg) kept = {} end,
}
facteur.rule {
  name = "ERR", score = 1,
  check = function(msg)
    if (msg:subject() or ""):find("error") then return nil + 1 end
  end,
}
facteur.rule {
  name = "MALFORMED", score = 0.5,
  check = function(msg) return msg:malformed() ~= nil end,
}
facteur.rule {
  name = "ALLOWED", score = -1,
  stage = "mail",
  check = function(msg)
    if msg:sender() == "friend@sender.test" then
      msg:force("accept")
      return true
    end
  end,
}
"""


@pytest.fixture(scope="module")
def lua(request, password_hash):
    yield from lua_server(request, password_hash, [
        "scripts %s/gtube.lua %s/headers.lua %s/html.lua @DIR@/own.lua;"
        % (SPAM, SPAM, SPAM),
        "header_score 5;",
        "junk_score 8;",
        "reject_score 15;",
        "max_instructions 200000;",
        "max_memory 4M;",
    ], scripts={"own.lua": OWN})


def filter_lines(srv, n=1):
    return [l for l in srv.srv.log_lines() if "event=filter" in l]


def test_gtube_rejected_at_data(lua):
    """GTUBE in the text is rejected at the end of DATA with the
    configured reply; nothing is delivered; the log line names GTUBE and
    its score."""
    before = len(lua.messages())
    with pytest.raises(smtplib.SMTPDataError) as e:
        lua.send("Hello\r\n%s\r\n" % GTUBE)
    assert e.value.smtp_code == 550
    assert e.value.smtp_error == b"5.7.1 Message refused as spam"
    assert len(lua.messages()) == before
    lua.srv.wait_log(r"event=filter action=reject score=1000\.00 "
                     r"rules=\"GTUBE\(1000\)\" time_us=\d+")


def test_headers_added(lua):
    """A score between header_score and junk_score: delivered to INBOX
    with X-Spam-Score and X-Spam-Status listing the rule."""
    lua.send("nothing special\r\n", subject="score6 here")
    text = lua.fetch("score6 here")
    assert "X-Spam-Score: 6.00" in text, text
    assert re.search(r"X-Spam-Status: No, score=6\.00 required=5\.00 "
                     r"tests=SCORE6\(6\)", text), text


def test_junk_folder(lua):
    """From junk_score on, the message goes to Junk, headers included."""
    lua.send("junk\r\n", subject="score9")
    text = lua.fetch("score9", "Junk")
    assert re.search(r"X-Spam-Status: Yes, score=9\.00 required=5\.00 "
                     r"tests=SCORE9\(9\)", text), text
    with pytest.raises(AssertionError):
        lua.fetch("score9")


def test_forced_accept(lua):
    """An allow-list rule forcing accept at MAIL stops the rules: GTUBE
    from that sender is delivered, without spam headers."""
    lua.send("%s\r\n" % GTUBE, subject="friend", sender="friend@sender.test")
    text = lua.fetch("friend")
    assert "X-Spam-Status" not in text
    lua.srv.wait_log(r"action=accept score=-1\.00 rules=\"ALLOWED\(-1\)\"")


def test_infinite_loop_cut_off(lua):
    """An endless loop (even one catching its own errors with pcall) is
    cut off by the instruction limit, logged as failed, and the message
    is delivered, scored by the other rules."""
    lua.send("loop\r\n", subject="loop score6")
    text = lua.fetch("loop score6")
    assert "tests=SCORE6(6)\n" in text or "tests=SCORE6(6)\r\n" in text
    lua.srv.wait_log(r"rule=LOOP result=failed "
                     r"reason=\"instruction limit reached\"")
    lua.srv.wait_log(r"rules=\"SCORE6\(6\) LOOP\(failed\)\"")


def test_unbounded_allocation_cut_off(lua):
    """Allocation without end stops at max_memory; the message is
    delivered; the server lives on."""
    lua.send("alloc\r\n", subject="alloc")
    assert "alloc" in lua.fetch("alloc")
    lua.srv.wait_log(r"rule=ALLOC result=failed "
                     r"reason=\"memory limit reached\"")


def test_memory_limit_per_message(lua):
    """max_memory holds for all the rules of a message together: two
    rules keeping 2.5M each under 4M, the second is cut off and logged,
    the first's score and the later rules' count, the message is
    delivered; the next message has the whole budget again."""
    for n in (1, 2):
        lua.send("keep\r\n", subject="keep score6 %d" % n)
        text = lua.fetch("keep score6 %d" % n)
        assert "X-Spam-Score: 6.25" in text, text
        lua.srv.wait_log(r"rule=KEEP2 result=failed "
                         r"reason=\"memory limit reached\"", count=n)
        lua.srv.wait_log(r"rules=\"SCORE6\(6\) KEEP1\(0\.25\) "
                         r"KEEP2\(failed\)\"", count=n)
    assert not any("rule=KEEP1 result=failed" in l
                   for l in lua.srv.log_lines())


def test_runtime_error_others_run(lua):
    """A runtime error in one rule: logged with its file and line, and
    the rules after it still run (SCORE6 adds its headers)."""
    lua.send("error\r\n", subject="error score6")
    text = lua.fetch("error score6")
    assert "X-Spam-Score: 6.00" in text
    lua.srv.wait_log(r"rule=ERR result=failed reason=\".*own\.lua:\d+: "
                     r"attempt to perform arithmetic on a nil value")


def test_malformed_message(lua):
    """A message the parser finds broken (a multipart without boundary,
    a header line without colon, raw 8-bit in the header) still gets its
    rules and is delivered."""
    raw = (b"From: broken\r\nTo alice\r\nSubject: broken\r\n"
           b"X-Eight: caf\xc3\xa9 \xff\r\n"
           b"Content-Type: multipart/mixed\r\n\r\n--x\r\nbody\r\n")
    with lua.smtp() as s:
        s.sendmail("bob@sender.test", ["alice@example.org"], raw)
    assert "--x\nbody" in lua.fetch("broken").replace("\r\n", "\n")
    lua.srv.wait_log(r"rules=\"MISSING_DATE\(1\) MISSING_MESSAGE_ID\(1\) "
                     r"FROM_MALFORMED\(2\) MALFORMED\(0\.5\)\"")


def test_html_link_mismatch(lua):
    """An HTML-only message whose link text names another domain than
    its target scores HTML_ONLY and HTML_LINK_MISMATCH."""
    body = ('<p>Log in at <a href="http://phish.test/x">'
            'https://www.bank.test/login</a></p>\r\n')
    lua.send(body, subject="bank",
             headers=["Content-Type: text/html; charset=utf-8"])
    lua.srv.wait_log(r"rules=\"HTML_ONLY\(1\) HTML_LINK_MISMATCH\(3\)\"")


def test_sighup_loads_new_rules(lua):
    """A reload (SIGHUP) reads the scripts again: a rule added to one
    fires in the new workers."""
    write_script(lua.dir, "own.lua", OWN + """
facteur.rule {
  name = "NEWRULE", score = 6,
  check = function(msg) return msg:subject() == "newrule" end,
}
""")
    lua.srv.signal(signal.SIGHUP)
    lua.srv.wait_log(r"master: reloaded \(generation 2")
    # the old workers may still accept until they have closed their
    # listeners: wait until none of them is left
    lua.srv.wait_log(r"master: generation 1 retired")
    lua.send("new\r\n", subject="newrule")
    assert "tests=NEWRULE(6)" in lua.fetch("newrule")


def test_sighup_broken_script_keeps_rules(lua):
    """A reload with a syntax error in a script fails with the file and
    line; the running rules stay (GTUBE is still rejected). Last in the
    file: the script stays broken."""
    path = write_script(lua.dir, "own.lua", OWN + "\nfacteur.rule {\n")
    lua.srv.signal(signal.SIGHUP)
    lua.srv.wait_log(r"%s:\d+: .*expected" % re.escape(path))
    lua.srv.wait_log(r"reload failed: keeping the running configuration")
    with pytest.raises(smtplib.SMTPDataError) as e:
        lua.send("%s\r\n" % GTUBE)
    assert e.value.smtp_code == 550
    # (facteurctl would read the broken script too: the log tells)
    pattern = r"action=header score=6\.00 rules=\"SCORE6\(6\)\""
    n = len([l for l in lua.srv.log_lines() if re.search(pattern, l)])
    lua.send("after reload\r\n", subject="score6")
    lua.srv.wait_log(pattern, count=n + 1)
