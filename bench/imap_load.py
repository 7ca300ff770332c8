#!/usr/bin/python3
"""imap_load.py - IMAP load for bench/imap.sh (Python asyncio, stdlib only).

Two modes, one JSON line on stdout:

  --mode mix   CLIENTS clients, client i logged in as USER<i % USERS + 1>,
               each running a mixed workload for SECS seconds, one command
               at a time (no pipelining), every reply checked:
                 SELECT INBOX                                   weight 1
                 FETCH a window of 20 (FLAGS ENVELOPE)          weight 3
                 FETCH one BODY.PEEK[] (a whole message)        weight 3
                 STORE +FLAGS/-FLAGS (\\Flagged) on a window     weight 2
                 SEARCH (FROM, SUBJECT, UNSEEN, LARGER, ...)    weight 1
                 APPEND a 2-6 KB message to INBOX               weight 1
               Prints operations per second, and per command kind the
               rate and the latency (mean, median, 90th and 99th
               percentiles, worst): a worker held up by one session's
               disk wait shows in every kind's tail.
  --mode idle  CONNS connections, each LOGIN, SELECT INBOX, IDLE, and held;
               PSS of the server's process tree (--pid) before and after
               (procmem.py): memory per logged-in IDLE connection.

A NO or BAD reply, an unexpected BYE or a lost connection is an error:
counted, and the first ones reported.
"""
import argparse
import asyncio
import json
import math
import os
import random
import re
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procmem import tree_mem  # noqa: E402

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
EXISTS = re.compile(rb"^\* (\d+) EXISTS")


class ImapError(Exception):
    pass


class Conn:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.n = 0
        self.exists = 0
        self.rx = 0

    async def line(self):
        """One response line, literals included (their data appended)."""
        out = []
        while True:
            l = await self.r.readline()
            if not l:
                raise ImapError("connection closed")
            self.rx += len(l)
            out.append(l)
            m = LITERAL.search(l)
            if not m:
                return b"".join(out)
            data = await self.r.readexactly(int(m.group(1)))
            self.rx += len(data)
            out.append(data)

    async def cmd(self, text, literal=None):
        """Sends one command, waits for its tagged reply; returns the
        untagged lines. An APPEND literal waits for the continuation."""
        self.n += 1
        tag = b"a%d" % self.n
        if literal is None:
            self.w.write(tag + b" " + text + b"\r\n")
        else:
            self.w.write(tag + b" " + text + b" {%d}\r\n" % len(literal))
            l = await self.line()
            if not l.startswith(b"+"):
                raise ImapError("no continuation for APPEND: %r" % l[:100])
            self.w.write(literal + b"\r\n")
        untagged = []
        while True:
            l = await self.line()
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise ImapError("%s -> %s" % (
                        text[:60].decode(errors="replace"),
                        l[:160].decode(errors="replace").strip()))
                return untagged
            m = EXISTS.match(l)
            if m:
                self.exists = int(m.group(1))
            elif l.startswith(b"* BYE"):
                raise ImapError("BYE: %r" % l[:160])
            untagged.append(l)


async def connect(args, user):
    reader, writer = await asyncio.open_connection(
        args.host, args.port, limit=1 << 22)
    c = Conn(reader, writer)
    g = await c.line()
    if not g.startswith(b"* OK"):
        raise ImapError("greeting %r" % g[:100])
    await c.cmd(b'LOGIN "%s" "%s"' % (user.encode(), args.password.encode()))
    return c


def user_of(args, i):
    return "%s%d" % (args.user_prefix, i % args.users + 1)


# ------------------------------------------------------------------
# Mixed workload

WORDS = ("alpha", "bravo", "report", "meeting", "invoice", "lunch",
         "release", "budget", "travel", "review")


