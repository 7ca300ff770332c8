"""Who may send what to whom: no open relay, relaying for trusted
networks and authenticated users, virtual aliases, and the per-IP
limits on messages and connections.

Loopback is a trusted network by default; here trusted_networks is
127.0.0.1/32, so a client bound to 127.0.0.2 plays a stranger. Relayed
mail goes to the outbound queue, routed to a port where nobody listens:
it waits there, and nothing leaves the machine."""

import time

import pytest

from conftest import PASSWORD
from harness import b64, free_port, wait_for
from test_smtp_support import (ALICE, BOB, HOSTNAME, QUEUED,
                               message, module_server, queue_id, smtp_server,
                               trace_fields, unique, write_file)

# smtp_server is a fixture: pytest finds it in this module by its name
__all__ = ["smtp_server"]

STRANGER = "127.0.0.2"

ALIASES = """\
# virtual aliases, Postfix style
info@example.org        alice@example.org, bob@example.org
sales@example.org       info@example.org
boss@example.com        bob@example.org
@example.com            alice@example.org
loop1@example.org       loop2@example.org
loop2@example.org       loop1@example.org
postmaster@example.org  alice@example.org
fwd@example.org         someone@example.net
"""


@pytest.fixture(scope="module")
def mx(request, password_hash, tls_files):
    """One server for the file: only 127.0.0.1 trusted, example.com
    local too, the aliases above, and every remote domain routed to a
    closed port."""
    yield from module_server(
        request, password_hash, tls_files,
        files={"aliases": ALIASES},
        smtp="""
            local_domains example.org example.com;
            trusted_networks 127.0.0.1/32;
            aliases {dir}/aliases;
            route * 127.0.0.1:%d;
            queue_fsync no;
        """ % free_port())


def plain(user, password):
    return b64("\0%s\0%s" % (user, password))


def test_no_open_relay(mx):
    """A stranger cannot relay: a remote recipient is refused with 554
    5.7.1 (RFC 5321 7.1, RFC 2505), and the usual tricks (a source
    route, %-hack, a quoted @, an address literal) do not open a way;
    mail for local users is still taken."""
    with mx.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<spammer@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<victim@example.net>").startswith(
            "554 5.7.1 ")
        assert c.cmd("RCPT TO:<Victim@EXAMPLE.NET>").startswith(
            "554 5.7.1 ")
        assert c.cmd("RCPT TO:<@example.org:victim@example.net>") \
            .startswith("554 5.7.1 ")
        assert c.cmd("RCPT TO:<victim@[127.0.0.1]>").startswith(
            "554 5.7.1 ")
        assert c.cmd("RCPT TO:<victim%example.net@example.org>") \
            .startswith("550 5.1.1 ")
        assert c.cmd('RCPT TO:<"victim@example.net"@example.org>') \
            .startswith("550 5.1.1 ")
        assert c.cmd("RCPT TO:<victim@example.net@example.org>") \
            .startswith("501 ")
        assert c.cmd("DATA")[:4] in ("503 ", "554 ")
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
    assert "event=queued" not in mx.log()


def test_trusted_network_relays(mx):
    """A client from trusted_networks may relay: the remote recipient
    is taken and the message goes to the outbound queue (250)."""
    with mx.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<%s>" % ALICE) == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<friend@example.net>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(unique("relay"), to="friend@example.net") + b".\r\n")
        qid = queue_id(c.reply())
    mx.wait_log(r"event=queued id=%s rcpts=1" % qid)


def test_authenticated_user_relays(mx):
    """A stranger who logs in may relay on the smtp listener too."""
    with mx.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("AUTH PLAIN " + plain(ALICE, PASSWORD)) == \
            "235 2.7.0 Authentication successful"
        assert c.cmd("MAIL FROM:<%s>" % ALICE) == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<friend@example.net>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(unique("authrelay"), to="friend@example.net") +
               b".\r\n")
        qid = queue_id(c.reply())
    mx.wait_log(r"event=queued id=%s rcpts=1" % qid)


def test_alias_to_several(mx):
    """An alias with two targets delivers one copy to each, with the
    target in Delivered-To; an alias of that alias does the same."""
    for alias in ("info@example.org", "sales@example.org"):
        subject = unique("alias")
        with mx.client(source=STRANGER) as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
            assert c.cmd("RCPT TO:<%s>" % alias) == "250 2.1.5 Ok"
            assert c.cmd("DATA").startswith("354 ")
            c.send(message(subject, to=alias) + b".\r\n")
            assert QUEUED.match(c.reply())
        for user in (ALICE, BOB):
            got = mx.find(user, subject)
            assert len(got) == 1, (alias, user)
            fields, _ = trace_fields(got[0])
            assert fields["Delivered-To"] == user


