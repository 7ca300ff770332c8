"""IMAP BINARY (RFC 3516): APPEND of a literal8 (~{n}) holding NULs,
FETCH BINARY[...] decoding a part and answering ~{n} when the decoded
bytes hold a NUL, BINARY.SIZE agreeing with BINARY, NO [UNKNOWN-CTE],
and literal8 checked before reading and refused where the grammar has
none. One server for the file."""

import base64
import re

import pytest

from test_imap_support import module_imap_server

# 8-bit bytes, CR and LF alone, and NULs
BLOB = bytes(range(256)) + b"\x00\x00end\x00"
# the same without CR and LF alone: a message's lines end in CRLF (a
# bare LF is sent back as CRLF, as for any message)
RAW = bytes(b for b in BLOB if b not in b"\r\n") + b"\r\nx\x00\r\n"


@pytest.fixture(scope="module")
def imap(request, password_hash, tls_files):
    yield from module_imap_server(request, password_hash, tls_files)


def read_literal(c, line):
    """The bytes of the literal line announces; (binary?, bytes, rest of
    the response after it up to its end of line)."""
    m = re.search(r"(~?)\{(\d+)\}$", line)
    assert m, line
    n = int(m.group(2))
    while len(c.buf) < n:
        c._fill(5)
    data, c.buf = c.buf[:n], c.buf[n:]
    return m.group(1) == "~", data, c.readline()


def fetch_one(c, command):
    """Sends a FETCH of one item; (binary?, bytes, tagged status)."""
    tag = "f%d" % id(command)
    c.send((tag + " " + command + "\r\n").encode())
    line = c.readline()
    assert re.match(r"\* \d+ FETCH \(", line), line
    binary, data, rest = read_literal(c, line)
    assert rest == ")", rest
    _, status = c.until(tag)
    return binary, data, status


def multipart(*parts):
    out = (b"From: a@example.net\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n")
    for cte, body in parts:
        out += (b"--b1\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n"
                + body + b"\r\n")
    return out + b"--b1--\r\n"


def test_capability(imap):
    with imap.client() as c:
        lines = c.ok("CAPABILITY")
        assert "BINARY" in lines[0].split(), lines


def test_append_literal8_with_nuls(imap):
    """The bytes of a ~{n} message are stored as given, NULs included;
    BINARY[] gives them back as ~{n}, BODY[] as a plain literal."""
    user = imap.user()
    msg = b"From: a@example.net\r\nSubject: raw\r\n\r\n" + RAW
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX (\\Seen) ~{%d}\r\n" % len(msg))
        assert c.readline().startswith("+ ")
        c.send(msg + b"\r\n")
        line = c.readline()
        assert line.startswith("a OK [APPENDUID "), line
        # non-synchronising (LITERAL+): no "+" to wait for
        c.send(b"b APPEND INBOX ~{%d+}\r\n" % len(msg) + msg + b"\r\n")
        line = c.readline()
        assert line.startswith("b OK [APPENDUID "), line
        c.ok("SELECT INBOX")
        for seq in (1, 2):
            binary, data, status = fetch_one(c, "FETCH %d BODY.PEEK[]"
                                             % seq)
            assert status.startswith("OK") and data == msg, status
            assert not binary
        binary, data, status = fetch_one(c, "FETCH 1 BINARY.PEEK[]")
        assert status.startswith("OK") and binary and data == msg
        lines = c.ok("FETCH 1 BINARY.SIZE[]")
        assert "BINARY.SIZE[] %d)" % len(msg) in lines[0], lines


