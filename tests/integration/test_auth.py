"""Logins through the echo module: LOGIN, SASL PLAIN and LOGIN, the
failure delay, the per-IP failure limit, plaintext_auth, passwords kept
out of the log, and the passwd file read again when it changes."""

import os
import time

import pytest

from conftest import PASSWORD
from harness import Client, b64, hash_password

AUTH_FAILED = "NO [AUTH] authentication failed"
LIMITED = "NO [LIMIT] too many failures, try later"


def plain(authzid, authcid, password):
    return b64("%s\0%s\0%s" % (authzid, authcid, password))


def timed(c, line):
    t0 = time.monotonic()
    answer = c.cmd(line)
    return answer, time.monotonic() - t0


def test_login_good_and_bad(server):
    """LOGIN with the right password logs in (WHOAMI tells who), a wrong
    password or an unknown user is refused with NO [AUTH], and a second
    LOGIN after success is refused."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("WHOAMI") == "NO not logged in"
        assert c.cmd("LOGIN alice wrong") == AUTH_FAILED
        assert c.cmd("LOGIN nobody %s" % PASSWORD) == AUTH_FAILED
        assert c.cmd("WHOAMI") == "NO not logged in"
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"
        assert c.cmd("WHOAMI") == "OK alice"
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "BAD already logged in"
    server.wait_log(r"event=auth result=ok user=\"alice\"")
    server.wait_log(r"event=auth result=fail user=\"nobody\"")


def test_login_user_name_case(server):
    """User names are matched without regard to case."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("LOGIN ALICE %s" % PASSWORD).startswith("OK logged in")


def test_login_syntax(server):
    """LOGIN without a password is a syntax error, not a failed login."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice") == "BAD LOGIN user password"
        assert c.cmd("ECHO ok") == "OK ok"
    assert "event=auth" not in server.log()


def test_auth_plain_initial_response(server):
    """AUTH PLAIN with the credentials on the command line logs in."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN " + plain("", "alice", PASSWORD)) == \
            "OK logged in as alice"
        assert c.cmd("WHOAMI") == "OK alice"


def test_auth_plain_continuation(server):
    """AUTH PLAIN without an initial response gets an empty challenge,
    then the credentials on the next line."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd(plain("", "alice", PASSWORD)) == "OK logged in as alice"


def test_auth_plain_wrong_password(server):
    """AUTH PLAIN with a wrong password fails like LOGIN."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN " + plain("", "alice", "nope")) == \
            AUTH_FAILED
        assert c.cmd("WHOAMI") == "NO not logged in"


def test_auth_plain_authzid(server):
    """An authzid equal to the authcid is accepted; a different one
    (acting for another user) fails even with the right password."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN " + plain("bob", "alice", PASSWORD)) == \
            AUTH_FAILED
        assert c.cmd("WHOAMI") == "NO not logged in"
        assert c.cmd("AUTH PLAIN " + plain("alice", "alice", PASSWORD)) == \
            "OK logged in as alice"


def test_auth_login(server):
    """AUTH LOGIN asks Username: then Password: (base64) and logs in;
    the user name may also come as an initial response."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH LOGIN") == "+ " + b64("Username:")
        assert c.cmd(b64("alice")) == "+ " + b64("Password:")
        assert c.cmd(b64(PASSWORD)) == "OK logged in as alice"
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH LOGIN " + b64("alice")) == "+ " + b64("Password:")
        assert c.cmd(b64("wrong")) == AUTH_FAILED