def deliver_one(mx, rcpt, source=STRANGER):
    subject = unique("to-" + rcpt.split("@")[0])
    with mx.client(source=source) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<%s>" % rcpt) == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(subject, to=rcpt) + b".\r\n")
        assert QUEUED.match(c.reply())
    return subject


def test_catch_all_and_exact_alias(mx):
    """"@example.com" catches every address of the domain; an exact
    alias of the domain wins over it."""
    anyone = deliver_one(mx, "whoever@example.com")
    assert len(mx.find(ALICE, anyone)) == 1
    assert mx.find(BOB, anyone) == []
    boss = deliver_one(mx, "boss@example.com")
    assert len(mx.find(BOB, boss)) == 1
    assert mx.find(ALICE, boss) == []


def test_postmaster_without_domain(mx):
    """<Postmaster> without a domain (RFC 5321 4.5.1) is the
    postmaster of the first local domain, here an alias of alice."""
    subject = deliver_one(mx, "Postmaster")
    got = mx.find(ALICE, subject)
    assert len(got) == 1


def test_alias_loop_ends(mx):
    """Aliases that point at each other do not hang or crash the
    server: the RCPT is answered at once with a refusal (there is no
    mailbox at the end of a loop) and the session goes on."""
    with mx.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        t0 = time.monotonic()
        reply = c.cmd("RCPT TO:<loop1@example.org>")
        assert time.monotonic() - t0 < 2
        assert reply[0] in "45", reply
        assert c.cmd("RCPT TO:<%s>" % ALICE) == "250 2.1.5 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"


def test_alias_forwarding_away(mx):
    """An alias whose target is elsewhere is taken from anyone (it is
    our address) and the message is queued for the target."""
    with mx.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<fwd@example.org>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.send(message(unique("fwd"), to="fwd@example.org") + b".\r\n")
        qid = queue_id(c.reply())
    mx.wait_log(r"event=queued id=%s rcpts=1" % qid)


def test_aliases_read_again(mx):
    """The aliases file is read again when it changes: a new alias
    works without a reload. (Last in the file: it rewrites the file.)"""
    with mx.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<newcomer@example.org>").startswith("550 ")
    time.sleep(0.05)
    write_file(mx.dir, "aliases",
               ALIASES + "newcomer@example.org bob@example.org\n")
    subject = deliver_one(mx, "newcomer@example.org")
    assert len(mx.find(BOB, subject)) == 1


def test_message_rate_limit(smtp_server):
    """max_message_rate 3 per rate_window 1m counts MAIL commands per
    client IP across connections: the fourth gets 421 4.7.0 with the
    host name and the connection closes; another IP is not affected."""
    srv = smtp_server(smtp="max_message_rate 3;\nrate_window 1m;")
    with srv.client() as c:
        c.ehlo()
        for _ in range(2):
            assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
            assert c.cmd("RSET") == "250 2.0.0 Ok"
    with srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
        assert c.cmd("RSET") == "250 2.0.0 Ok"
        assert c.cmd("MAIL FROM:<a@example.net>").startswith(
            "421 4.7.0 %s " % HOSTNAME)
        assert c.expect_closed() == []
    with srv.client() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>").startswith("421 4.7.0 ")
    with srv.client(source=STRANGER) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@example.net>") == "250 2.1.0 Ok"
    srv.wait_log(r"event=mail result=limited client=127\.0\.0\.1")


def test_connections_per_ip(smtp_server):
    """max_connections_per_ip 2: a third connection from the same IP
    gets the busy reply (421 4.7.0 with the host name, RFC 5321 4.2) and
    is closed; another IP is served; when one of the two leaves, the IP
    may connect again."""
    srv = smtp_server(smtp="max_connections_per_ip 2;")
    first, second = srv.client(), srv.client()
    try:
        with srv.client(greet=False) as third:
            assert third.reply().startswith("421 4.7.0 %s " % HOSTNAME)
            assert third.expect_closed() == []
        with srv.client(source=STRANGER) as other:
            other.ehlo()
        first.cmd("QUIT")
        first.close()

        def greeted():
            with srv.client(greet=False) as c:
                return c.reply().startswith("220 ")
        wait_for(greeted, 5, what="a slot for 127.0.0.1")
    finally:
        first.close()
        second.close()
