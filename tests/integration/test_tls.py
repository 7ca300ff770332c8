"""TLS: implicit-TLS listeners, STARTTLS, the plaintext-injection rule
(RFC 3207 section 5), protocol versions and the TLS command."""

import socket
import ssl
import time

import pytest

from harness import (Client, ConnectionClosed, client_tls_context,
                     free_port, tls_client, wait_for)


def tls_settings(tls_files, extra=""):
    cert, key = tls_files
    return "tls_certificate %s;\ntls_key %s;\n%s" % (cert, key, extra)


@pytest.fixture
def tls_server(facteurd, tls_files):
    """echo with a plain listener (STARTTLS) and an implicit-TLS one."""
    port = free_port()
    tls_port = free_port()
    while tls_port == port:
        tls_port = free_port()
    srv = facteurd(echo=tls_settings(tls_files), port=port,
                   listen=["127.0.0.1:%d" % port,
                           "127.0.0.1:%d tls" % tls_port])
    srv.tls_port = tls_port
    return srv


def legacy_context(max_version):
    """A client context limited to old protocol versions, with OpenSSL's
    security level lowered so that it really offers them."""
    ctx = client_tls_context(min_version=ssl.TLSVersion.MINIMUM_SUPPORTED,
                             max_version=max_version)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def handshake_fails(port, ctx):
    """True when the server refuses the handshake."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.recv(100)
        return False
    except (ssl.SSLError, ConnectionResetError):
        return True
    finally:
        raw.close()


def test_implicit_tls_listener(tls_server):
    """On a `listen ... tls` address the handshake comes first, then the
    greeting; the session works and the TLS command reports what the
    client negotiated."""
    with tls_client(tls_server.tls_port) as c:
        c.greeting()
        assert c.cmd("ECHO secret") == "OK secret"
        version = c.sock.version()
        cipher = c.sock.cipher()[0]
        assert c.cmd("TLS") == "OK %s %s" % (version, cipher)
        assert c.cmd("STARTTLS") == "NO TLS not available"
        assert c.cmd("QUIT") == "OK bye"
    tls_server.wait_log(r"event=connect .* tls=implicit")


def test_plaintext_client_on_tls_listener(tls_server):
    """A client speaking plaintext to the implicit-TLS port gets no
    greeting and is disconnected; the server carries on."""
    with Client(tls_server.tls_port) as c:
        c.send("ECHO hello\r\n")
        assert c.expect_closed(timeout=10) == []
    with tls_client(tls_server.tls_port) as c:
        c.greeting()


def test_starttls(tls_server):
    """STARTTLS answers, then the same connection continues under TLS;
    before it, TLS reports none."""
    with tls_server.client() as c:
        c.greeting()
        assert c.cmd("TLS") == "OK none "
        c.starttls()
        assert c.cmd("TLS") == "OK %s %s" % (c.sock.version(),
                                             c.sock.cipher()[0])
        assert c.cmd("ECHO inside") == "OK inside"
        assert c.cmd("STARTTLS") == "NO TLS not available"
        assert c.cmd("ECHO still") == "OK still"


def test_starttls_without_certificate(server):
    """Without a certificate STARTTLS is refused and the session goes
    on in plaintext."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("STARTTLS") == "NO TLS not available"
        assert c.cmd("ECHO plain") == "OK plain"


def test_starttls_drops_pipelined_plaintext(tls_server):
    """Plaintext pipelined after STARTTLS in the same write is thrown
    away: after the handshake, the first answer is to a new command,
    never "OK injected"."""
    with tls_server.client() as c:
        c.greeting()
        c.send("STARTTLS\r\nECHO injected\r\n")
        assert c.readline() == "OK begin TLS"
        c.starttls(send_command=False)
        assert c.cmd("ECHO fresh") == "OK fresh"
        c.send("ECHO again\r\n")
        assert c.readline() == "OK again"


def test_starttls_pipelined_in_separate_segments(tls_server):
    """Plaintext that arrives just after STARTTLS, before the client's
    handshake, is dropped too (or breaks the handshake), never run."""
    with tls_server.client() as c:
        c.greeting()
        c.send("STARTTLS\r\n")
        time.sleep(0.05)
        c.send("ECHO injected\r\n")
        assert c.readline() == "OK begin TLS"
        try:
            c.starttls(send_command=False)
        except (ssl.SSLError, ConnectionResetError):
            return
        assert c.cmd("ECHO fresh") == "OK fresh"


def test_tls13_works(tls_server):
    """A TLS 1.3-only client connects and TLS reports TLSv1.3."""
    ctx = client_tls_context(min_version=ssl.TLSVersion.TLSv1_3)
    with tls_client(tls_server.tls_port, context=ctx) as c:
        c.greeting()
        assert c.cmd("TLS").startswith("OK TLSv1.3 TLS_")


