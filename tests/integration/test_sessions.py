"""Sessions through the echo module: line framing, pipelining, limits
on lines and errors, timeouts, back-pressure on long output, and the
exact-byte and dot-terminated input modes."""

import os
import re
import select
import socket
import threading
import time

import pytest

from harness import ConnectionClosed, fnv1a64, open_fds, rss_kb

# Under AddressSanitizer freed memory sits in a quarantine (256 MB by
# default) before it is reused, which would make RSS follow the bytes
# that passed through rather than what is held. RSS tests shrink it.
SMALL_QUARANTINE = {"ASAN_OPTIONS": ":".join(
    o for o in (os.environ.get("ASAN_OPTIONS", ""),
                "quarantine_size_mb=1") if o)}


def only_worker(srv):
    return srv.wait_workers(1)[0]


def test_greeting(server):
    """A client is greeted with OK, the greeting text and the host name."""
    with server.client() as c:
        line = c.readline()
        assert re.match(r"OK echo ready \S+$", line), line


def test_greeting_directive(facteurd):
    """The echo block's greeting directive changes the greeting, and
    hostname changes the announced name."""
    srv = facteurd(settings={"hostname": "mx.example.org"},
                   echo='greeting "hello there";')
    with srv.client() as c:
        assert c.readline() == "OK hello there mx.example.org"


def test_echo_and_quit(server):
    """ECHO answers its argument; QUIT answers and closes."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("ECHO hello world") == "OK hello world"
        assert c.cmd("echo  two  spaces ") == "OK  two  spaces "
        assert c.cmd("ECHO") == "OK "
        assert c.cmd("QUIT") == "OK bye"
        assert c.expect_closed() == []


def test_bare_lf_line_end(server):
    """A line ended by a bare LF is a line too."""
    with server.client() as c:
        c.greeting()
        c.send("ECHO lf only\n")
        assert c.readline() == "OK lf only"


PIPELINE = b"ECHO one\r\nECHO two\r\nBIG 2\r\nECHO three\r\n"
PIPELINE_ANSWERS = [
    "OK one", "OK two",
    "* 1 the quick brown fox jumps over the lazy dog, again and again "
    "and again",
    "* 2 the quick brown fox jumps over the lazy dog, again and again "
    "and again",
    "OK big done", "OK three",
]


def test_pipelined_in_one_write(server):
    """Several commands in one write are all answered, in order."""
    with server.client() as c:
        c.greeting()
        c.send(PIPELINE)
        assert [c.readline() for _ in PIPELINE_ANSWERS] == PIPELINE_ANSWERS


def test_pipelined_split_at_every_byte(server):
    """The same commands split in two writes at every byte boundary get
    the same answers: framing does not depend on how TCP cuts input."""
    with server.client() as c:
        c.greeting()
        for i in range(1, len(PIPELINE)):
            c.send(PIPELINE[:i])
            time.sleep(0.003)
            c.send(PIPELINE[i:])
            got = [c.readline() for _ in PIPELINE_ANSWERS]
            assert got == PIPELINE_ANSWERS, "split at %d" % i
        assert c.cmd("ECHO done") == "OK done"


def test_one_byte_at_a_time(server):
    """Commands sent one byte per write are framed correctly."""
    with server.client() as c:
        c.greeting()
        for b in PIPELINE:
            c.send(bytes([b]))
        assert [c.readline() for _ in PIPELINE_ANSWERS] == PIPELINE_ANSWERS


def test_long_line_refused_and_memory_bounded(facteurd):
    """A 1 MB line is answered "BAD line too long" and the session keeps
    working; a 32 MB line too, while the worker's RSS stays far below
    the line's size (the line is skipped, never buffered)."""
    srv = facteurd(env=SMALL_QUARANTINE)
    worker = only_worker(srv)
    with srv.client(timeout=30) as c:
        c.greeting()
        c.send(b"ECHO " + b"x" * (1024 * 1024) + b"\r\n")
        assert c.readline() == "BAD line too long"
        assert c.cmd("ECHO after") == "OK after"

        before = rss_kb(worker)
        peak = before
        chunk = b"y" * (1024 * 1024)
        c.send(b"ECHO ")
        for i in range(32):
            c.send(chunk)
            if i % 4 == 3:
                peak = max(peak, rss_kb(worker))
        c.send(b"\r\nECHO after again\r\n")
        assert c.readline() == "BAD line too long"
        assert c.readline() == "OK after again"
        peak = max(peak, rss_kb(worker))
    assert peak - before < 8 * 1024, \
        "worker RSS grew from %d kB to %d kB for a 32 MB line" % (before, peak)


