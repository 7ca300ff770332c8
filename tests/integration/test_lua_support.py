"""What the Lua filter tests share: one facteurd per test file with the
SMTP module, maildir delivery for alice@example.org and the lua plugin
loaded with the scripts a file names; helpers to send mail and to read
what was delivered with facteurctl."""

import os
import pwd
import smtplib
import subprocess

import harness
from harness import (FACTEURCTL, IS_ROOT, Facteurd, free_port,
                     make_test_dir)

SPAM = os.path.join(harness.SRCDIR, "scripts", "spam")
# the plugin is built as <builddir>/modules/lua/lua.la: the default
# module path finds it
ENV = {}
GTUBE = ("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL"
         "*C.34X")


class LuaServer:
    def __init__(self, srv, directory, port):
        self.srv = srv
        self.dir = directory
        self.port = port

    def smtp(self, helo="client.test"):
        s = smtplib.SMTP(timeout=20)
        s.connect("127.0.0.1", self.port)
        s.ehlo(helo)
        return s

    def send(self, body, subject="test", sender="bob@sender.test",
             rcpt="alice@example.org", headers=None):
        """Sends one message; returns smtplib's refusals (raises on a
        refusal of the whole message)."""
        msg = message(body, subject, sender, headers)
        with self.smtp() as s:
            return s.sendmail(sender, [rcpt], msg)

    def ctl(self, *args):
        return subprocess.run(
            [FACTEURCTL, "-c", self.srv.conf_path] + list(args),
            capture_output=True, env=harness.facteurd_env(ENV), timeout=60)

    def messages(self, folder="INBOX"):
        r = self.ctl("mailbox", "messages", "alice@example.org", folder)
        if r.returncode != 0:
            return []
        return r.stdout.decode().splitlines()

    def fetch(self, subject, folder="INBOX"):
        """The delivered message with this subject (UIDs need not follow
        the order of delivery)."""
        for line in reversed(self.messages(folder)):
            r = self.ctl("mailbox", "fetch", "alice@example.org", folder,
                         line.split("\t")[0])
            assert r.returncode == 0, r.stderr
            text = r.stdout.decode(errors="replace")
            if "\nSubject: %s\n" % subject in text.replace("\r\n", "\n"):
                return text
        raise AssertionError("no message %r in %s" % (subject, folder))


def message(body, subject="test", sender="bob@sender.test", headers=None):
    lines = ["From: Bob <%s>" % sender, "To: alice@example.org",
             "Subject: %s" % subject,
             "Date: Thu, 03 Dec 2026 21:00:00 +0000",
             "Message-ID: <%d@sender.test>" % id(body)]
    lines += headers or []
    text = "\r\n".join(lines) + "\r\n\r\n" + body
    if not text.endswith("\r\n"):
        text += "\r\n"
    return text.encode()


def config(directory, port, lua_block, top=None):
    mail = os.path.join(directory, "mail")
    os.mkdir(mail, 0o755)
    if IS_ROOT:
        pw = pwd.getpwnam(harness.SERVICE_USER)
        os.chown(mail, pw.pw_uid, pw.pw_gid)
    settings = harness.default_settings(directory)
    settings["state_dir"] = os.path.join(directory, "state")
    settings.update(top or {})
    lines = ["%s %s;" % kv for kv in settings.items()]
    lines += [
        "load passwd-file maildir smtp lua;",
        "passwd-file { path passwd; }",
        "maildir { location %s/%%d/%%n; }" % mail,
        "smtp {",
        "    local_domains example.org;",
        "    listen 127.0.0.1:%d;" % port,
        "}",
        "lua {",
    ] + ["    " + l for l in lua_block] + ["}"]
    return "\n".join(lines) + "\n"


def lua_server(request, password_hash, lua_block, top=None, scripts=None):
    """A generator for a module-scoped fixture. scripts: {name: text}
    written to the test folder before the start."""
    directory = make_test_dir("facteur-lua-")
    with open(os.path.join(directory, "passwd"), "w") as f:
        f.write("alice@example.org:%s\n" % password_hash)
    os.chmod(os.path.join(directory, "passwd"), 0o644)
    for name, text in (scripts or {}).items():
        write_script(directory, name, text)
    port = free_port()
    text = config(directory, port, [l.replace("@DIR@", directory)
                                    for l in lua_block], top)
    srv = Facteurd(directory, text, port=port, env=ENV)
    srv.start()
    yield LuaServer(srv, directory, port)
    harness.stop_module_server(request, srv, directory)


def write_script(directory, name, text):
    path = os.path.join(directory, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.rename(path + ".tmp", path)
    return path
