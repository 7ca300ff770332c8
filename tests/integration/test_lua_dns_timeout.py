"""A DNS server that never answers: the DNSBL rule waits dns_timeout,
gets no answer, does not hit, and the mail flows."""

import socket
import time

import pytest

from test_lua_support import SPAM, lua_server


@pytest.fixture(scope="module")
def silent_dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


@pytest.fixture(scope="module")
def lua(request, password_hash, silent_dns):
    yield from lua_server(request, password_hash, [
        "scripts %s/dnsbl.lua;" % SPAM,
        "set dnsbl_zones bl.test;",
        "set dnsbl_check_private yes;",
        "header_score 0;",
        "dns_timeout 300ms;",
    ], top={"dns_servers": "127.0.0.1:%d" % silent_dns.getsockname()[1]})


def test_no_answer_mail_flows(lua, silent_dns):
    """The query reaches the silent server; the greeting waits for the
    DNSBL rule about dns_timeout, then the message is delivered with no
    hit (header_score 0 shows the headers)."""
    t0 = time.monotonic()
    assert lua.send("hello\r\n", subject="silent") == {}
    elapsed = time.monotonic() - t0
    silent_dns.settimeout(1)
    assert silent_dns.recv(512)          # the query came
    text = lua.fetch("silent")
    assert "X-Spam-Score: 0.00" in text
    assert 0.25 < elapsed < 5, elapsed
    lua.srv.wait_log(r"action=header score=0\.00 rules=\"\"")
