"""Greylisting and rate limits with the shipped scripts: an unknown
(network, sender, recipient) triplet is refused for now at RCPT and let
in when retried after greylist_delay; its network then passes at once.
A sender over its rate limit is refused for now at MAIL."""

import smtplib
import time

import pytest

from test_lua_support import SPAM, lua_server


@pytest.fixture(scope="module")
def lua(request, password_hash):
    yield from lua_server(request, password_hash, [
        "scripts %s/greylist.lua %s/ratelimit.lua;" % (SPAM, SPAM),
        "set greylist_loopback yes;",
        "set greylist_delay 1;",
        "set ratelimit_sender 3;",
    ])


def rcpt(lua, sender, rcpt="alice@example.org"):
    with lua.smtp() as s:
        assert s.mail(sender)[0] == 250
        return s.rcpt(rcpt)


def test_greylisted_then_accepted_after_delay(lua):
    """First try: 451 with the delay; an early retry: 451 again; after
    the delay: accepted and delivered. Then another sender from the same
    network passes at once (auto-whitelist)."""
    code, text = rcpt(lua, "grey@sender.test")
    assert code == 451, text
    assert text.startswith(b"4.7.1 Greylisted: try again in 1 seconds")
    code, _ = rcpt(lua, "grey@sender.test")
    assert code == 451
    time.sleep(1.1)
    before = len(lua.messages())
    assert lua.send("hello\r\n", sender="grey@sender.test") == {}
    assert len(lua.messages()) == before + 1
    lua.srv.wait_log(r"event=filter stage=rcpt action=greylist "
                     r"rules=\"GREYLIST\(0\)\"", count=2)
    assert lua.send("other\r\n", sender="new@elsewhere.test") == {}


def test_rate_limit_per_sender(lua):
    """The fourth message of a sender within the window is refused for
    now at MAIL; another sender still passes."""
    for i in range(3):
        assert lua.send("n%d\r\n" % i, sender="busy@sender.test") == {}
    with lua.smtp() as s:
        code, text = s.mail("busy@sender.test")
    assert code == 451, text
    assert b"Too many messages from this sender" in text
    assert lua.send("calm\r\n", sender="calm@sender.test") == {}