def test_line_at_the_limit(facteurd):
    """A line of exactly max_line_length bytes is served; one byte more
    is too long."""
    srv = facteurd(echo="max_line_length 100;")
    with srv.client() as c:
        c.greeting()
        text = "z" * 95
        assert c.cmd("ECHO " + text) == "OK " + text
        assert c.cmd("ECHO " + text + "z") == "BAD line too long"
        assert c.cmd("ECHO ok") == "OK ok"


def test_client_cannot_forge_log_lines(server):
    """Control characters a client sends (here in a user name) reach the
    log escaped: no CR, LF or escape sequence from the client appears in
    it raw."""
    with server.client() as c:
        c.greeting()
        c.send(b"LOGIN ev\ril\x1b[2Jfacteurd[1]:\x08error:\x7f wrong\r\n")
        assert c.readline() == "NO [AUTH] authentication failed"
    server.wait_log(r"event=auth result=fail")
    with open(server.log_path, "rb") as f:
        raw = f.read()
    assert b"\r" not in raw and b"\x1b" not in raw and b"\x08" not in raw
    assert b"\x7f" not in raw
    lines = [l for l in raw.split(b"\n") if b"event=auth" in l]
    assert len(lines) == 1 and b"ev\\x0dil\\x1b[2J" in lines[0], lines


def test_nul_in_line(server):
    """A command line holding a NUL is refused (BAD) without confusing
    the framing: the next command works."""
    with server.client() as c:
        c.greeting()
        c.send(b"ECHO a\x00b\r\nECHO next\r\n")
        assert c.readline() == "BAD NUL in command"
        assert c.readline() == "OK next"


def test_max_errors_closes(facteurd):
    """Unknown commands are answered BAD; at max_errors the server says
    goodbye and closes the connection."""
    srv = facteurd(echo="max_errors 3;")
    with srv.client() as c:
        c.greeting()
        assert c.cmd("FOO") == "BAD unknown command"
        assert c.cmd("ECHO still here") == "OK still here"
        assert c.cmd("BAR") == "BAD unknown command"
        c.send("BAZ\r\nECHO never\r\n")
        assert c.readline() == "BAD unknown command"
        assert c.readline() == "BYE too many errors"
        assert c.expect_closed() == []


def expect_idle_bye(c, timeout_s):
    """Waits for "BYE idle timeout" and the close; returns the time
    they took."""
    t0 = time.monotonic()
    assert c.readline(timeout=timeout_s + 5) == "BYE idle timeout"
    elapsed = time.monotonic() - t0
    assert c.expect_closed() == []
    return elapsed


def test_idle_timeout_after_greeting(facteurd):
    """A client that connects and sends nothing is told "BYE idle
    timeout" and cut off after idle_timeout, not before."""
    srv = facteurd(echo="idle_timeout 1s;")
    with srv.client() as c:
        c.greeting()
        elapsed = expect_idle_bye(c, 1)
    assert 0.9 <= elapsed < 4, elapsed


def test_idle_timeout_after_command(facteurd):
    """A client that goes quiet after a command is cut off after
    idle_timeout."""
    srv = facteurd(echo="idle_timeout 1s;")
    with srv.client() as c:
        c.greeting()
        assert c.cmd("ECHO x") == "OK x"
        elapsed = expect_idle_bye(c, 1)
    assert 0.9 <= elapsed < 4, elapsed


def test_idle_timeout_partial_line(facteurd):
    """A client that stops in the middle of a line is cut off after
    idle_timeout too."""
    srv = facteurd(echo="idle_timeout 1s;")
    with srv.client() as c:
        c.greeting()
        assert c.cmd("ECHO x") == "OK x"
        c.send("ECHO never fini")
        elapsed = expect_idle_bye(c, 1)
    assert 0.9 <= elapsed < 4, elapsed


