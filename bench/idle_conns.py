#!/usr/bin/python3
"""idle_conns.py - memory cost of idle connections to a server.

Opens --conns connections to 127.0.0.1:--port (plain, or implicit TLS
with --tls), reads each one's greeting line and checks it starts with
--expect, holds them all idle for --hold seconds, and measures the
memory of the server's process tree (root --pid: the master) before and
after: PSS summed over the master and every child, from
/proc/<pid>/smaps_rollup. A few warm-up connections are opened and
closed first, so that the "before" figure already holds what the first
connection of a process costs once (code pages, libraries, helper
processes started on demand).

Prints one JSON line; the figure to read is pss_per_conn_kib,
(PSS after - PSS before) / connections still open. Kernel memory
(socket buffers) is not in it: it is the same for every server.

Plain asyncio from Python's standard library (Debian's python3, nothing
from PyPI). Bounded by --timeout; every connection is closed before exit.
"""
import argparse
import asyncio
import json
import os
import resource
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procmem import tree_mem  # noqa: E402


class Idle(asyncio.Protocol):
    """One idle client: waits for the greeting, then only listens."""

    __slots__ = ("greeted", "buf", "transport", "lost", "extra", "lines")

    def __init__(self, greeted, lines=1):
        self.greeted = greeted
        self.lines = lines      # greeting, and the reply to --command
        self.buf = b""
        self.transport = None
        self.lost = False
        self.extra = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.greeted.done():
            # an idle client is sent nothing more (a BYE, a timeout...)
            if len(self.extra) < 200:
                self.extra += data
            return
        self.buf += data
        if self.buf.count(b"\n") >= self.lines:
            line, _, rest = self.buf.partition(b"\n")
            for _ in range(self.lines - 1):
                _, _, rest = rest.partition(b"\n")
            self.buf = b""
            self.extra = rest
            self.greeted.set_result(line.rstrip(b"\r"))
        elif len(self.buf) > 8192:
            self.greeted.set_exception(RuntimeError("greeting too long"))

    def connection_lost(self, exc):
        self.lost = True
        if not self.greeted.done():
            self.greeted.set_exception(
                ConnectionError("closed before the greeting (%s)" % exc))


async def open_one(loop, args, sslctx):
    greeted = loop.create_future()
    transport, proto = await loop.create_connection(
        lambda: Idle(greeted, 2 if args.command else 1), args.host,
        args.port, ssl=sslctx,
        server_hostname="localhost" if sslctx else None)
    if args.command:
        # pipelined: the server reads it after its greeting
        transport.write(args.command.encode() + b"\r\n")
    try:
        line = await asyncio.wait_for(greeted, args.greeting_timeout)
    except BaseException:
        transport.abort()
        raise
    if not line.startswith(args.expect.encode()):
        transport.abort()
        raise RuntimeError("unexpected greeting %r" % line[:100])
    return transport, proto


async def open_many(loop, args, sslctx, n):
    conns, errors = [], []
    sem = asyncio.Semaphore(args.concurrency)

    async def one():
        async with sem:
            try:
                conns.append(await asyncio.wait_for(
                    open_one(loop, args, sslctx), args.greeting_timeout))
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append("%s: %s" % (type(e).__name__, e))

    await asyncio.gather(*(one() for _ in range(n)))
    return conns, errors


def close_all(conns):
    for transport, _ in conns:
        transport.abort()


async def run(args):
    loop = asyncio.get_running_loop()
    sslctx = None
    if args.tls:
        sslctx = ssl.create_default_context()
        sslctx.check_hostname = False
        sslctx.verify_mode = ssl.CERT_NONE
        if args.tls_max == "1.2":
            sslctx.maximum_version = ssl.TLSVersion.TLSv1_2

    # warm-up: the first connections of each process pay one-time costs
    warm, werr = await open_many(loop, args, sslctx, args.warmup)
    if werr:
        raise SystemExit("warm-up failed: %s" % werr[0])
    close_all(warm)
    await asyncio.sleep(args.settle)

    before = tree_mem(args.pid)
    t0 = time.monotonic()
    conns, errors = await open_many(loop, args, sslctx, args.conns)
    setup = time.monotonic() - t0
    await asyncio.sleep(args.hold)
    alive = [c for c in conns if not c[1].lost]
    disturbed = [c for c in alive if c[1].extra]
    after = tree_mem(args.pid)
    tls_version = None
    if alive and args.tls:
        sslobj = alive[0][0].get_extra_info("ssl_object")
        tls_version = "%s %s" % (sslobj.version(), sslobj.cipher()[0])
    close_all(conns)
    await asyncio.sleep(args.settle)
    closed = tree_mem(args.pid)

    n = max(len(alive), 1)
    delta_pss = after["pss_kib"] - before["pss_kib"]
    return {
        "label": args.label,
        "tls": bool(args.tls),
        "tls_version": tls_version,
        "command": args.command,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "conns_wanted": args.conns,
        "conns_ok": len(conns),
        "conns_alive": len(alive),
        "conns_sent_more": len(disturbed),
        "sample_more": (disturbed[0][1].extra[:100].decode(errors="replace")
                        if disturbed else ""),
        "errors": len(errors),
        "first_errors": errors[:3],
        "setup_secs": round(setup, 3),
        "conns_per_sec": round(len(conns) / setup, 1) if setup > 0 else None,
        "hold_secs": args.hold,
        "procs_before": before["procs"],
        "procs_after": after["procs"],
        "pss_before_kib": before["pss_kib"],
        "pss_after_kib": after["pss_kib"],
        "pss_after_close_kib": closed["pss_kib"],
        "pss_per_conn_kib": round(delta_pss / n, 2),
        "rss_per_conn_kib": round(
            (after["rss_kib"] - before["rss_kib"]) / n, 2),
        "private_per_conn_kib": round(
            (after["private_kib"] - before["private_kib"]) / n, 2),
        "by_comm_after": after["by_comm"],
        "per_proc_after": after.get("per_proc"),
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True,
                    help="the server's master pid (root of the tree)")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--tls", action="store_true", help="implicit TLS")
    ap.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3")
    ap.add_argument("--expect", default="",
                    help="prefix the greeting must start with")
    ap.add_argument("--command", default="",
                    help="one command line sent after connecting (its "
                    "one-line reply is awaited) before going idle")
    ap.add_argument("--label", default="")
    ap.add_argument("--concurrency", type=int, default=100,
                    help="connections being opened at once")
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds between the warm-up and the baseline")
    ap.add_argument("--hold", type=float, default=3.0,
                    help="seconds the connections stay idle before the "
                    "measurement")
    ap.add_argument("--greeting-timeout", type=float, default=60.0)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < args.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < args.conns + 64:
        sys.exit("open files limited to %d: too low for %d connections"
                 % (soft, args.conns))
    res = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