def append_message(rnd, k):
    subj = "%s %s %d" % (rnd.choice(WORDS), rnd.choice(WORDS), k)
    body = ("Line %d of an appended message, some words: %s\r\n" % (
        i, " ".join(rnd.choice(WORDS) for _ in range(6)))
        for i in range(rnd.randint(30, 100)))
    return ("From: Bench Appender <appender@example.net>\r\n"
            "To: bench@example.org\r\n"
            "Subject: %s\r\n"
            "Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
            "Message-ID: <append-%d-%d@bench.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n%s" % (subj, os.getpid(), k, "".join(body))).encode()


SEARCHES = (b'SEARCH FROM "alice"', b'SEARCH SUBJECT "report"',
            b"SEARCH UNSEEN", b"SEARCH LARGER 20000",
            b"SEARCH FLAGGED", b'SEARCH OR FROM "bob" SUBJECT "lunch"',
            b"SEARCH SINCE 1-Nov-2026")


async def op(c, kind, rnd, k):
    n = max(c.exists, 1)
    if kind == "select":
        await c.cmd(b"SELECT INBOX")
    elif kind == "fetch_headers":
        a = rnd.randint(1, max(n - 19, 1))
        await c.cmd(b"FETCH %d:%d (FLAGS ENVELOPE)" % (a, min(a + 19, n)))
    elif kind == "fetch_body":
        await c.cmd(b"FETCH %d BODY.PEEK[]" % rnd.randint(1, n))
    elif kind == "store":
        a = rnd.randint(1, max(n - 4, 1))
        await c.cmd(b"STORE %d:%d %sFLAGS (\\Flagged)" % (
            a, min(a + 4, n), rnd.choice((b"+", b"-"))))
    elif kind == "search":
        await c.cmd(rnd.choice(SEARCHES))
    elif kind == "append":
        await c.cmd(b"APPEND INBOX (\\Seen)", append_message(rnd, k))


KINDS = (("select", 1), ("fetch_headers", 3), ("fetch_body", 3),
         ("store", 2), ("search", 1), ("append", 1))


async def mix_client(args, i, stop_at, stats, errors):
    rnd = random.Random(args.seed * 1000 + i)
    population = [k for k, w in KINDS for _ in range(w)]
    try:
        c = await connect(args, user_of(args, i))
        await c.cmd(b"SELECT INBOX")
    except (OSError, ImapError, asyncio.IncompleteReadError) as e:
        errors.append("client %d: %s" % (i, e))
        return
    k = 0
    while time.monotonic() < stop_at:
        kind = rnd.choice(population)
        t0 = time.monotonic()
        try:
            await op(c, kind, rnd, k)
        except (OSError, ImapError, asyncio.IncompleteReadError) as e:
            errors.append("client %d, %s: %s" % (i, kind, e))
            # a new connection, so that one error does not end the client
            try:
                c.w.close()
                c = await connect(args, user_of(args, i))
                await c.cmd(b"SELECT INBOX")
            except (OSError, ImapError, asyncio.IncompleteReadError) as e2:
                errors.append("client %d, reconnect: %s" % (i, e2))
                return
            continue
        s = stats[kind]
        s[0] += 1
        s[1] += time.monotonic() - t0
        s[2].append(time.monotonic() - t0)
        k += 1
    stats["_bytes"][0] += c.rx
    try:
        await asyncio.wait_for(c.cmd(b"LOGOUT"), 10)
    except (OSError, ImapError, asyncio.IncompleteReadError,
            asyncio.TimeoutError):
        pass
    c.w.close()