def test_activity_resets_idle_timeout(facteurd):
    """Commands completed within idle_timeout keep a session alive past
    it."""
    srv = facteurd(echo="idle_timeout 1s;")
    with srv.client() as c:
        c.greeting()
        for i in range(5):
            time.sleep(0.5)
            assert c.cmd("ECHO %d" % i) == "OK %d" % i


def test_drip_feeding_client_times_out(facteurd):
    """A client sending one byte per second never completes a line: it
    is cut off after idle_timeout even though bytes keep coming, while
    another client on the same worker is served promptly throughout."""
    srv = facteurd(echo="idle_timeout 2s;")
    drip = srv.client()
    other = srv.client()
    try:
        drip.greeting()
        other.greeting()
        # a first command, so that this test does not depend on the
        # deadline being armed at the greeting (tested above)
        assert drip.cmd("ECHO first") == "OK first"
        latencies = []
        t0 = time.monotonic()
        closed_at = None
        payload = b"ECHO this line never ends because it is dripped"
        for i, b in enumerate(payload):
            # anything from the server (its farewell, the close) ends
            # the drip; sending after it would reset the connection
            if select.select([drip.sock], [], [], 0)[0]:
                closed_at = time.monotonic() - t0
                break
            drip.send(bytes([b]))
            t1 = time.monotonic()
            assert other.cmd("ECHO %d" % i) == "OK %d" % i
            latencies.append(time.monotonic() - t1)
            if time.monotonic() - t0 > 8:
                break
            time.sleep(max(0, t0 + (i + 1) * 1.0 - time.monotonic()))
        assert closed_at is not None, \
            "the dripping client was still connected after %.0fs" % (
                time.monotonic() - t0)
        assert 1.5 < closed_at < 6, closed_at
        assert drip.expect_closed(timeout=2) == ["BYE idle timeout"]
        assert max(latencies) < 0.5, latencies
        assert other.cmd("ECHO still") == "OK still"
    finally:
        drip.close()
        other.close()


BIG_LINE = "* %d the quick brown fox jumps over the lazy dog, again and " \
           "again and again"


def test_big_output_with_slow_reader(facteurd):
    """BIG 200000 (about 15 MB) read slowly arrives complete and in
    order, and the worker's RSS stays bounded: the answer is produced as
    the socket drains, not built in memory."""
    srv = facteurd(env=SMALL_QUARANTINE)
    worker = only_worker(srv)
    n = 200000
    c = srv.client(timeout=30)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    c.greeting()
    before = rss_kb(worker)
    peak = before
    c.send("BIG %d\r\n" % n)
    data = bytearray()
    expected_size = sum(len(BIG_LINE % i) + 2 for i in range(1, n + 1)) + \
        len("OK big done\r\n")
    reads = 0
    deadline = time.monotonic() + 120
    while len(data) < expected_size and time.monotonic() < deadline:
        chunk = c.sock.recv(64 * 1024)
        if not chunk:
            break
        data += chunk
        reads += 1
        if reads % 8 == 0:
            peak = max(peak, rss_kb(worker))
        time.sleep(0.005)
    peak = max(peak, rss_kb(worker))
    lines = bytes(data).decode().split("\r\n")
    assert lines[-1] == ""
    assert lines[-2] == "OK big done"
    body = lines[:-2]
    assert len(body) == n
    for i, line in enumerate(body, 1):
        if line != BIG_LINE % i:
            pytest.fail("line %d is %r" % (i, line))
    assert c.cmd("ECHO after") == "OK after"
    c.close()
    assert peak - before < 8 * 1024, \
        "worker RSS grew from %d kB to %d kB during BIG" % (before, peak)


