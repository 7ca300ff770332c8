"""DNS block lists from Lua rules against dnsmasq on loopback: the
client's address on a DNSBL (stage connect) and a link's domain on a
URIBL (end of data), plus a TXT lookup; the rules wait for the answers
without blocking the worker, and the scores add up to the Junk folder."""

import os
import shutil
import subprocess

import pytest

import harness
from harness import free_port, make_test_dir, wait_for
from test_lua_support import SPAM, lua_server

OWN = r"""
facteur.rule {
  name = "TXT_HELLO", score = 0.25,
  check = function(msg)
    local t, why = facteur.dns.txt("txt.test")
    return t ~= nil and t[1] == "hello world"
  end,
}
facteur.rule {
  name = "DNS_KINDS", score = 0.125,
  check = function(msg)
    local mx = facteur.dns.mx("mx.test")
    local ptr = facteur.dns.ptr("127.0.0.1")
    local v6 = facteur.dns.aaaa("v6.test")
    return msg:hostname() == "client.test"
      and mx ~= nil and mx[1] == "mail1.test" and mx[2] == "mail2.test"
      and ptr ~= nil and ptr[1] == "client.test"
      and v6 ~= nil and v6[1] == "2001:db8::25"
  end,
}
facteur.rule {
  name = "A_MISSING", score = 0.5,
  check = function(msg)
    local t, why = facteur.dns.a("missing.test")
    return t == nil and why == "nxdomain"
  end,
}
"""


def dns_answers(port):
    import socket
    query = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x05probe\x04test\x00\x00\x01\x00\x01")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        s.sendto(query, ("127.0.0.1", port))
        return s.recv(512)[:2] == b"\x12\x34"
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture(scope="module")
def dnsmasq():
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.access(exe, os.X_OK):
        pytest.skip("dnsmasq is not installed (dnsmasq-base)")
    d = make_test_dir("facteur-dnsmasq-")
    port = free_port()
    log = open(os.path.join(d, "dnsmasq.log"), "ab")
    p = subprocess.Popen(
        [exe, "--keep-in-foreground", "--conf-file=/dev/null",
         "--port=%d" % port, "--listen-address=127.0.0.1",
         "--bind-interfaces", "--no-resolv", "--no-hosts",
         "--local=/test/", "--pid-file=%s" % os.path.join(d, "pid"),
         "--address=/1.0.0.127.bl.test/127.0.0.2",
         "--address=/bad.test.uribl.test/127.0.0.2",
         "--txt-record=txt.test,hello world",
         "--mx-host=mx.test,mail2.test,20", "--mx-host=mx.test,mail1.test,10",
         "--ptr-record=1.0.0.127.in-addr.arpa,client.test",
         "--address=/v6.test/2001:db8::25",
         "--address=/client.test/127.0.0.1"],
        stdout=log, stderr=log)
    wait_for(lambda: dns_answers(port), 10, what="dnsmasq to answer")
    yield port
    p.terminate()
    p.wait(10)
    log.close()
    harness.cleanup_dir(d)


@pytest.fixture(scope="module")
def lua(request, password_hash, dnsmasq):
    yield from lua_server(request, password_hash, [
        "scripts %s/dnsbl.lua @DIR@/own.lua;" % SPAM,
        "set dnsbl_zones bl.test bl2.test;",
        "set uribl_zones uribl.test;",
        "set dnsbl_check_private yes;",
        "dns_timeout 3s;",
    ], top={"dns_servers": "127.0.0.1:%d" % dnsmasq},
        scripts={"own.lua": OWN})


def test_dnsbl_and_uribl_to_junk(lua):
    """127.0.0.1 is listed in bl.test (not in bl2.test), bad.test in
    uribl.test (good.test nowhere): 5 + 4 = 9 goes to Junk with both
    rules in X-Spam-Status; the TXT and NXDOMAIN answers reach the
    rules too, and MX (by preference), PTR and AAAA answers, and the
    client's forward-confirmed name (msg:hostname())."""
    body = ("see http://bad.test/offer and https://good.test/\r\n")
    assert lua.send(body, subject="links") == {}
    text = lua.fetch("links", "Junk")
    assert ("tests=RCVD_IN_DNSBL(5) URIBL(4) TXT_HELLO(0.25) "
            "DNS_KINDS(0.125) A_MISSING(0.5)") in text, text
    lua.srv.wait_log(r"action=junk score=9\.88 rules=\"RCVD_IN_DNSBL\(5\) "
                     r"URIBL\(4\) TXT_HELLO\(0\.25\) DNS_KINDS\(0\.125\) "
                     r"A_MISSING\(0\.5\)\"")


def test_clean_links(lua):
    """Without a listed link only the DNSBL hit counts: INBOX with the
    headers (5.875 is above header_score 5)."""
    assert lua.send("see https://good.test/\r\n", subject="clean") == {}
    text = lua.fetch("clean")
    assert "X-Spam-Score: 5.88" in text
