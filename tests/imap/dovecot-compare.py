#!/usr/bin/env python3
"""dovecot-compare.py - our ENVELOPE, BODY, BODYSTRUCTURE and sections
next to Dovecot's, for the messages of this folder.

    dovecot-compare.py PORT USER PASSWORD EXPECT...

Logs in to an IMAP server (a private Dovecot, see bench/lib.sh), and for
each <name>.expect given: empties INBOX, APPENDs the message (in CRLF
form), FETCHes ENVELOPE, BODY, BODYSTRUCTURE and every section the
.expect lists, and prints, item by item, "same" or both answers. Our
side comes from the .expect file itself (the unit test checks that our
code gives it). Not part of `make check`: a tool for checking a new
.expect by hand (see README).
"""
import os
import re
import socket
import sys


def unescape(s):
    out = bytearray()
    i = 0
    b = s.encode('utf-8', 'surrogateescape')
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = b[i + 1]
            if n == ord('r'):
                out += b'\r'; i += 2; continue
            if n == ord('n'):
                out += b'\n'; i += 2; continue
            if n == ord('t'):
                out += b'\t'; i += 2; continue
            if n == ord('x'):
                out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
            out.append(n); i += 2; continue
        out.append(c)
        i += 1
    return bytes(out)


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.buf = b''
        self.n = 0
        self.line()

    def line(self):
        while b'\r\n' not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(b'\r\n') + 2
        r, self.buf = self.buf[:i], self.buf[i:]
        return r

    def exact(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        r, self.buf = self.buf[:n], self.buf[n:]
        return r

    def cmd(self, text, literal=None):
        """Sends a command; returns the untagged responses, raw."""
        self.n += 1
        tag = b'a%d' % self.n
        if literal is not None:
            self.s.sendall(tag + b' ' + text + b' {%d}\r\n' % len(literal))
            self.line()
            self.s.sendall(literal + b'\r\n')
        else:
            self.s.sendall(tag + b' ' + text + b'\r\n')
        out = []
        cur = b''
        while True:
            ln = self.line()
            m = re.search(rb'\{(\d+)\}\r\n$', ln)
            if m:
                cur += ln + self.exact(int(m.group(1)))
                continue
            cur += ln
            if cur.startswith(tag + b' '):
                if not cur.startswith(tag + b' OK'):
                    raise RuntimeError(cur)
                return out
            out.append(cur)
            cur = b''


def fetch_item(c, item):
    for r in c.cmd(b'FETCH 1 (' + item + b')'):
        m = re.match(rb'\* 1 FETCH \((.*)\)\r\n$', r, re.S)
        if m:
            body = m.group(1)
            if body.startswith(b'FLAGS'):
                body = re.sub(rb'^FLAGS \([^)]*\) ', b'', body)
            return body
    return None


def main():
    port, user, password, *expects = sys.argv[1:]
    c = Client(int(port))
    c.cmd(b'LOGIN ' + user.encode() + b' ' + password.encode())
    c.cmd(b'SELECT INBOX')
    for path in expects:
        name = os.path.basename(path)[:-len('.expect')]
        lines = open(path, encoding='utf-8',
                     errors='surrogateescape').read().split('\n')
        msg_path = os.path.join(os.path.dirname(path), name + '.eml')
        if lines and lines[0].startswith('message '):
            msg_path = os.path.join(os.path.dirname(path), '..',
                                    lines[0][8:])
        data = open(msg_path, 'rb').read()
        data = re.sub(rb'(?<!\r)\n', b'\r\n', data)
        c.cmd(b'UID STORE 1:* +FLAGS.SILENT (\\Deleted)')
        c.cmd(b'EXPUNGE')
        c.cmd(b'APPEND INBOX', data)
        c.cmd(b'NOOP')
        print('==', name)
        for ln in lines:
            key, _, arg = ln.partition(' ')
            if key in ('envelope', 'body', 'bodystructure'):
                ours = unescape(arg)
                theirs = fetch_item(c, key.upper().encode())
                prefix = key.upper().encode() + b' '
                theirs = theirs[len(prefix):] if theirs else theirs
            elif key == 'section':
                spec, partial, want = arg.split('|', 2)
                item = b'BODY.PEEK[' + unescape(spec) + b']'
                if partial != '-':
                    item += b'<' + partial.encode() + b'>'
                theirs = fetch_item(c, item)
                theirs = re.sub(rb'^BODY\[[^\]]*\](<\d+>)? ', b'',
                                theirs or b'')
                m = re.match(rb'\{(\d+)\}\r\n', theirs)
                if m:
                    theirs = theirs[m.end():]
                elif theirs.startswith(b'"'):
                    theirs = theirs[1:-1]
                elif theirs == b'NIL':
                    theirs = b''
                ours = unescape(want)
            elif key == 'binary-error':
                try:
                    fetch_item(c, b'BINARY.PEEK[' + arg.encode() + b']')
                    theirs = b'no error'
                except RuntimeError as e:
                    theirs = (b'UNKNOWN-CTE' if b'[UNKNOWN-CTE]' in
                              e.args[0] else e.args[0])
                ours = b'UNKNOWN-CTE'
            elif key == 'binary' or key == 'binary-size':
                spec, want = arg.split('|', 1)
                big = b'BINARY.PEEK[' if key == 'binary' else b'BINARY.SIZE['
                try:
                    theirs = fetch_item(c, big + spec.encode() + b']')
                except RuntimeError as e:
                    theirs = e.args[0]
                theirs = re.sub(rb'^BINARY(\.SIZE)?\[[^\]]*\] ', b'',
                                theirs or b'')
                m = re.match(rb'~?\{(\d+)\}\r\n', theirs)
                if m:
                    theirs = theirs[m.end():]
                elif theirs.startswith(b'"'):
                    theirs = theirs[1:-1]
                ours = unescape(want) if key == 'binary' else want.encode()
            else:
                continue
            label = key + ' ' + arg.split('|')[0] if '|' in arg else key
            if ours == theirs:
                print('same  ', label)
            else:
                print('DIFF  ', label)
                print('  ours:   ', ours)
                print('  dovecot:', theirs)
    c.cmd(b'LOGOUT')


if __name__ == '__main__':
    main()