def test_unread_answers_memory_bounded(facteurd):
    """A client that pipelines 60 MB of commands and never reads the
    answers does not make the worker buffer them all: the server stops
    reading from it once its output backs up, so the worker's RSS stays
    bounded, and the answers it did produce are intact."""
    srv = facteurd(env=SMALL_QUARANTINE)
    worker = only_worker(srv)
    c = srv.client(timeout=30)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    c.greeting()
    line = b"ECHO " + b"p" * 95 + b"\r\n"
    blob = line * 10000
    sent = []

    def pump():
        try:
            for _ in range(60):
                c.sock.sendall(blob)
                sent.append(len(blob))
        except OSError:
            pass
    before = rss_kb(worker)
    peak = before
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        for _ in range(20):
            time.sleep(0.2)
            peak = max(peak, rss_kb(worker))
        for i in range(1000):
            assert c.readline() == "OK " + "p" * 95
    finally:
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        t.join(10)
    assert peak - before < 16 * 1024, \
        "worker RSS grew by %d kB with %d MB of commands sent and no " \
        "answer read" % (peak - before, sum(sent) >> 20)


def test_client_not_reading_is_cut_off(facteurd):
    """A client that asks for a long answer and stops reading is cut off
    once no output could be written for idle_timeout."""
    srv = facteurd(echo="idle_timeout 1s;")
    with srv.client() as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        c.greeting()
        t0 = time.monotonic()
        c.send("BIG 1000000\r\n")
        srv.wait_log(r"event=disconnect reason=\"write timeout\"",
                     timeout=10)
        assert time.monotonic() - t0 < 5


def test_big_output_pipelined(server):
    """A command pipelined behind BIG is answered after BIG's last line."""
    with server.client() as c:
        c.greeting()
        c.send("BIG 3000\r\nECHO behind\r\n")
        for i in range(1, 3001):
            assert c.readline() == BIG_LINE % i
        assert c.readline() == "OK big done"
        assert c.readline() == "OK behind"


def test_sleep_holds_pipelined_command(server):
    """A command pipelined behind SLEEP waits for it, then both are
    answered in order."""
    with server.client() as c:
        c.greeting()
        t0 = time.monotonic()
        c.send("SLEEP 500\r\nECHO after sleep\r\n")
        assert c.readline() == "OK slept"
        slept = time.monotonic() - t0
        assert c.readline() == "OK after sleep"
        assert slept >= 0.45, slept


def test_sleeping_session_does_not_block_others(server):
    """While one session waits in SLEEP, another on the same worker is
    served at once."""
    with server.client() as a, server.client() as b:
        a.greeting()
        b.greeting()
        a.send("SLEEP 1000\r\n")
        t0 = time.monotonic()
        assert b.cmd("ECHO quick") == "OK quick"
        assert time.monotonic() - t0 < 0.5
        assert a.readline() == "OK slept"


# ---------------------------------------------------------------------
# DATA: dot-terminated bodies


def stuff(lines):
    """(content, eol) pairs -> (wire bytes ending in CRLF.CRLF, the bytes
    the server must store: un-stuffed, line ends kept)."""
    wire = b""
    stored = b""
    for content, eol in lines:
        stored += content + eol
        wire += (b"." + content if content.startswith(b".") else content) \
            + eol
    return wire + b".\r\n", stored


def data_answer(stored, bare_lf=0, bare_cr=0, nul=0):
    """The answer DATA must give for a body stored as `stored`."""
    longest = max((len(l.rstrip(b"\r")) for l in stored.split(b"\n")),
                  default=0)
    return "OK size=%d hash=%s bare_lf=%d bare_cr=%d nul=%d longest=%d" % (
        len(stored), fnv1a64(stored), bare_lf, bare_cr, nul, longest)


def literal_answer(payload):
    """An exact-count spool counts NUL bytes (for reject_nul) and no
    lines: those are the body's."""
    return "OK size=%d hash=%s bare_lf=0 bare_cr=0 nul=%d longest=0" % (
        len(payload), fnv1a64(payload), payload.count(b"\0"))


class Answers:
    """Checks DATA and LITERAL answers. Everything but the hash is
    checked at once; the hashes are compared by finish(), so that a
    wrong hash does not hide what the rest of the test would show."""

    def __init__(self):
        self.got = []
        self.want = []

    def check(self, got, want, where=""):
        strip = lambda a: re.sub(r" hash=\S+", "", a)
        assert strip(got) == strip(want), where
        self.got.append(got)
        self.want.append(want)

    def finish(self):
        assert self.got == self.want, "answers (with hashes) differ"


