"""facteur.kv shared through PostgreSQL (`kv shared;` with the pgsql
module): two facteurd nodes on one database see the same counters, so a
client greylisted by one node is let in when it retries on the other; a
counter incremented on both nodes counts once per message, whichever
node took it; a database that is down makes kv calls misses, logged,
and mail still flows.

One private PostgreSQL for the file (test_pgsql.py's cluster), one
database, the schema migrated once; each node keeps its mail in maildir.
Skipped when PostgreSQL or the module is missing."""

import os
import re
import shutil
import smtplib
import time

import pytest

from harness import Facteurd, make_test_dir, free_port, wait_for
from test_lua_support import SPAM, LuaServer, config, write_script
from test_pgsql import Cluster, have_pgsql

pytestmark = pytest.mark.skipif(not have_pgsql(),
                                reason="no PostgreSQL or no pgsql module")

OWN = r"""
-- a sender counted by the shared store, then let through: the count is
-- logged, nil when the store failed
facteur.rule {
  name = "COUNTED", stage = "mail", score = 0,
  check = function(msg)
    if msg:sender() ~= "counted@sender.test" then return false end
    local n = facteur.kv.incr("count:" .. msg:sender(), 60)
    facteur.log("info", "kv-count=" .. tostring(n) .. " typed=" ..
      tostring(facteur.kv.set("typed", 1.5) and
        facteur.kv.get("typed") == 1.5 and
        facteur.kv.set("typed", "x\0y%") and
        facteur.kv.get("typed") == "x\0y%" and
        facteur.kv.set("typed", false) and
        facteur.kv.get("typed") == false))
    msg:force("accept")
    return true
  end,
}
"""


@pytest.fixture(scope="module")
def nodes(request, password_hash):
    base = make_test_dir("facteur-lua-pgsql-")
    cluster = Cluster(os.path.join(base, "pg"))
    cluster.createdb("kv")
    conninfo = "host=%s port=%s dbname=kv user=facteur" % (cluster.host,
                                                           cluster.port)
    servers = []
    for name in ("a", "b"):
        d = os.path.join(base, name)
        os.makedirs(d)
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write("alice@example.org:%s\n" % password_hash)
        os.chmod(os.path.join(d, "passwd"), 0o644)
        write_script(d, "own.lua", OWN)
        port = free_port()
        text = config(d, port, [
            "scripts %s/own.lua %s/greylist.lua;" % (d, SPAM),
            "kv shared;",
            "set greylist_loopback yes;",
            "set greylist_delay 1;",
        ])
        text = text.replace(
            "load passwd-file maildir smtp lua;",
            "load passwd-file maildir smtp pgsql lua;\n"
            "pgsql {\n    connect \"%s\";\n    schema auto;\n"
            "    reconnect_max 500ms;\n}" % conninfo)
        srv = Facteurd(d, text, port=port)
        srv.start()
        servers.append(LuaServer(srv, d, port))
    yield cluster, servers
    for s in servers:
        s.srv.stop()
        bad = s.srv.bad_log_lines()
        assert not bad, "\n".join(bad[:20])
    cluster.stop()
    failed = any(getattr(item, "rep_call", None) is not None and
                 item.rep_call.failed for item in request.session.items)
    if not failed:
        shutil.rmtree(base, ignore_errors=True)


def rcpt(node, sender):
    with node.smtp() as s:
        assert s.mail(sender)[0] == 250
        return s.rcpt("alice@example.org")


def test_greylist_retry_on_the_other_node(nodes):
    """Greylisted on node a; retried early on node b: still refused (b
    sees a's triplet); retried on b after the delay: accepted and
    delivered there."""
    cluster, (a, b) = nodes
    code, text = rcpt(a, "grey@sender.test")
    assert code == 451, text
    code, _ = rcpt(b, "grey@sender.test")
    assert code == 451
    time.sleep(1.1)
    before = len(b.messages())
    assert b.send("hello\r\n", sender="grey@sender.test") == {}
    assert len(b.messages()) == before + 1
    rows = cluster.psql("kv", "SELECT count(*) FROM kv "
                        "WHERE key LIKE 'greylist%'")
    assert int(rows) >= 2, rows


def test_counter_shared(nodes):
    """A counter incremented on a, then b, then a: 1, 2, 3; strings
    (with a NUL and %), numbers and booleans keep their type."""
    cluster, (a, b) = nodes
    for n, node in ((1, a), (2, b), (3, a)):
        assert node.send("n\r\n", sender="counted@sender.test") == {}
        node.srv.wait_log(r"kv-count=%d typed=true" % n)


def test_database_down_is_a_miss(nodes):
    """With PostgreSQL stopped the counter is nil, a warning says the
    shared store failed, and the message is delivered all the same; the
    count goes on when the database is back."""
    cluster, (a, b) = nodes
    before = len(a.messages())
    cluster.halt()
    try:
        # (facteurctl, which reads the mailbox, needs the database too:
        # the delivery is checked once it is back)
        assert a.send("down\r\n", subject="down",
                      sender="counted@sender.test") == {}
        a.srv.wait_log(r"kv-count=nil typed=false")
        a.srv.wait_log(r"facteur\.kv\.\w+: the shared store failed: .*"
                       r"\(taken as a miss\)")
    finally:
        cluster.resume()
    wait_for(lambda: a.ctl("db", "version").returncode == 0, 15,
             what="facteurctl reaching the database again")
    assert len(a.messages()) == before + 1

    def counted():
        a.send("up\r\n", sender="counted@sender.test")
        return any(re.search(r"kv-count=[4-9] typed=true", l)
                   for l in a.srv.log_lines())
    wait_for(counted, 15, what="the count after the restart")