def test_tls12_works_by_default(tls_server):
    """A TLS 1.2-only client connects with the default tls_min_version
    and gets a forward-secret AEAD cipher."""
    ctx = client_tls_context(max_version=ssl.TLSVersion.TLSv1_2)
    with tls_client(tls_server.tls_port, context=ctx) as c:
        c.greeting()
        answer = c.cmd("TLS")
        assert answer.startswith("OK TLSv1.2 ECDHE-"), answer
        assert "GCM" in answer or "CHACHA20" in answer, answer


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls11_refused(tls_server):
    """A client that offers at most TLS 1.1 is refused, on the implicit
    listener and through STARTTLS, and the server logs why."""
    assert handshake_fails(tls_server.tls_port,
                           legacy_context(ssl.TLSVersion.TLSv1_1))
    with tls_server.client() as c:
        c.greeting()
        assert c.cmd("STARTTLS") == "OK begin TLS"
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            c.starttls(legacy_context(ssl.TLSVersion.TLSv1_1),
                       send_command=False)
    tls_server.wait_log(r"event=disconnect reason=\".*"
                        r"(unsupported protocol|version)", count=2)
    with tls_client(tls_server.tls_port) as c:
        c.greeting()


def test_tls_min_version_13(facteurd, tls_files):
    """With tls_min_version TLSv1.3 a TLS 1.2-only client is refused and
    a TLS 1.3 client is served."""
    port, tls_port = free_port(), free_port()
    srv = facteurd(echo=tls_settings(tls_files, "tls_min_version TLSv1.3;"),
                   listen=["127.0.0.1:%d" % port,
                           "127.0.0.1:%d tls" % tls_port], port=port)
    assert handshake_fails(tls_port, client_tls_context(
        max_version=ssl.TLSVersion.TLSv1_2))
    srv.wait_log(r"event=disconnect reason=\".*"
                 r"(unsupported protocol|version)")
    with tls_client(tls_port) as c:
        c.greeting()
        assert c.cmd("TLS").startswith("OK TLSv1.3 ")
    with srv.client() as c:
        c.greeting()
        c.starttls(client_tls_context(max_version=ssl.TLSVersion.TLSv1_3))
        assert c.cmd("TLS").startswith("OK TLSv1.3 ")


def test_close_before_handshake_frees_slot(facteurd, tls_files):
    """Clients that connect to the implicit-TLS port and close without a
    handshake (or in the middle of one) are let go at once: their
    sessions end and do not hold max_connections_per_ip slots."""
    port, tls_port = free_port(), free_port()
    srv = facteurd(echo=tls_settings(tls_files,
                                     "max_connections_per_ip 3;"),
                   listen=["127.0.0.1:%d" % port,
                           "127.0.0.1:%d tls" % tls_port], port=port)
    srv.wait_log(r"event=disconnect")      # the start-up probe's
    for i in range(3):
        raw = socket.create_connection(("127.0.0.1", tls_port))
        if i % 2:
            raw.send(b"\x16\x03\x01")
        raw.close()
        srv.wait_log(r"event=connect .* tls=implicit", count=i + 1)
    t0 = time.monotonic()

    def served():
        try:
            with tls_client(tls_port, timeout=2) as c:
                c.greeting()
                return True
        except (OSError, ssl.SSLError, ConnectionClosed):
            return False
    wait_for(served, 15, interval=0.2, what="a TLS client to be served")
    took = time.monotonic() - t0
    assert took < 2, "slots of gone clients were held %.1fs" % took


def test_tls_handshake_garbage(tls_server):
    """Garbage instead of a ClientHello ends that connection only."""
    with Client(tls_server.tls_port) as c:
        c.send(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 100)
        c.expect_closed(timeout=10)
    with tls_client(tls_server.tls_port) as c:
        c.greeting()
        assert c.cmd("ECHO ok") == "OK ok"


def test_big_output_over_tls(tls_server):
    """A long answer streams through TLS complete and in order."""
    with tls_client(tls_server.tls_port, timeout=60) as c:
        c.greeting()
        c.send("BIG 20000\r\nECHO after\r\n")
        for i in range(1, 20001):
            line = c.readline()
            assert line.startswith("* %d " % i), line
        assert c.readline() == "OK big done"
        assert c.readline() == "OK after"


def abrupt_close_during_big(srv, client):
    """Starts a long answer, reads a little, drops the connection; the
    session must end within 5 s and the worker keep serving."""
    worker = srv.wait_workers(1)[0]
    client.greeting()
    client.send("BIG 100000\r\n")
    client.sock.recv(1000)
    client.sock.close()
    srv.wait_log(r"event=disconnect .*duration=\d+ms in=12$", timeout=5)
    assert srv.wait_workers(1)[0] == worker


def test_plain_client_abrupt_close(tls_server):
    """A plaintext client that drops the connection while a long answer
    streams to it ends its session at once."""
    abrupt_close_during_big(tls_server, tls_server.client())
    with tls_server.client() as c:
        c.greeting()


def test_tls_client_abrupt_close(tls_server):
    """The same over TLS: a client that drops the TCP connection while
    a long answer streams to it ends its session at once, as over
    plaintext (not when the write timeout or shutdown comes)."""
    abrupt_close_during_big(tls_server, tls_client(tls_server.tls_port))
    with tls_client(tls_server.tls_port) as c:
        c.greeting()
        assert c.cmd("ECHO ok") == "OK ok"
