#!/usr/bin/python3
"""first_greeting.py - time from exec of a server to its first greeting.

    first_greeting.py --port PORT --expect PREFIX [--log FILE] -- CMD [ARG...]

Takes the time, starts CMD (in a session of its own), tries to connect to
127.0.0.1:PORT every --interval seconds, and as soon as a connection is
accepted reads one line; when that line starts with PREFIX, the time is
taken again. Prints the milliseconds between the two on stdout. Then the
server gets SIGTERM, and every process of its session is waited for (and
killed after --stop-timeout), so that the port is free for the next run.

The clock starts just before the fork and exec, so the figure includes
the exec, the dynamic linking and everything the server does before its
first greeting (config, modules, binding, forking workers or login
processes). Exit status 1 if the server exited or did not greet in time.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def session_pids(sid):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # after comm: state ppid pgrp session
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == sid:
            pids.append(int(name))
    return pids


def stop(proc, timeout):
    """SIGTERM the server, wait for its whole session to be gone."""
    sid = proc.pid
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + timeout
    while True:
        left = session_pids(sid)
        if not left:
            return
        if time.monotonic() > deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            deadline = time.monotonic() + timeout
        time.sleep(0.02)


def read_line(sock, deadline):
    buf = b""
    while b"\n" not in buf:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0].rstrip(b"\r")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--expect", default="")
    ap.add_argument("--log", help="file that gets the server's output")
    ap.add_argument("--pid-file",
                    help="holds the server's pid while it runs (for a "
                    "caller's clean-up if this helper is killed)")
    ap.add_argument("--interval", type=float, default=0.0005,
                    help="seconds between connection attempts")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--stop-timeout", type=float, default=10.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")

    out = open(args.log, "ab") if args.log else subprocess.DEVNULL
    addr = (args.host, args.port)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=out, start_new_session=True)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % proc.pid)
    deadline = t0 + args.timeout
    elapsed, failure = None, None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                failure = "the server exited with status %d" % proc.returncode
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect(addr)
            except (ConnectionRefusedError, ConnectionResetError):
                s.close()
                time.sleep(args.interval)
                continue
            try:
                line = read_line(s, deadline)
            except (socket.timeout, ConnectionResetError) as e:
                line = b""
                failure = "no greeting: %s" % e
            t1 = time.monotonic()
            s.close()
            if line.startswith(args.expect.encode()) and line:
                elapsed = (t1 - t0) * 1000.0
                failure = None
                break
            if not failure:
                failure = "unexpected greeting %r" % line[:100]
            # a server that closes at once may not be ready: try again
            time.sleep(args.interval)
        else:
            failure = failure or "no greeting within %.0f s" % args.timeout
    finally:
        stop(proc, args.stop_timeout)
        if args.pid_file:
            os.unlink(args.pid_file)
    if elapsed is None:
        sys.exit("first_greeting: %s: %s" % (cmd[0], failure))
    print("%.2f" % elapsed)


if __name__ == "__main__":
    main()