def test_auth_abort(server):
    """"*" in answer to a challenge aborts the exchange; the session is
    still usable and not logged in."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd("*") == "BAD authentication aborted"
        assert c.cmd("AUTH LOGIN") == "+ " + b64("Username:")
        assert c.cmd(b64("alice")) == "+ " + b64("Password:")
        assert c.cmd("*") == "BAD authentication aborted"
        assert c.cmd("WHOAMI") == "NO not logged in"
        assert c.cmd("ECHO ok") == "OK ok"


def test_auth_malformed(server):
    """Malformed base64, a PLAIN response without its NULs, and an
    unknown mechanism are answered without a login attempt."""
    with server.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN !!!notbase64") == \
            "BAD invalid base64 in the response"
        assert c.cmd("AUTH PLAIN") == "+ "
        assert c.cmd("abc") == "BAD invalid base64 in the response"
        assert c.cmd("AUTH PLAIN " + b64("alice" + PASSWORD)) == \
            "BAD malformed PLAIN response"
        assert c.cmd("AUTH CRAM-MD5") == \
            "NO unsupported authentication mechanism"
        assert c.cmd("WHOAMI") == "NO not logged in"
        assert c.cmd("ECHO ok") == "OK ok"
    assert "event=auth" not in server.log()


def test_failure_delay_short(server):
    """A failed login is answered no sooner than auth_failure_delay
    (300ms here); a good one is not delayed by it."""
    with server.client() as c:
        c.greeting()
        answer, took = timed(c, "LOGIN alice wrong")
        assert answer == AUTH_FAILED
        assert took >= 0.29, took
        answer, took = timed(c, "AUTH PLAIN " + plain("", "alice", "no"))
        assert answer == AUTH_FAILED
        assert took >= 0.29, took


def test_failure_delay_default(facteurd):
    """With the default auth_failure_delay (2s), a failed login waits
    two seconds, and another session on the same worker is served
    meanwhile."""
    srv = facteurd(settings={"auth_failure_delay": None})
    with srv.client() as c, srv.client() as other:
        c.greeting()
        other.greeting()
        t0 = time.monotonic()
        c.send("LOGIN alice wrong\r\n")
        assert other.cmd("ECHO meanwhile") == "OK meanwhile"
        assert time.monotonic() - t0 < 1.0
        assert c.readline() == AUTH_FAILED
        took = time.monotonic() - t0
        assert 1.95 <= took < 6, took
        answer, took = timed(c, "LOGIN alice %s" % PASSWORD)
        assert answer == "OK logged in as alice"
        assert took < 1.9, took


def test_failure_limit_per_ip(facteurd):
    """After auth_max_failures failures from one IP (counted across both
    workers and across connections), even the right password gets
    NO [LIMIT]; a client from another IP still logs in."""
    srv = facteurd(settings={"workers": "2", "auth_max_failures": "3"})
    srv.wait_workers(2)
    for i in range(3):
        with srv.client() as c:
            c.greeting()
            assert c.cmd("LOGIN alice wrong%d" % i) == AUTH_FAILED
    for i in range(4):
        with srv.client() as c:
            c.greeting()
            assert c.cmd("LOGIN alice %s" % PASSWORD) == LIMITED
            assert c.cmd("WHOAMI") == "NO not logged in"
    with srv.client() as c:
        c.greeting()
        assert c.cmd("AUTH PLAIN " + plain("", "alice", PASSWORD)) == LIMITED
    with srv.client(source="127.0.0.2") as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"
    srv.wait_log(r"event=auth result=limited .*client=127\.0\.0\.1")


def test_failure_limit_window(facteurd):
    """Failures older than auth_failure_window no longer count."""
    srv = facteurd(settings={"auth_max_failures": "2",
                             "auth_failure_window": "2s",
                             "auth_failure_delay": "100ms"})
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice a") == AUTH_FAILED
        assert c.cmd("LOGIN alice b") == AUTH_FAILED
        assert c.cmd("LOGIN alice %s" % PASSWORD) == LIMITED
        time.sleep(2.5)
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"


def test_plaintext_auth_no(facteurd, tls_files):
    """With plaintext_auth no, LOGIN and AUTH over plaintext loopback
    are refused (NO [PRIVACY]) and work after STARTTLS."""
    cert, key = tls_files
    srv = facteurd(echo="plaintext_auth no;\ntls_certificate %s;\n"
                   "tls_key %s;" % (cert, key))
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == \
            "NO [PRIVACY] use STARTTLS first"
        assert c.cmd("AUTH PLAIN " + plain("", "alice", PASSWORD)) == \
            "NO authentication needs an encrypted connection"
        assert c.cmd("WHOAMI") == "NO not logged in"
        c.starttls()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"
    with srv.client() as c:
        c.greeting()
        c.starttls()
        assert c.cmd("AUTH PLAIN " + plain("", "alice", PASSWORD)) == \
            "OK logged in as alice"
    srv.wait_log(r"event=auth result=ok user=\"alice\" tls=yes", count=2)


def test_plaintext_auth_loopback_default(server):
    """By default (plaintext_auth loopback) a loopback client may log in
    without TLS."""
    with server.client(source="127.0.0.5") as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"


def test_password_never_logged(facteurd, password_hash):
    """At log level debug, neither a good nor a wrong password appears
    in the log, in clear or in base64, whatever the mechanism."""
    wrong = "Wr0ng-pa55word-7781"
    srv = facteurd(settings={"log_level": "debug"})
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % wrong) == AUTH_FAILED
        assert c.cmd("AUTH PLAIN " + plain("", "alice", wrong)) == \
            AUTH_FAILED
        assert c.cmd("AUTH LOGIN " + b64("alice")) == "+ " + b64("Password:")
        assert c.cmd(b64(wrong)) == AUTH_FAILED
        assert c.cmd("AUTH PLAIN " + plain("", "alice", PASSWORD)) == \
            "OK logged in as alice"
    with srv.client() as c:
        c.greeting()
        assert c.cmd("AUTH LOGIN") == "+ " + b64("Username:")
        assert c.cmd(b64("alice")) == "+ " + b64("Password:")
        assert c.cmd(b64(PASSWORD)) == "OK logged in as alice"
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"
    srv.wait_log(r"event=auth result=ok", count=3)
    srv.stop()
    log = srv.log()
    for secret in (wrong, PASSWORD, PASSWORD.split()[0] + " "):
        assert secret not in log
    for secret in (b64(wrong), b64(PASSWORD), plain("", "alice", wrong),
                   plain("", "alice", PASSWORD)):
        assert secret not in log
    assert password_hash not in log


def test_passwd_file_change_picked_up(facteurd, test_dir):
    """A user added to the passwd file while facteurd runs can log in
    without a reload; a user removed can no longer log in."""
    srv = facteurd(settings={"workers": "2"})
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN bob bobs-secret") == AUTH_FAILED
    passwd = os.path.join(test_dir, "passwd")
    with open(passwd) as f:
        alice_line = f.read()
    tmp = passwd + ".new"
    with open(tmp, "w") as f:
        f.write(alice_line + "bob:%s\n" % hash_password("bobs-secret"))
    os.chmod(tmp, 0o644)
    os.rename(tmp, passwd)
    for _ in range(4):      # likely both workers
        with srv.client() as c:
            c.greeting()
            assert c.cmd("LOGIN bob bobs-secret") == "OK logged in as bob"
    srv.wait_log(r"passwd-file: .* read again, 2 users")

    # edited in place this time: alice goes away
    with open(passwd, "r+") as f:
        content = f.read()
        f.seek(0)
        f.write(content.replace(alice_line, ""))
        f.truncate()
    for _ in range(4):
        with srv.client() as c:
            c.greeting()
            assert c.cmd("LOGIN alice %s" % PASSWORD) == AUTH_FAILED
            assert c.cmd("LOGIN bob bobs-secret") == "OK logged in as bob"


def test_broken_passwd_file_keeps_users(facteurd, test_dir):
    """A passwd file that becomes broken is reported, and the users read
    before keep working."""
    srv = facteurd()
    passwd = os.path.join(test_dir, "passwd")
    with open(passwd, "a") as f:
        f.write("this line has no colon at all\n")
    with srv.client() as c:
        c.greeting()
        assert c.cmd("LOGIN alice %s" % PASSWORD) == "OK logged in as alice"
    srv.wait_log(r"error: passwd-file: .*keeping the users read before")


def test_missing_passwd_file_at_start(facteurd, test_dir):
    """A missing passwd file stops start-up with its path."""
    srv = facteurd(start=False, passwd_block="    path nowhere/passwd;")
    with pytest.raises(AssertionError):
        srv.start()
    assert srv.proc.wait(10) == 1
    assert os.path.join(test_dir, "nowhere", "passwd") in srv.log()


def test_session_from_other_ip_unaffected_by_delay(facteurd):
    """Failed logins from one client do not slow a login from another."""
    # a long delay, so that a loaded machine's slow password hashing is
    # not mistaken for the other client's delay
    srv = facteurd(settings={"auth_failure_delay": "3s"})
    with srv.client() as bad, Client(srv.port, source="127.0.0.2") as good:
        bad.greeting()
        good.greeting()
        bad.send("LOGIN alice wrong\r\n")
        answer, took = timed(good, "LOGIN alice %s" % PASSWORD)
        assert answer == "OK logged in as alice"
        assert took < 2.0, took
        assert bad.readline() == AUTH_FAILED