BODY_LINES = [
    (b"Subject: test", b"\r\n"),
    (b"", b"\r\n"),
    (b".", b"\r\n"),                    # a lone dot, sent as ".."
    (b"..two dots", b"\r\n"),           # sent as "...two dots"
    (b".leading dot", b"\r\n"),
    (b"bare lf line", b"\n"),
    (b"a NUL \x00 inside", b"\r\n"),
    (b"a bare CR \r inside", b"\r\n"),
    (b"last line", b"\r\n"),
]


def test_data_dot_stuffing_and_counts(server):
    """DATA stores the body un-dot-stuffed with line ends as sent, and
    reports size, FNV-1a hash, bare LFs, bare CRs and NULs that match
    the bytes computed independently here."""
    wire, stored = stuff(BODY_LINES)
    answers = Answers()
    with server.client() as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(wire)
        answers.check(c.readline(), data_answer(stored, bare_lf=1,
                                                bare_cr=1, nul=1))
        assert c.cmd("ECHO after") == "OK after"
    answers.finish()


def test_data_empty_body(server):
    """A body that is only the end marker stores nothing."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(b".\r\n")
        answer = c.readline()
        assert c.cmd("ECHO after") == "OK after"
    assert answer == data_answer(b"")


def test_data_split_around_terminator(server):
    """The body split in two writes at every byte boundary near the end
    marker, with a command pipelined behind it, gives the same answer
    each time, and the pipelined command is served."""
    wire, stored = stuff([(b"hello", b"\r\n"), (b".x", b"\r\n"),
                          (b"end", b"\r\n")])
    stream = wire + b"ECHO next\r\n"
    want = data_answer(stored)
    answers = Answers()
    with server.client() as c:
        c.greeting()
        for i in range(max(1, len(wire) - 12), len(stream)):
            assert c.cmd("DATA") == "+ go ahead, end with ."
            c.send(stream[:i])
            time.sleep(0.003)
            c.send(stream[i:])
            answers.check(c.readline(), want, "split at %d" % i)
            assert c.readline() == "OK next", "split at %d" % i
    answers.finish()


def test_data_end_marker_needs_crlf(server):
    """A "." line after a bare-LF line, or ended by a bare LF, is content,
    not the end of the body (SMTP smuggling): only CRLF.CRLF ends it."""
    body = b"a\n.\r\nb\r\n.\nc\r\n.\r\n"
    stored = b"a\n.\r\nb\r\n.\nc\r\n"
    with server.client() as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(body)
        answer = c.readline()
        assert c.cmd("ECHO after") == "OK after"
    answers = Answers()
    answers.check(answer, data_answer(stored, bare_lf=2))
    answers.finish()


def test_data_bare_cr_before_dot_is_content(server):
    """A line made of a bare CR and a dot ("\\r." CRLF) is content, not
    the end marker: the body goes on to the real CRLF.CRLF, and the
    command after it is served as a command."""
    body = b"a\r\n\r.\r\nECHO smuggled\r\n.\r\n"
    stored = b"a\r\n\r.\r\nECHO smuggled\r\n"
    with server.client() as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(body + b"ECHO real\r\n")
        answer = c.readline()
        assert not answer.startswith("OK smuggled"), answer
        following = c.readline()
    answers = Answers()
    answers.check(answer, data_answer(stored, bare_cr=1))
    assert following == "OK real"
    answers.finish()


def test_data_large_body_in_pieces(server):
    """A 3 MB body with long and short lines, sent in odd-sized pieces,
    arrives byte for byte."""
    lines = []
    for i in range(20000):
        lines.append(((b"." if i % 7 == 0 else b"") + b"%d " % i +
                      b"q" * (i % 300), b"\r\n"))
    wire, stored = stuff(lines)
    with server.client(timeout=60) as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        step = 65531
        for i in range(0, len(wire), step):
            c.send(wire[i:i + step])
        answer = c.readline(timeout=60)
        assert c.cmd("ECHO after") == "OK after"
    answers = Answers()
    answers.check(answer, data_answer(stored))
    answers.finish()


def test_data_too_big(facteurd):
    """A body over max_body is answered "BAD too big" after its end
    marker, and the session goes on."""
    srv = facteurd(echo="max_body 1k;")
    wire, stored = stuff([(b"x" * 100, b"\r\n")] * 30)
    with srv.client() as c:
        c.greeting()
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(wire)
        assert c.readline() == "BAD too big"
        assert c.cmd("ECHO after") == "OK after"
        # a body that fits still works on the same session
        wire, stored = stuff([(b"small", b"\r\n")])
        assert c.cmd("DATA") == "+ go ahead, end with ."
        c.send(wire)
        answer = c.readline()
    answers = Answers()
    answers.check(answer, data_answer(stored))
    answers.finish()


def test_disconnect_mid_data(server):
    """A client that vanishes in the middle of a body leaves the worker
    running and serving others."""
    worker = only_worker(server)
    server.wait_log(r"event=disconnect")       # the start-up probe's
    fds = open_fds(worker)
    for i in range(3):
        c = server.client()
        c.greeting()
        assert c.cmd("DATA" if i < 2 else "LITERAL 100000") in (
            "+ go ahead, end with .", "+ go ahead")
        c.send(b"partial body\r\n" * 1000 + b"no end")
        c.close()
    server.wait_log(r"event=disconnect", count=4)
    with server.client() as c:
        c.greeting()
        assert c.cmd("ECHO alive") == "OK alive"
    assert only_worker(server) == worker
    server.wait_log(r"event=disconnect", count=5)
    # no spool file or socket left open behind
    assert open_fds(worker) == fds


# ---------------------------------------------------------------------
# LITERAL: exact byte counts


def test_literal_exact_bytes(server):
    """LITERAL n reads exactly n bytes, whatever they are (CR, LF, NUL,
    a dot line), and the bytes right after belong to the next command."""
    payload = b"line one\r\n.\r\n\x00\xff\nno end"
    with server.client() as c:
        c.greeting()
        assert c.cmd("LITERAL %d" % len(payload)) == "+ go ahead"
        c.send(payload + b"ECHO next\r\n")
        answer = c.readline()
        assert c.readline() == "OK next"
    answers = Answers()
    answers.check(answer, literal_answer(payload))
    answers.finish()


def test_literal_split_everywhere(server):
    """A literal arriving one byte per write is still exact."""
    payload = bytes(range(256))
    with server.client() as c:
        c.greeting()
        assert c.cmd("LITERAL 256") == "+ go ahead"
        for i in range(256):
            c.send(payload[i:i + 1])
        answer = c.readline()
        assert c.cmd("ECHO after") == "OK after"
    answers = Answers()
    answers.check(answer, literal_answer(payload))
    answers.finish()


def test_literal_too_big(facteurd):
    """A literal larger than max_body is refused before any byte is read,
    and bad sizes are refused; the session continues."""
    srv = facteurd(echo="max_body 1k;")
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LITERAL 1025") == "BAD bad or too large literal size"
        assert c.cmd("LITERAL 0") == "BAD bad or too large literal size"
        assert c.cmd("LITERAL -5") == "BAD bad or too large literal size"
        assert c.cmd("LITERAL") == "BAD LITERAL needs a size"
        assert c.cmd("ECHO after") == "OK after"
        assert c.cmd("LITERAL 1024") == "+ go ahead"
        c.send(b"k" * 1024)
        answer = c.readline()
    answers = Answers()
    answers.check(answer, literal_answer(b"k" * 1024))
    answers.finish()


def test_client_half_close_gets_answers(server):
    """A client that sends its commands and shuts down its writing side
    still gets every answer before the server closes."""
    with server.client() as c:
        c.greeting()
        c.send("ECHO a\r\nSLEEP 200\r\nECHO b\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        assert c.expect_closed() == ["OK a", "OK slept", "OK b"]


def test_many_concurrent_sessions(server):
    """Fifty clients in parallel threads each get their own answers."""
    errors = []

    def run(k):
        try:
            with server.client() as c:
                c.greeting()
                for i in range(20):
                    want = "OK %d-%d" % (k, i)
                    got = c.cmd("ECHO %d-%d" % (k, i))
                    if got != want:
                        errors.append((want, got))
        except (OSError, ConnectionClosed) as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