def latencies(times):
    """Median, 90th and 99th percentiles and worst of a kind's
    latencies, in ms (nearest rank); None without any."""
    out = {}
    t = sorted(times)
    for name, q in (("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99),
                    ("max_ms", 1.0)):
        out[name] = (round(1000 * t[max(0, math.ceil(q * len(t)) - 1)], 2)
                     if t else None)
    return out


async def run_mix(args):
    stats = {k: [0, 0.0, []] for k, _ in KINDS}
    stats["_bytes"] = [0, 0.0, []]
    errors = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    stop_at = t0 + args.secs
    await asyncio.gather(*(mix_client(args, i, stop_at, stats, errors)
                           for i in range(args.clients)))
    secs = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    ops = sum(stats[k][0] for k, _ in KINDS)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "mode": "mix", "port": args.port, "clients": args.clients,
        "users": args.users, "secs": round(secs, 2), "ops": ops,
        "ops_per_s": round(ops / secs, 1),
        "per_kind": {k: dict({"n": stats[k][0],
                              "per_s": round(stats[k][0] / secs, 1),
                              "ms": round(1000 * stats[k][1] / stats[k][0], 2)
                              if stats[k][0] else None},
                             **latencies(stats[k][2]))
                     for k, _ in KINDS},
        "rx_mib": round(stats["_bytes"][0] / 1048576.0, 1),
        "client_cpu_pct": round(100 * cpu / secs, 1),
        "errors": len(errors), "first_errors": errors[:5],
    }


# ------------------------------------------------------------------
# Logged-in IDLE connections

async def idle_one(args, i, conns, errors, sem):
    async with sem:
        try:
            c = await connect(args, user_of(args, i))
            await c.cmd(b"SELECT INBOX")
            c.n += 1
            c.w.write(b"a%d IDLE\r\n" % c.n)
            l = await asyncio.wait_for(c.line(), 60)
            if not l.startswith(b"+"):
                raise ImapError("IDLE: %r" % l[:100])
            conns.append(c)
        except (OSError, ImapError, asyncio.IncompleteReadError,
                asyncio.TimeoutError) as e:
            errors.append("conn %d: %s" % (i, e))


async def run_idle(args):
    conns, errors = [], []
    sem = asyncio.Semaphore(args.concurrency)
    # warm-up: a few sessions pay the one-time costs of each process
    warm = []
    await asyncio.gather(*(idle_one(args, i, warm, errors, sem)
                           for i in range(min(args.users, 8))))
    if errors:
        raise SystemExit("warm-up failed: %s" % errors[0])
    for c in warm:
        c.w.close()
    await asyncio.sleep(args.settle)
    before = tree_mem(args.pid)
    t0 = time.monotonic()
    await asyncio.gather(*(idle_one(args, i, conns, errors, sem)
                           for i in range(args.conns)))
    setup = time.monotonic() - t0
    await asyncio.sleep(args.hold)
    # whoever is still there: a read that would not block, and no EOF
    alive = [c for c in conns if not c.r.at_eof()]
    after = tree_mem(args.pid)
    for c in conns:
        c.w.close()
    n = max(len(alive), 1)
    return {
        "mode": "idle", "label": args.label, "port": args.port,
        "conns_wanted": args.conns, "conns_alive": len(alive),
        "users": args.users,
        "setup_secs": round(setup, 1),
        "logins_per_s": round(len(conns) / setup, 1) if setup else None,
        "procs_before": before["procs"], "procs_after": after["procs"],
        "pss_before_kib": before["pss_kib"], "pss_after_kib": after["pss_kib"],
        "pss_per_conn_kib": round(
            (after["pss_kib"] - before["pss_kib"]) / n, 2),
        "by_comm_after": after["by_comm"],
        "errors": len(errors), "first_errors": errors[:5],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("mix", "idle"), required=True)
    ap.add_argument("--user-prefix", default="bench")
    ap.add_argument("--users", type=int, default=1)
    ap.add_argument("--password", default="benchpass")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--pid", type=int, help="server's master (idle mode)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--hold", type=float, default=3)
    ap.add_argument("--settle", type=float, default=1)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if args.mode == "idle" and not args.pid:
        ap.error("--mode idle needs --pid")
    try:
        res = asyncio.run(run_mix(args) if args.mode == "mix"
                          else run_idle(args))
    except KeyboardInterrupt:
        sys.exit(130)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
