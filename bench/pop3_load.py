#!/usr/bin/python3
"""pop3_load.py - closed-loop POP3 load: logins per second, or RETR
throughput.

    pop3_load.py --port P --mode retr|login [--clients 20] [--secs 10]
                 [--user-fmt bench%d] [--password benchpass]

Client i always uses user i+1, so sessions never meet on a maildrop lock.
Each client repeats, until the time is up:
    retr:  connect, USER, PASS, STAT, RETR every message, QUIT
    login: connect, USER, PASS, STAT, QUIT
Nothing is deleted, so the mailboxes stay as they are from run to run.
One session per user runs before the clock starts (servers build their
indexes and set \\Seen on the first RETR); --warmup-only runs just that,
--no-warmup skips it. Prints one JSON line:
sessions/s, RETR/s, MiB/s (message bytes as sent, stuffing included), and
the client's own CPU use (near 100% of a core: the client is the limit).
"""
import argparse
import asyncio
import json
import resource
import time


class Pop3Error(Exception):
    pass


async def cmd(reader, writer, line):
    writer.write(line + b"\r\n")
    resp = await reader.readline()
    if not resp.startswith(b"+OK"):
        raise Pop3Error("%r -> %r" % (line[:20], resp))
    return resp


async def session(args, user, retr):
    reader, writer = await asyncio.open_connection(args.host, args.port,
                                                   limit=1 << 24)
    count = nbytes = 0
    try:
        greeting = await reader.readline()
        if not greeting.startswith(b"+OK"):
            raise Pop3Error("greeting %r" % greeting)
        await cmd(reader, writer, b"USER " + user.encode())
        await cmd(reader, writer, b"PASS " + args.password.encode())
        count = int((await cmd(reader, writer, b"STAT")).split()[1])
        if retr:
            for i in range(1, count + 1):
                await cmd(reader, writer, b"RETR %d" % i)
                nbytes += len(await reader.readuntil(b"\r\n.\r\n"))
        else:
            count = 0
        await cmd(reader, writer, b"QUIT")
    finally:
        writer.close()
    return count, nbytes


async def run(args):
    users = [args.user_fmt % (i + 1) for i in range(args.clients)]
    retr = args.mode == "retr"
    if not args.no_warmup:
        await asyncio.gather(*(session(args, u, True) for u in users))
    if args.warmup_only:
        return {"mode": "warmup", "clients": args.clients}
    stats = {"sessions": 0, "retr": 0, "bytes": 0, "errors": 0}
    first_errors = []
    deadline = time.monotonic() + args.secs

    async def client(user):
        while time.monotonic() < deadline:
            try:
                n, b = await session(args, user, retr)
                stats["sessions"] += 1
                stats["retr"] += n
                stats["bytes"] += b
            except Exception as e:  # noqa: BLE001 - counted and shown
                stats["errors"] += 1
                if len(first_errors) < 3:
                    first_errors.append(str(e))
                await asyncio.sleep(0.1)

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.gather(*(client(u) for u in users))
    elapsed = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "mode": args.mode,
        "clients": args.clients,
        "secs": round(elapsed, 2),
        "sessions": stats["sessions"],
        "errors": stats["errors"],
        "first_errors": first_errors,
        "sessions_per_s": round(stats["sessions"] / elapsed, 1),
        "retr_per_s": round(stats["retr"] / elapsed, 1),
        "mib_per_s": round(stats["bytes"] / elapsed / 1048576, 1),
        "client_cpu_pct": round(100 * cpu / elapsed, 1),
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("retr", "login"), default="retr")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--user-fmt", default="bench%d")
    ap.add_argument("--password", default="benchpass")
    ap.add_argument("--warmup-only", action="store_true",
                    help="only the untimed session per user")
    ap.add_argument("--no-warmup", action="store_true",
                    help="start the clock at once")
    print(json.dumps(asyncio.run(run(ap.parse_args()))))


if __name__ == "__main__":
    main()
