"""The POP3 module's options, on one server that sets them all:
plaintext_auth no (passwords only under TLS, even on loopback),
deleted_flag (DELE hides instead of expunging), seen_on_retr no,
uidl_format guid, expire and login_delay (advertised, and the delay
enforced); and a bad expire refused at start-up."""

import base64
import os
import time

import pytest

from conftest import PASSWORD
from harness import client_tls_context, free_port, run_facteurd
from test_pop3_support import (message, module_pop3_server, pop3_config,
                               pop3s_client)

OPTIONS = """
plaintext_auth no;
deleted_flag $POP3Deleted;
seen_on_retr no;
uidl_format guid;
expire 30;
login_delay 1s;
"""
DELAY = 1.0


@pytest.fixture(scope="module")
def pop3(request, password_hash, tls_files):
    yield from module_pop3_server(request, password_hash, tls_files,
                                  pop3=OPTIONS)


def capa(c):
    assert c.cmd("CAPA") == "+OK Capability list follows"
    return c.lines()


def tls_login(pop3, user):
    c = pop3s_client(pop3.pop3s_port)
    c.greet()
    c.login(user, PASSWORD)
    return c


def test_passwords_need_tls(pop3):
    """With plaintext_auth no, CAPA on the plain port offers STLS but
    neither USER nor SASL, and USER, PASS and AUTH are refused with
    [AUTH] before any name is looked at; after STLS all is offered and
    the login works. EXPIRE and LOGIN-DELAY are advertised."""
    user = pop3.user()
    refused = ("-ERR [AUTH] Plaintext authentication is not allowed "
               "without TLS: use STLS first")
    with pop3.client() as c:
        caps = capa(c)
        assert "STLS" in caps and "EXPIRE 30" in caps
        assert "LOGIN-DELAY 1" in caps
        assert not any(l.startswith(("USER", "SASL")) for l in caps), caps
        assert c.cmd("USER " + user) == refused
        assert c.cmd("PASS " + PASSWORD) == refused
        plain = base64.b64encode(b"\0%s\0%s" % (
            user.encode(), PASSWORD.encode())).decode()
        assert c.cmd("AUTH PLAIN " + plain) == refused
        assert c.cmd("STLS") == "+OK Begin TLS negotiation now"
        c.sock = client_tls_context().wrap_socket(
            c.sock, server_hostname="localhost")
        caps = capa(c)
        assert "USER" in caps and "SASL PLAIN LOGIN" in caps
        assert c.cmd("AUTH PLAIN " + plain).startswith("+OK Logged in")
        assert c.cmd("QUIT") == "+OK Bye"
    assert not any("auth result=fail" in l for l in pop3.log().splitlines())


def test_login_delay(pop3):
    """A second login within login_delay gets -ERR [LOGIN-DELAY]; after
    it, the login works."""
    user = pop3.user()
    c = tls_login(pop3, user)
    assert c.cmd("QUIT") == "+OK Bye"
    c.close()
    with pop3s_client(pop3.pop3s_port) as c:
        c.greet()
        assert c.cmd("USER " + user) == "+OK"
        assert c.cmd("PASS " + PASSWORD) == \
            "-ERR [LOGIN-DELAY] Logged in too recently, try again later"
        time.sleep(DELAY + 0.1)
        c.login(user, PASSWORD)
        assert c.cmd("QUIT") == "+OK Bye"


def test_deleted_flag_hides_instead_of_expunging(pop3):
    """DELE then QUIT gives the message the deleted_flag keyword; it
    stays in the store (IMAP still sees it) but POP3 no longer shows
    it. RETR leaves \\Seen alone (seen_on_retr no)."""
    user = pop3.user()
    pop3.deliver(user, message("keep"), message("hide"), message("keep2"))
    c = tls_login(pop3, user)
    assert c.cmd("RETR 1").startswith("+OK")
    c.body()
    assert c.cmd("DELE 2").startswith("+OK")
    assert c.cmd("QUIT") == "+OK Bye, deleted 1"
    c.close()
    flags = [m[1] for m in pop3.messages(user)]
    assert flags == ["()", "($POP3Deleted)", "()"], flags
    time.sleep(DELAY + 0.1)
    c = tls_login(pop3, user)
    assert c.cmd("STAT").startswith("+OK 2 ")
    assert c.cmd("TOP 2 0") == "+OK"
    assert b"Subject: keep2" in c.body()
    assert c.cmd("QUIT") == "+OK Bye"
    c.close()


def test_uidl_guid(pop3):
    """uidl_format guid: UIDL shows the store's GUIDs."""
    user = pop3.user()
    pop3.deliver(user, message("g1"), message("g2"))
    guids = [m[3] for m in pop3.messages(user)]
    assert all(guids)
    c = tls_login(pop3, user)
    assert c.cmd("UIDL") == "+OK"
    assert c.lines() == ["1 %s" % guids[0], "2 %s" % guids[1]]
    c.cmd("QUIT")
    c.close()


@pytest.mark.parametrize("value, ok", [("NEVER", True), ("0", True),
                                       ("soon", False), ("-1", False)])
def test_expire_values(test_dir, tls_files, value, ok):
    """expire takes NEVER or a number of days; anything else stops
    start-up with a clear line."""
    ports = {"pop3": free_port(), "pop3s": free_port()}
    with open(os.path.join(test_dir, "passwd"), "w") as f:
        f.write("")
    text = pop3_config(test_dir, ports, "expire %s;" % value,
                       tls_files=tls_files)
    path = os.path.join(test_dir, "facteurd.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run_facteurd(["-t", "-c", path])
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1
        assert "expire takes NEVER or a number of days" in r.stderr