def test_fetch_binary_decoded(imap):
    """BINARY[n] of base64 and quoted-printable parts: the decoded
    bytes, ~{n} when they hold a NUL, a plain literal otherwise;
    BINARY.SIZE[n] is the length BINARY[n] gives."""
    user = imap.user()
    plain = b"no nul here \xe9\xff"
    imap.deliver(user, multipart(
        (b"base64", base64.encodebytes(BLOB).replace(b"\n", b"\r\n")),
        (b"base64", base64.b64encode(plain)),
        (b"quoted-printable", b"a=00b=3D")))
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        for part, want, nul in ((1, BLOB, True), (2, plain, False),
                                (3, b"a\x00b=", True)):
            binary, data, status = fetch_one(
                c, "FETCH 1 BINARY.PEEK[%d]" % part)
            assert status.startswith("OK"), status
            assert data == want and binary == nul, (part, binary, data)
            lines = c.ok("FETCH 1 BINARY.SIZE[%d]" % part)
            assert "BINARY.SIZE[%d] %d)" % (part, len(data)) in lines[0], \
                lines
        # a partial of the decoded bytes keeps the rule: no NUL, {n}
        binary, data, status = fetch_one(c, "FETCH 1 BINARY.PEEK[1]<1.5>")
        assert data == BLOB[1:6] and not binary, (binary, data)
        # BINARY (not .PEEK) sets \Seen
        binary, data, status = fetch_one(c, "FETCH 1 BINARY[2]")
        assert data == plain
        lines = c.ok("FETCH 1 FLAGS")
        assert "\\Seen" in lines[0], lines


def test_unknown_cte(imap):
    user = imap.user()
    imap.deliver(user, multipart((b"x-uuencode", b"begin 644 x\r\nend")))
    with imap.client() as c:
        c.login(user)
        c.ok("SELECT INBOX")
        for item in ("BINARY.PEEK[1]", "BINARY.SIZE[1]"):
            lines, status = c.tagged("FETCH 1 " + item)
            assert status.startswith("NO [UNKNOWN-CTE]"), (status, lines)
        # BODY[1] is the encoded text as it is
        binary, data, status = fetch_one(c, "FETCH 1 BODY.PEEK[1]")
        assert status.startswith("OK") and data == b"begin 644 x\r\nend"


def test_literal8_size_checked_before_reading(imap):
    """~{4294967296} is refused at once: NO [TOOBIG] without "+" for a
    synchronising one (the session goes on), BAD and the end of the
    connection for a non-synchronising one."""
    user = imap.user()
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX ~{4294967296}\r\n")
        line = c.readline()
        assert line.startswith("a NO [TOOBIG]"), line
        c.ok("NOOP")
        c.send(b"b SELECT ~{4294967296}\r\n")
        line = c.readline()
        assert line.startswith("b NO [TOOBIG]"), line
        c.ok("NOOP")
        c.send(b"c APPEND INBOX ~{4294967296+}\r\n")
        lines = c.expect_closed()
        assert lines[0].startswith("c BAD [TOOBIG]"), lines
        assert lines[1].startswith("* BYE"), lines
    with imap.client() as c:
        c.login(user)
        lines = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in lines[0], lines


def test_literal8_where_not_allowed(imap):
    """A ~{n} anywhere but as APPEND's message gets BAD, and nothing is
    stored."""
    user = imap.user()
    with imap.client() as c:
        c.login(user)
        c.send(b"a SELECT ~{5}\r\n")
        assert c.readline().startswith("+ ")
        c.send(b"INBOX\r\n")
        line = c.readline()
        assert line.startswith("a BAD"), line
        c.send(b"b LOGIN ~{2+}\r\nxy pw\r\n")
        line = c.readline()
        assert line.startswith("b BAD"), line
        # the mailbox name as a literal8
        c.send(b"c APPEND ~{5+}\r\nINBOX {3+}\r\nx\r\n\r\n")
        line = c.readline()
        assert line.startswith("c BAD"), line
        # in APPEND's flag list
        c.send(b"d APPEND INBOX (~{1+}\r\nx) {3+}\r\nx\r\n\r\n")
        line = c.readline()
        assert line.startswith("d BAD"), line
        # in a list
        c.send(b"e FETCH 1 (~{5+}\r\nFLAGS)\r\n")
        line = c.readline()
        assert line.startswith("e BAD"), line
        lines = c.ok("STATUS INBOX (MESSAGES)")
        assert "MESSAGES 0" in lines[0], lines


def test_plain_literal_with_nul_in_append(imap):
    """A plain {n} message holding a NUL is stored as given too."""
    user = imap.user()
    msg = b"Subject: nul\r\n\r\na\x00b\r\n"
    with imap.client() as c:
        c.login(user)
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        line = c.readline()
        assert line.startswith("a OK"), line
        c.ok("SELECT INBOX")
        binary, data, status = fetch_one(c, "FETCH 1 BINARY.PEEK[1]")
        assert status.startswith("OK") and binary and data == b"a\x00b\r\n"
